// Live updates and small conveniences. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  const body = document.body;
  const csrf = body.dataset.csrf;
  // How often to ask (web/live.py Pace), handed on by the layout on every page.
  const pace = {gather: Number(body.dataset.gatherMs), beat: Number(body.dataset.beatMs),
                retry: Number(body.dataset.retryMs)};

  // Every HTMX request carries the session's CSRF token.
  document.addEventListener("htmx:configRequest", function (e) {
    if (csrf) e.detail.headers["X-CSRF-Token"] = csrf;
  });

  // Auto-submitting selects (team filter) and template pickers that fill the reply box.
  document.addEventListener("change", function (e) {
    const el = e.target;
    if (el.matches("select[data-autosubmit]")) el.form.requestSubmit();
    if (el.matches("select[data-fill]")) {
      const box = document.querySelector(el.dataset.fill);
      const opt = el.selectedOptions[0];
      if (box && opt && opt.dataset.text !== undefined) box.value = opt.dataset.text;
    }
  });

  // Keyboard: j/k move through the inbox, Enter opens; on a case, c claims, r replies,
  // e resolves, u goes back to the inbox. Never while typing. The cursor is a case, not a
  // position: a live update that replaces, adds or removes rows keeps it on the same case.
  let chosen = null;  // data-case of the selected row
  function markChosen() {
    document.querySelectorAll("tr.case-row").forEach(function (r) {
      r.classList.toggle("selected", r.dataset.case === chosen);
    });
  }
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t.closest && t.closest("input, textarea, select, [contenteditable]")) return;
    const rows = Array.from(document.querySelectorAll("tr.case-row"));
    const click = function (sel) { const el = document.querySelector(sel); if (el) el.click(); };
    if ((e.key === "j" || e.key === "k") && rows.length) {
      const at = rows.findIndex(function (r) { return r.dataset.case === chosen; });
      const next = at < 0 ? 0 : Math.max(0, Math.min(rows.length - 1, at + (e.key === "j" ? 1 : -1)));
      chosen = rows[next].dataset.case;
      markChosen();
      rows[next].scrollIntoView({block: "nearest"});
    } else if (e.key === "Enter" && chosen) {
      click("tr.case-row.selected td.title a");
    } else if (e.key === "c") { click("#claim");
    } else if (e.key === "r") {
      const box = document.getElementById("reply-text");
      if (box) { e.preventDefault(); box.focus(); }
    } else if (e.key === "e") { click("form[action$='/resolve'] button");
    } else if (e.key === "u") { window.location.href = "/inbox"; }
  });

  // Presence on a case: a heartbeat (every 5 s: pace.beat) says this member views it, or types
  // a reply (a key in the reply box within the last 5 s); the answer names who else is here.
  const presence = document.getElementById("presence");
  if (presence && window.fetch) {
    let typedAt = 0;
    document.addEventListener("input", function (e) {
      if (e.target && e.target.id === "reply-text") { const was = typedAt; typedAt = Date.now(); if (Date.now() - was > 5000) beat(); }
    });
    const beat = function () {
      const el = document.getElementById("presence");
      if (!el) return;
      const state = Date.now() - typedAt < 5000 ? "typing" : "viewing";
      fetch("/cases/" + el.dataset.case + "/presence", {
        method: "POST", credentials: "same-origin",
        headers: {"X-CSRF-Token": csrf || "", "Accept": "application/json",
                  "Content-Type": "application/x-www-form-urlencoded"},
        body: "state=" + state
      }).then(function (r) {
        // 503: the shared presence store is down (scale-out mode); say so, keep beating
        return r.ok || r.status === 503 ? r.json().then(function (d) { d.ok = r.ok; return d; }) : null;
      }).then(function (data) {
        const now = document.getElementById("presence");
        if (!data || !now) return;
        now.classList.toggle("hint", !data.ok);
        if (!data.ok) { now.textContent = data.detail || ""; return; }
        now.textContent = data.others.map(function (o) {
          return o.member + (o.state === "typing" ? " is typing a reply" : " is viewing");
        }).join(" · ");
        now.classList.toggle("busy", data.others.some(function (o) { return o.state === "typing"; }));
      }).catch(function () {});
    };
    beat();
    setInterval(beat, pace.beat);
    window.addEventListener("pagehide", function () {
      const el = document.getElementById("presence");
      if (el && navigator.sendBeacon) {
        const f = new FormData();
        f.append("state", "gone");
        f.append("csrf", csrf || "");
        navigator.sendBeacon("/cases/" + el.dataset.case + "/presence", f);
      }
    });
  }

  // The live stream: which cases changed; re-fetch the fragments this page shows.
  if (!("liveAfter" in body.dataset) || typeof EventSource === "undefined") return;
  const status = document.getElementById("live-status");
  let timer = null;
  let pending = new Map();  // case id -> the latest change named for it

  // Live refreshes are fetched here and swapped with htmx.swap, each kind through its own small
  // queue: one request in flight, and whatever changes while it is out are gathered and sent
  // when it comes back. (htmx.ajax put every request on one queue on <body> that keeps only
  // the last request waiting behind the one in flight, so a row refresh naming other cases,
  // or the panel's refresh, could be dropped and a change never shown.)
  // A refresh that fails (server away, session ended) is asked again later, waiting longer
  // each time (3 s, pace.retry, doubling to a minute), never in a tight loop.
  function backoff(q) {
    q.wait = Math.min(60000, q.wait ? q.wait * 2 : pace.retry);
    return q.wait;
  }
  function fetchFragment(url) {
    // HX-Request: an ended session answers 401 instead of redirecting to the login page
    return fetch(url, {credentials: "same-origin", headers: {"HX-Request": "true"}})
      .then(function (r) {
        if (!r.ok || r.redirected) throw new Error("live refresh: " + r.status);
        return r.text();
      });
  }

  // The inbox asks only for the rows that changed (routes_inbox: out-of-band swaps replace,
  // add or delete them); a burst larger than the server takes re-reads the page. Events that
  // change nothing a row shows (a note, a tag, a follow-up step) ask for nothing.
  const UNSEEN = new Set(["note_added", "tags_changed", "flags_changed", "crm_linked",
    "sla_warning", "followup_scheduled", "followup_sent", "followup_invited",
    "followup_cancelled", "followup_answered", "send_failed", "approval_edited"]);
  const rowsQueue = {ids: new Set(), page: false, busy: false, wait: 0, retry: null};
  function refreshRows(rows, changed) {
    const team = rows.dataset.team || "all";
    changed.forEach(function (c) {
      if (c.kinds && c.kinds.every(function (k) { return UNSEEN.has(k); })) return;
      if (document.getElementById("row-" + c.case) || team === "all" || !c.team ||
          c.team === team) rowsQueue.ids.add(c.case);
    });
    sendRows();
  }
  function sendRows() {
    const rows = document.getElementById("rows");
    if (rowsQueue.busy || rowsQueue.retry || !rows ||
        (!rowsQueue.page && !rowsQueue.ids.size)) return;
    const ids = Array.from(rowsQueue.ids);
    const page = rowsQueue.page;
    rowsQueue.ids = new Set();
    rowsQueue.page = false;
    // what the page shows is read now, after every earlier answer was applied
    const shown = ids.filter(function (id) { return document.getElementById("row-" + id); });
    const whole = page || ids.length > 200 || shown.length < ids.length;
    // A case entering the view (or a burst): re-read the page; else only the changed rows.
    const url = whole ? rows.dataset.rowsUrl
      : rows.dataset.rowsUrl + "&ids=" + ids.join(",") + "&shown=" + shown.join(",");
    rowsQueue.busy = true;
    fetchFragment(url).then(function (html) {
      htmx.swap("#rows", html, {swapStyle: whole ? "innerHTML" : "none"});
      markChosen();  // a replaced row comes without the cursor's mark
      rowsQueue.wait = 0;
    }).catch(function () {
      // not applied: these cases are asked for again, with whatever changes meanwhile
      if (whole) rowsQueue.page = true;
      ids.forEach(function (id) { rowsQueue.ids.add(id); });
      rowsQueue.retry = setTimeout(function () { rowsQueue.retry = null; sendRows(); },
                                   backoff(rowsQueue));
    }).finally(function () {
      rowsQueue.busy = false;
      sendRows();
    });
  }

  // The case panel. The member's own actions (claim, reply, resolve: htmx requests that swap
  // #case) win over live refreshes: a refresh answered while an action is out, or after one
  // started, is dropped and asked again once the action is done. Swapped in, it replaced the
  // #case the action's answer was aimed at, so that answer ("Reply recorded") landed nowhere,
  // or its older view overwrote the action's newer one. (It is still sent during an action:
  // one request, and the panel is current the moment the action is answered.)
  const panelQueue = {dirty: false, busy: false, epoch: 0, actions: new Set(), wait: 0,
                      retry: null};
  function acting() {
    panelQueue.actions.forEach(function (xhr) {  // 0 after an abort, 4 once answered
      if (xhr.readyState === 0 || xhr.readyState === 4) panelQueue.actions.delete(xhr);
    });
    return panelQueue.actions.size > 0;
  }
  function isPanelAction(d) {
    return d && d.target && d.target.id === "case" && d.xhr;
  }
  body.addEventListener("htmx:beforeRequest", function (e) {
    if (!isPanelAction(e.detail)) return;
    panelQueue.actions.add(e.detail.xhr);
    panelQueue.epoch += 1;
  });
  body.addEventListener("htmx:afterRequest", function (e) {
    if (!isPanelAction(e.detail)) return;
    panelQueue.actions.delete(e.detail.xhr);
    if (panelQueue.dirty) refreshPanel();
  });

  // The outcome of the member's last action ("Reply recorded", a refusal) is shown once; a
  // live refresh of the panel must not wipe it away, so it is carried into the fresh panel
  // when that has no outcome of its own. So is a reply being written (and its template): the
  // panel is refreshed once the member leaves the box, which must not throw their words away.
  function swapPanel(html) {
    const old = document.getElementById("case");
    if (!old) return;
    const outcome = Array.from(old.querySelectorAll(".flash.ok, .flash.error"))
      .map(function (f) { return f.outerHTML; });
    const box = document.getElementById("reply-text");
    const written = box && box.value !== box.defaultValue ? box.value : null;
    const picker = document.getElementById("template");
    const picked = picker ? picker.value : null;
    htmx.swap(old, html, {swapStyle: "outerHTML"});
    const fresh = document.getElementById("case");
    const freshBox = document.getElementById("reply-text");
    if (written !== null && freshBox) {
      const freshPicker = document.getElementById("template");
      if (freshPicker && picked !== null) freshPicker.value = picked;
      freshBox.value = written;
    }
    const head = fresh && fresh.querySelector(".case-head");
    if (!outcome.length || !head || fresh.querySelector(".flash.ok, .flash.error")) return;
    outcome.forEach(function (h) { head.insertAdjacentHTML("beforeend", h); });
  }

  function refreshPanel() {
    const panel = document.getElementById("case");
    if (!panel) return;
    panelQueue.dirty = true;
    // Keep a half-written reply: not while the member types one (done when they leave the box).
    const box = document.getElementById("reply-text");
    if (panelQueue.busy || panelQueue.retry || (box && document.activeElement === box)) return;
    panelQueue.dirty = false;
    panelQueue.busy = true;
    const epoch = panelQueue.epoch;
    fetchFragment(panel.dataset.panelUrl).then(function (html) {
      panelQueue.wait = 0;
      if (acting() || epoch !== panelQueue.epoch) panelQueue.dirty = true;  // stale: ask again
      else swapPanel(html);
    }).catch(function () {
      panelQueue.dirty = true;
      panelQueue.retry = setTimeout(function () { panelQueue.retry = null; refreshPanel(); },
                                    backoff(panelQueue));
    }).finally(function () {
      panelQueue.busy = false;
      if (panelQueue.dirty && !acting()) refreshPanel();
    });
  }
  document.addEventListener("focusout", function (e) {
    if (e.target && e.target.id === "reply-text" && panelQueue.dirty) {
      setTimeout(function () { if (panelQueue.dirty) refreshPanel(); }, 0);
    }
  });

  function refresh() {
    timer = null;
    const changed = pending;
    pending = new Map();
    const rows = document.getElementById("rows");
    if (rows && window.htmx) refreshRows(rows, Array.from(changed.values()));
    const panel = document.getElementById("case");
    if (panel && changed.has(panel.dataset.case) && window.htmx) refreshPanel();
    document.dispatchEvent(new CustomEvent("ev:changes", {detail: Array.from(changed.keys())}));
  }

  const source = new EventSource("/live?after=" + encodeURIComponent(body.dataset.liveAfter));
  source.addEventListener("changes", function (e) {
    JSON.parse(e.data).forEach(function (c) {
      const had = pending.get(c.case);
      c.kinds = (had ? had.kinds : []).concat([c.kind]);
      pending.set(c.case, c);
    });
    // Coalesce a second of changes (pace.gather) into one request.
    if (!timer) timer = setTimeout(refresh, pace.gather);
  });
  source.addEventListener("bell", function (e) {
    document.dispatchEvent(new CustomEvent("ev:bell", {detail: JSON.parse(e.data)}));
  });
  source.addEventListener("open", function () {
    if (status) { status.classList.add("on"); status.title = "live updates on"; }
    body.dataset.live = "on";
  });
  source.addEventListener("error", function () {
    if (status) { status.classList.remove("on"); status.title = "reconnecting…"; }
    body.dataset.live = "off";
  });
})();
