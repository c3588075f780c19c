// The live desk (/staff/live): the queue and left messages from the desk's event stream,
// one conversation at a time, reply / insert a cited answer / transfer / end.
// Every server text goes into the page as a text node: nothing is parsed as HTML.
(function () {
  "use strict";
  const root = document.getElementById("live-desk");
  if (!root) return;
  const config = JSON.parse(root.getAttribute("data-config"));
  const t = config.texts;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const $ = (id) => document.getElementById(id);
  let current = null;          // the sender id on screen
  let currentHandoff = null;
  let shown = new Set();       // message keys on screen: a message arrives once
  let inserted = [];           // sources of the inserted answer
  let snapshot = { queue: [], left: [] };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => { if (v !== undefined && v !== null) node.setAttribute(k, v); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function status(text) {
    const box = $("live-status");
    box.textContent = text || "";
    box.hidden = !text;
  }

  async function call(path, body) {
    const response = await fetch(path, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? {} : { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try { data = await response.json(); } catch (error) { data = null; }
    if (!response.ok) throw new Error((data && data.message) || String(response.status));
    return data;
  }

  function waited(seconds) {
    return t.waiting.replace("{minutes}", Math.floor(seconds / 60)).replace("{seconds}", seconds % 60);
  }

  function renderQueue() {
    const list = $("live-queue-list");
    list.replaceChildren();
    if (!snapshot.queue.length) list.appendChild(el("li", { class: "muted" }, t.empty_queue));
    const now = Date.now() / 1000;
    snapshot.queue.forEach((item) => {
      const li = el("li", { "data-sender-id": item.sender_id, "data-state": item.state,
        "data-staff": item.staff || undefined, class: item.sender_id === current ? "current" : undefined });
      li.appendChild(el("div", { class: "live-id" }, item.shown.slice(0, 24)));  // a WeChat id masked
      li.appendChild(el("div", { class: "muted" },
        item.state === "claimed" ? t.held_by.replace("{staff}", item.staff) : t.queued));
      li.appendChild(el("div", { class: "muted live-wait", "data-requested-at": item.requested_at },
        waited(Math.max(0, Math.floor(now - item.requested_at)))));
      if (item.state === "queued" && config.canEdit) {
        const claim = el("button", { type: "button", class: "live-claim" }, t.claim);
        claim.addEventListener("click", () => act("claim", { sender_id: item.sender_id }, item.sender_id));
        li.appendChild(claim);
      }
      const open = el("button", { type: "button", class: "live-open" }, t.open);
      open.addEventListener("click", () => openConversation(item.sender_id));
      li.appendChild(open);
      list.appendChild(li);
    });
    const left = $("live-left-list");
    left.replaceChildren();
    if (!snapshot.left.length) left.appendChild(el("li", { class: "muted" }, t.no_left));
    snapshot.left.forEach((item) => {
      const li = el("li", { "data-left-id": item.id, "data-sender-id": item.sender_id });
      li.appendChild(el("div", { class: "muted" }, item.time + (item.out_of_hours ? " · " + t.out_of_hours : "")));
      li.appendChild(el("div", { class: "live-left-contact" }, t.contact + "：" + item.contact));
      li.appendChild(el("div", { class: "live-left-text" }, item.text));
      if (config.canEdit) {
        const done = el("button", { type: "button" }, t.done);
        done.addEventListener("click", () => act("left-done", { id: item.id }));
        li.appendChild(done);
      }
      left.appendChild(li);
    });
  }

  function messageKey(bubble) {
    return [bubble.role, bubble.timestamp, bubble.text].join("|");
  }

  function showMessage(bubble) {
    const key = messageKey(bubble);
    if (shown.has(key)) return;
    shown.add(key);
    const box = $("live-messages");
    const who = bubble.role === "user" ? t.candidate : bubble.staff ? t.staff_prefix + " " + bubble.staff : t.assistant;
    const row = el("div", { class: "live-msg", "data-role": bubble.role, "data-staff": bubble.staff || undefined });
    row.appendChild(el("span", { class: "who" }, who));
    const custom = bubble.custom || {};
    row.appendChild(el("span", { class: "text" }, custom.answer && (custom.sources || []).length ? custom.answer : bubble.text));
    (custom.sources || []).forEach((source) => {
      row.appendChild(el("span", { class: "src" }, t.sources_label + "：" +
        [source.title, source.issuer, source.date].filter(Boolean).join(" · ")));
    });
    if (bubble.delivery === "next_message" || bubble.delivery === "sent") {  // a WeChat candidate
      row.appendChild(el("span", { class: "delivery", "data-delivery": bubble.delivery },
        bubble.delivery === "sent" ? t.delivered_wechat : t.waits_for_candidate));
    }
    box.appendChild(row);
    box.scrollTop = box.scrollHeight;
  }

  function showActions() {
    const mine = currentHandoff && currentHandoff.state === "claimed" && currentHandoff.staff === config.me;
    $("live-actions").hidden = !(mine && config.canEdit);
  }

  async function openConversation(senderId) {
    current = senderId;
    shown = new Set();
    $("live-current").textContent = "";
    const box = $("live-messages");
    box.replaceChildren();
    try {
      const data = await call("/staff/api/live/conversation?sender_id=" + encodeURIComponent(senderId));
      if (current !== senderId) return;
      currentHandoff = data.handoff;
      $("live-current").textContent = data.shown;   // a WeChat id masked, never in full
      data.messages.forEach(showMessage);
      box.setAttribute("data-loaded", senderId);
    } catch (error) {
      status(t.failed.replace("{reason}", error.message));
    }
    showActions();
    renderQueue();
  }

  async function act(name, body, openAfter) {
    try {
      const data = await call("/staff/api/live/" + name, body);
      status("");
      if (data && data.handoff && data.handoff.sender_id === current) currentHandoff = data.handoff;
      if (openAfter) await openConversation(openAfter);
      showActions();
      return data;
    } catch (error) {
      status(t.failed.replace("{reason}", error.message));
      return null;
    }
  }

  $("live-send").addEventListener("click", async () => {
    const text = $("live-reply").value.trim();
    if (!text || !current) return;
    const data = await act("reply", { sender_id: current, text, sources: inserted });
    if (data && data.bubble) {
      showMessage(data.bubble);
      $("live-reply").value = "";
      inserted = [];
      $("live-inserted").textContent = "";
    }
  });
  $("live-transfer").addEventListener("click", async () => {
    const to = $("live-transfer-to").value.trim();
    if (to && current) await act("transfer", { sender_id: current, to }, current);
  });
  $("live-end").addEventListener("click", async () => {
    if (current) await act("end", { sender_id: current }, current);
  });

  $("live-search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = $("live-search-q").value.trim();
    if (!query) return;
    const list = $("live-hits");
    list.replaceChildren();
    try {
      const data = await call("/staff/api/search?q=" + encodeURIComponent(query));
      data.hits.forEach((hit) => {
        const li = el("li", { "data-hit-id": hit.id, "data-kind": hit.kind });
        const text = hit.answer || hit.matched_text;
        li.appendChild(el("div", { class: "live-hit-text" }, text));
        const sources = (hit.citations || []).slice(0, 3).map((c) => ({
          title: c.title, issuer: c.issuer, date: c.published || "", region: hit.region || "",
          passage_id: c.passage_id, url: c.source_url || "" }));
        sources.forEach((s) => li.appendChild(el("div", { class: "muted" }, t.sources_label + "：" + s.title)));
        const insert = el("button", { type: "button", class: "live-insert" }, t.insert);
        insert.addEventListener("click", () => {
          $("live-reply").value = text;
          inserted = sources;
          $("live-inserted").textContent = sources.map((s) => t.sources_label + "：" + s.title).join("\n");
        });
        li.appendChild(insert);
        list.appendChild(li);
      });
    } catch (error) {
      status(t.failed.replace("{reason}", error.message));
    }
  });

  let refused = false;
  function connect() {
    const source = new EventSource("/staff/api/live/stream");
    source.addEventListener("queue", (event) => {
      if (refused) {  // accepted again after a refusal
        refused = false;
        status("");
        root.setAttribute("data-connected", "true");
      }
      snapshot = JSON.parse(event.data);
      const mine = snapshot.queue.find((item) => item.sender_id === current);
      if (current) {
        const was = currentHandoff ? currentHandoff.state + currentHandoff.staff : "";
        currentHandoff = mine || (currentHandoff ? { ...currentHandoff, state: "ended" } : null);
        if (was !== (currentHandoff ? currentHandoff.state + currentHandoff.staff : "")) showActions();
      }
      renderQueue();
    });
    source.addEventListener("message", (event) => {
      const data = JSON.parse(event.data);
      if (data.sender_id === current && data.bubble) showMessage(data.bubble);
    });
    source.addEventListener("refused", (event) => {
      refused = true;  // too many desks open: the server closes this one and says why
      status(JSON.parse(event.data).message);
    });
    source.addEventListener("open", () => {
      if (refused) return;
      status("");
      root.setAttribute("data-connected", "true");
      if (current) openConversation(current);  // catch up on what the break missed
    });
    source.addEventListener("error", () => {
      root.setAttribute("data-connected", "false");
      if (!refused) status(t.disconnected);
    });
  }

  if (!config.canEdit) status(t.viewer_note);
  connect();
  setInterval(() => {
    const now = Date.now() / 1000;
    document.querySelectorAll(".live-wait").forEach((node) => {
      node.textContent = waited(Math.max(0, Math.floor(now - Number(node.getAttribute("data-requested-at")))));
    });
  }, 1000);
})();
