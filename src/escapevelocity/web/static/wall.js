// The command-center wall: refetch /wall/data when /live says the log moved (debounced), and
// every 30 s regardless (the SLA countdowns move with time alone). EventSource reconnects by
// itself after a drop and resumes from the last event id; on reconnect the wall refetches.
// Text goes in with textContent only: mention titles are hostile input.
(function () {
  "use strict";
  var body = document.body;
  var reconnectMs = Number(body.getAttribute("data-reconnect-ms"));  // web/live.py Pace
  var status = document.getElementById("wall-status");
  var pending = null;

  function text(el, value) { if (el) { el.textContent = value; } }

  function span(minutes) {  // the same words as the first render (templates/wall.html)
    var m = Math.abs(minutes);
    return m >= 120 ? Math.round(m / 60) + " h" : m + " min";
  }

  function due(minutes) {
    return minutes < 0 ? span(minutes) + " overdue" : "due in " + span(minutes);
  }

  function item(parts) {
    var li = document.createElement("li");
    var strong = document.createElement("strong");
    strong.textContent = parts[0];
    li.appendChild(strong);
    li.appendChild(document.createTextNode(" " + parts[1] + " · "));
    var span = document.createElement("span");
    span.className = "title";
    span.textContent = parts[2];
    li.appendChild(span);
    return li;
  }

  function list(id, rows) {
    var el = document.getElementById(id);
    if (!el) { return; }
    el.replaceChildren.apply(el, rows);
  }

  function render(d) {
    text(document.getElementById("wall-clock"), d.now.slice(11, 16));
    text(document.getElementById("wall-volume"), String(d.today.cases));
    ["negative", "neutral", "positive"].forEach(function (s) {
      var li = document.querySelector('#wall-sentiment [data-sentiment="' + s + '"] strong');
      text(li, String(d.today.sentiment[s] || 0));
    });
    text(document.getElementById("wall-at-risk"), String(d.at_risk.count));
    list("wall-risk-list", d.at_risk.cases.slice(0, 6).map(function (c) {
      return item([c.priority.toUpperCase(), (c.team || "") + " · " + due(c.due_minutes), c.title]);
    }));
    var tbody = document.querySelector("#wall-queues tbody");
    if (tbody) {
      tbody.replaceChildren.apply(tbody, d.teams.map(function (t) {
        var tr = document.createElement("tr");
        tr.setAttribute("data-team", t.team);
        var th = document.createElement("th");
        th.scope = "row";
        th.textContent = t.team;
        var q = document.createElement("td");
        q.className = "queue";
        q.textContent = String(t.queue);
        var o = document.createElement("td");
        o.className = "oldest";
        o.textContent = t.oldest_minutes === null ? "–" : span(t.oldest_minutes);
        tr.append(th, q, o);
        return tr;
      }));
    }
    list("wall-online", (d.online.length ? d.online : ["nobody"]).map(function (m) {
      var li = document.createElement("li");
      li.textContent = m;
      return li;
    }));
    list("wall-notable", d.notable.map(function (c) {
      return item([c.priority.toUpperCase(), c.channel + " · " + (c.sentiment || ""), c.title]);
    }));
    var banner = document.getElementById("wall-crisis");
    if (banner) {
      banner.hidden = d.crisis.level === "normal";
      banner.className = "wall-crisis level-" + d.crisis.level;
      text(document.getElementById("wall-crisis-level"), d.crisis.name);
      text(document.getElementById("wall-crisis-reason"), d.crisis.reason || "");
    }
    body.setAttribute("data-updated", d.now);
  }

  var source = null;
  var last = body.getAttribute("data-live-after") || "0";

  function show(up) {
    text(status, up ? "live" : "reconnecting…");
    status.className = up ? "live" : "down";
  }

  function refresh() {
    pending = null;
    fetch("/wall/data", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(function (d) {
        render(d);
        if (source && source.readyState === EventSource.OPEN) { show(true); }
      })
      .catch(function () { show(false); });
  }

  function soon() { if (pending === null) { pending = setTimeout(refresh, 300); } }

  // The browser reconnects an EventSource by itself after most drops; when it gives up
  // (CLOSED), open a new one from the last event seen.
  function connect() {
    source = new EventSource("/live?after=" + encodeURIComponent(last));
    source.addEventListener("open", function () {
      show(true);
      soon();  // after a reconnect, catch up at once
    });
    source.addEventListener("changes", function (e) {
      if (e.lastEventId) { last = e.lastEventId; }
      soon();
    });
    source.addEventListener("error", function () {
      show(false);
      if (source.readyState === EventSource.CLOSED) { setTimeout(connect, reconnectMs); }
    });
  }

  connect();
  setInterval(refresh, 30000);
})();
