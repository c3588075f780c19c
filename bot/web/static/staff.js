/* Staff console: the copy-answer buttons (no inline scripts: CSP script-src 'self'). */
(function () {
  "use strict";
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
    return Promise.resolve();
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.copy-answer");
    if (!button) return;
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) return;
    var original = button.textContent;
    copyText(target.textContent).then(function () {
      button.textContent = button.getAttribute("data-copied-label") || original;
      button.classList.add("copied");
      setTimeout(function () { button.textContent = original; button.classList.remove("copied"); }, 1500);
    });
  });
})();
