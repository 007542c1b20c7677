// The bell: keep the unread count current from the live stream (app.js re-dispatches its
// "bell" events as ev:bell) and, where the member allowed it, show a browser notification.
// No inline script: the CSP forbids it.
(function () {
  "use strict";
  const count = document.getElementById("bell-count");
  const body = document.body;
  const canNotify = typeof Notification !== "undefined" && body.dataset.browserNotify === "on";
  let last = count ? parseInt(count.textContent || "0", 10) : 0;

  document.addEventListener("ev:bell", function (e) {
    const d = e.detail || {};
    if (!count || typeof d.unread !== "number") return;
    count.textContent = String(d.unread);
    count.hidden = d.unread === 0;
    if (d.unread > last && d.text && canNotify && Notification.permission === "granted") {
      const n = new Notification("Escape Velocity", {body: d.text, tag: "ev-" + d.id});
      n.onclick = function () { window.location.href = d.link || "/notifications"; };
    }
    last = d.unread;
  });

  const allow = document.getElementById("allow-browser");
  if (allow && canNotify && Notification.permission === "default") {
    allow.hidden = false;
    allow.addEventListener("click", function () {
      Notification.requestPermission().then(function () { allow.hidden = true; });
    });
  }
})();
