// Live updates and small conveniences. No inline scripts anywhere (the CSP forbids them).
(function () {
  "use strict";
  const body = document.body;
  const csrf = body.dataset.csrf;

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
  // e resolves, u goes back to the inbox. Never while typing.
  let cursor = -1;
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t.closest && t.closest("input, textarea, select, [contenteditable]")) return;
    const rows = Array.from(document.querySelectorAll("tr.case-row"));
    const click = function (sel) { const el = document.querySelector(sel); if (el) el.click(); };
    if ((e.key === "j" || e.key === "k") && rows.length) {
      cursor = Math.max(0, Math.min(rows.length - 1, cursor + (e.key === "j" ? 1 : -1)));
      rows.forEach(function (r, i) { r.classList.toggle("selected", i === cursor); });
      rows[cursor].scrollIntoView({block: "nearest"});
    } else if (e.key === "Enter" && rows[cursor]) {
      click("tr.case-row.selected td.title a");
    } else if (e.key === "c") { click("#claim");
    } else if (e.key === "r") {
      const box = document.getElementById("reply-text");
      if (box) { e.preventDefault(); box.focus(); }
    } else if (e.key === "e") { click("form[action$='/resolve'] button");
    } else if (e.key === "u") { window.location.href = "/inbox"; }
  });

  // Presence on a case: a heartbeat every 5 s says this member views it, or types a reply
  // (a key in the reply box within the last 5 s); the answer names who else is here.
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
    setInterval(beat, 5000);
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

  // The outcome of the member's last action ("Reply recorded", a refusal) is shown once; a
  // live refresh of the panel (the only GET that swaps #case) must not wipe it away. It is
  // read from the panel at swap time, so a refresh that started before the action's answer
  // arrived keeps it too.
  let outcome = [];
  body.addEventListener("htmx:beforeSwap", function (e) {
    const d = e.detail;
    if (d.target && d.target.id === "case" && d.requestConfig && d.requestConfig.verb === "get") {
      outcome = Array.from(d.target.querySelectorAll(".flash.ok, .flash.error"))
        .map(function (f) { return f.outerHTML; });
    }
  });
  body.addEventListener("htmx:afterSwap", function () {
    if (!outcome.length) return;
    const kept = outcome;
    outcome = [];
    const fresh = document.getElementById("case");
    const head = fresh && fresh.querySelector(".case-head");
    if (!head || fresh.querySelector(".flash.ok, .flash.error")) return;
    kept.forEach(function (html) { head.insertAdjacentHTML("beforeend", html); });
  });

  // The inbox asks only for the rows that changed (routes_inbox: out-of-band swaps replace,
  // add or delete them); a burst larger than the server takes re-reads the page. Events that
  // change nothing a row shows (a note, a tag, a follow-up step) ask for nothing.
  const UNSEEN = new Set(["note_added", "tags_changed", "flags_changed", "crm_linked",
    "sla_warning", "followup_scheduled", "followup_sent", "followup_invited",
    "followup_cancelled", "followup_answered", "send_failed", "approval_edited"]);
  function refreshRows(rows, changed) {
    const team = rows.dataset.team || "all";
    const ids = changed.filter(function (c) {
      if (c.kinds && c.kinds.every(function (k) { return UNSEEN.has(k); })) return false;
      return document.getElementById("row-" + c.case) ||
        team === "all" || !c.team || c.team === team;
    }).map(function (c) { return c.case; });
    if (!ids.length) return;
    const shown = ids.filter(function (id) { return document.getElementById("row-" + id); });
    if (ids.length > 200 || shown.length < ids.length) {
      // A case entering the view (or a burst): re-read the page. htmx keeps only the last of
      // the requests queued behind one in flight, which is harmless for a whole page and lost
      // rows when each request carried different ones (a new case's row never came).
      htmx.ajax("GET", rows.dataset.rowsUrl, {target: "#rows", swap: "innerHTML"});
      return;
    }
    htmx.ajax("GET", rows.dataset.rowsUrl + "&ids=" + ids.join(",") + "&shown=" + shown.join(","),
              {target: "#rows", swap: "none"});
  }

  function refresh() {
    timer = null;
    const changed = pending;
    pending = new Map();
    const rows = document.getElementById("rows");
    if (rows && window.htmx) refreshRows(rows, Array.from(changed.values()));
    const panel = document.getElementById("case");
    if (panel && changed.has(panel.dataset.case) && window.htmx) {
      // Keep a half-written reply: only refresh when the member is not typing one.
      const box = document.getElementById("reply-text");
      if (!box || document.activeElement !== box) {
        htmx.ajax("GET", panel.dataset.panelUrl, {target: "#case", swap: "outerHTML"});
      }
    }
    document.dispatchEvent(new CustomEvent("ev:changes", {detail: Array.from(changed.keys())}));
  }

  const source = new EventSource("/live?after=" + encodeURIComponent(body.dataset.liveAfter));
  source.addEventListener("changes", function (e) {
    JSON.parse(e.data).forEach(function (c) {
      const had = pending.get(c.case);
      c.kinds = (had ? had.kinds : []).concat([c.kind]);
      pending.set(c.case, c);
    });
    // Coalesce a second of changes into one request.
    if (!timer) timer = setTimeout(refresh, 1000);
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
