/* One-line embed of the certificate FAQ chat:
 *   <script src="http://127.0.0.1:8000/embed.js"></script>
 * adds a floating button that opens the chat page (same origin as this script) in an
 * iframe panel. Styles are set through the CSSOM so a host page's CSP that forbids
 * inline <style> does not break it. Texts come from data/web/ui.yml (server fills them in). */
(function () {
  "use strict";
  if (window.__certificateFaqEmbedLoaded) return;
  window.__certificateFaqEmbedLoaded = true;
  var TEXTS = __EMBED_TEXTS__;
  var script = document.currentScript;
  var origin = script && script.src ? new URL(script.src, window.location.href).origin : window.location.origin;

  function styled(tag, styles, attributes) {
    var element = document.createElement(tag);
    Object.keys(styles).forEach(function (name) { element.style[name] = styles[name]; });
    Object.keys(attributes || {}).forEach(function (name) { element.setAttribute(name, attributes[name]); });
    return element;
  }

  function mount() {
    var button = styled("button", {
      position: "fixed", right: "20px", bottom: "20px", zIndex: "2147483000", height: "52px",
      padding: "0 18px 0 14px", border: "none", borderRadius: "26px", background: "#07C160", color: "#fff",
      font: "600 15px/52px -apple-system, 'PingFang SC', 'Microsoft YaHei', sans-serif", cursor: "pointer",
      boxShadow: "0 4px 14px rgba(0,0,0,.2)", display: "flex", alignItems: "center", gap: "8px"
    }, { type: "button", "aria-expanded": "false", "data-faq-embed": "button" });
    var bubble = styled("span", { fontSize: "20px", lineHeight: "1" }, { "aria-hidden": "true" });
    bubble.textContent = "\uD83D\uDCAC";
    var label = document.createElement("span");
    label.textContent = TEXTS.button_label;
    button.appendChild(bubble);
    button.appendChild(label);

    var panel = styled("div", {
      position: "fixed", right: "20px", bottom: "84px", zIndex: "2147483000", width: "380px",
      maxWidth: "calc(100vw - 24px)", height: "620px", maxHeight: "calc(100dvh - 110px)", background: "#EDEDED",
      borderRadius: "12px", overflow: "hidden", boxShadow: "0 8px 30px rgba(0,0,0,.25)", display: "none",
      flexDirection: "column"
    }, { role: "dialog", "aria-label": TEXTS.panel_title, "data-faq-embed": "panel" });
    var bar = styled("div", {
      display: "flex", alignItems: "center", justifyContent: "space-between", padding: "0 8px 0 14px",
      height: "40px", background: "#07C160", color: "#fff", font: "600 14px/40px -apple-system, 'PingFang SC', 'Microsoft YaHei', sans-serif"
    });
    var title = document.createElement("span");
    title.textContent = TEXTS.panel_title;
    var close = styled("button", {
      border: "none", background: "transparent", color: "#fff", fontSize: "22px", cursor: "pointer", lineHeight: "1"
    }, { type: "button", "aria-label": TEXTS.close_label, title: TEXTS.close_label });
    close.textContent = "\u00D7";
    bar.appendChild(title);
    bar.appendChild(close);
    var frame = null;
    panel.appendChild(bar);

    function setOpen(open) {
      if (open && !frame) {
        frame = styled("iframe", { flex: "1", width: "100%", border: "0", background: "#EDEDED" },
          { src: origin + "/?embed=1", title: TEXTS.panel_title, "data-faq-embed": "frame" });
        panel.appendChild(frame);
      }
      panel.style.display = open ? "flex" : "none";
      button.setAttribute("aria-expanded", open ? "true" : "false");
    }
    button.addEventListener("click", function () { setOpen(panel.style.display === "none"); });
    close.addEventListener("click", function () { setOpen(false); button.focus(); });
    document.addEventListener("keydown", function (event) { if (event.key === "Escape") setOpen(false); });
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
