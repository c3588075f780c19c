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
/* Annotate: the new entry's answer as it will be, from the ticked passages (newest document first). */
(function () {
  "use strict";
  var preview = document.getElementById("answer-preview");
  if (!preview) return;
  var empty = preview.textContent;
  function update() {
    var boxes = Array.prototype.slice.call(document.querySelectorAll('input[name="passage"]:checked'));
    boxes.sort(function (a, b) {
      var byDate = (b.getAttribute("data-published") || "").localeCompare(a.getAttribute("data-published") || "");
      return byDate || Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
    });
    var seen = {};
    var parts = boxes.filter(function (box) { return !seen[box.value] && (seen[box.value] = true); })
      .map(function (box) { return box.getAttribute("data-text"); });
    preview.textContent = parts.length ? parts.join("\n") : empty;
  }
  document.addEventListener("change", function (event) {
    if (event.target && event.target.name === "passage") update();
  });
  update();
})();
/* Publish: the stages and progress of a running publish, polled until it ends. */
(function () {
  "use strict";
  var section = document.getElementById("publish-status");
  if (!section || !section.getAttribute("data-running")) return;
  var url = section.getAttribute("data-status-url");
  var labels = JSON.parse(section.getAttribute("data-stage-states") || "{}");
  var secondsText = JSON.parse(section.getAttribute("data-seconds") || '""');
  var id = section.getAttribute("data-publish-id");
  function show(publish) {
    document.getElementById("publish-progress").value = publish.progress;
    document.getElementById("publish-percent").textContent = publish.progress + "%";
    publish.stages.forEach(function (stage) {
      var row = section.querySelector('[data-stage="' + stage.name + '"]');
      if (!row) return;
      row.setAttribute("data-state", stage.state);
      row.className = "stage stage-" + stage.state;
      var progress = stage.state === "running" && stage.total ? " " + stage.done + "/" + stage.total : "";
      row.querySelector(".stage-state").textContent = (labels[stage.state] || stage.state) + progress;
      row.querySelector(".stage-seconds").textContent =
        stage.seconds === null ? "" : secondsText.replace("{seconds}", stage.seconds);
      row.querySelector(".stage-detail").textContent = stage.detail;
    });
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (body) {
        var publish = body.publish;
        if (!publish) return;
        if (publish.id !== id || !publish.running) { window.location.reload(); return; }
        show(publish);
        setTimeout(poll, 1500);
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
