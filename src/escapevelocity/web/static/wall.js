// The command-center wall: refetch /wall/data when /live says the log moved (debounced), and
// every 30 s regardless (the SLA countdowns move with time alone). EventSource reconnects by
// itself after a drop and resumes from the last event id; on reconnect the wall refetches.
// Text goes in with textContent only: mention titles are hostile input.
(function () {
  "use strict";
  var body = document.body;
  var status = document.getElementById("wall-status");
  var pending = null;

  function text(el, value) { if (el) { el.textContent = value; } }

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
      return item([c.priority.toUpperCase(), (c.team || "") + " · " + c.due_minutes + " min", c.title]);
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
        o.textContent = t.oldest_minutes === null ? "–" : t.oldest_minutes + " min";
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
      text(document.getElementById("wall-crisis-level"), d.crisis.level.toUpperCase());
      text(document.getElementById("wall-crisis-reason"), d.crisis.reason || "");
    }
    body.setAttribute("data-updated", d.now);
  }

  function refresh() {
    pending = null;
    fetch("/wall/data", { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); })
      .then(render)
      .catch(function () { text(status, "reconnecting…"); });
  }

  function soon() { if (pending === null) { pending = setTimeout(refresh, 300); } }

  var after = body.getAttribute("data-live-after") || "0";
  var source = new EventSource("/live?after=" + encodeURIComponent(after));
  source.addEventListener("open", function () {
    text(status, "live");
    status.className = "live";
    soon();  // after a reconnect, catch up at once
  });
  source.addEventListener("changes", soon);
  source.addEventListener("error", function () {
    text(status, "reconnecting…");
    status.className = "down";
  });
  setInterval(refresh, 30000);
})();
