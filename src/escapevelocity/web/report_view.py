"""What a report shows, ready for a template: the same for the page, the e-mail, the PDF.

Figures come from services/reports.py; this module only arranges them (labels, rounding,
comparison with the previous period, the charts of web/charts.py, drill-down links).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from escapevelocity.domain import drilldowns, kpis
from escapevelocity.domain import goals as goal_maths
from escapevelocity.services.reports import Report
from escapevelocity.web import charts


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:,.0f}"


def _minutes(p: tuple[float, float] | None) -> str:
    if p is None:
        return "–"
    hi = p[1]
    if hi == float("inf"):
        return f"over {p[0] / 60:,.0f} h"
    return f"≤ {hi:,.0f} min" if hi < 120 else f"≤ {hi / 60:,.1f} h"


def _change(now: float | None, before: float | None) -> str:
    c = kpis.change(now, before)
    return "–" if c is None else f"{c:+.0%}"


def drill_link(period: str, measure: str, **where: str) -> str:
    return "/reports/cases?" + urlencode({"period": period, "measure": measure, **where})


def item_link(what: str, period: str, **query: str) -> str:
    """A drill-down of a row that is not a case count (web/routes_drilldown.py)."""
    return f"/reports/{what}?" + urlencode({"period": period, **query})


def context(r: Report, period_text: str) -> dict[str, Any]:
    cur, prev = r.current, r.previous
    att = cur.attainment("all").get("all")
    att_prev = prev.attainment("all").get("all")
    t, p = cur.totals, prev.totals
    ttfr, ttfr_prev = cur.percentiles(kpis.TTFR), prev.percentiles(kpis.TTFR)
    ttr, ttr_prev = cur.percentiles(kpis.TTR), prev.percentiles(kpis.TTR)
    wait, wait_prev = cur.percentiles("approval"), prev.percentiles("approval")

    def row(key: str, label: str, value: str, before: str, change: str,
            measure: str | None = None) -> dict[str, Any]:
        return {"key": key, "label": label, "value": value, "previous": before,
                "change": change, "link": drill_link(period_text, measure) if measure else None}

    def count(key: str, label: str, measure: str) -> dict[str, Any]:
        return row(key, label, _num(t.get(measure, 0)), _num(p.get(measure, 0)),
                   _change(t.get(measure, 0), p.get(measure, 0)), measure)

    figures = [
        count("volume", "Cases opened", "cases"),
        row("response_rate", "Response rate (of cases that need an answer)",
            _pct(cur.response_rate), _pct(prev.response_rate),
            _change(cur.response_rate, prev.response_rate), "responded"),
        row("no_reply_share", "Not answered by policy", _pct(cur.no_reply_share),
            _pct(prev.no_reply_share), _change(cur.no_reply_share, prev.no_reply_share),
            "no_reply"),
        row("missed_share", "Missed (closed without an answer)", _pct(cur.missed_share),
            _pct(prev.missed_share), _change(cur.missed_share, prev.missed_share), "missed"),
        row("sla_attainment", "First-response SLA met (finished cases)", _pct(att),
            _pct(att_prev), _change(att, att_prev), "sla_met"),
        row("ttfr_p50", "Time to first response, median (business time)",
            _minutes(ttfr["p50"]), _minutes(ttfr_prev["p50"]), "", "responded"),
        row("ttfr_p90", "Time to first response, p90 (business time)", _minutes(ttfr["p90"]),
            _minutes(ttfr_prev["p90"]), "", "responded"),
        row("ttr_p50", "Time to resolution, median (business time)", _minutes(ttr["p50"]),
            _minutes(ttr_prev["p50"]), "", "resolved"),
        row("ttr_p90", "Time to resolution, p90 (business time)", _minutes(ttr["p90"]),
            _minutes(ttr_prev["p90"]), "", "resolved"),
        count("leads", "Leads passed to sales", "leads"),
        count("private", "Moved to a private channel", "private"),
        count("approvals", "Replies that needed approval", "approvals"),
        count("approvals_pending", "Approvals still waiting", "approvals_pending"),
        row("approval_wait_p50", "Approval waiting time, median (drafts decided)",
            _minutes(wait["p50"]), _minutes(wait_prev["p50"]), "", "approvals"),
        row("approval_wait_p90", "Approval waiting time, p90", _minutes(wait["p90"]),
            _minutes(wait_prev["p90"]), "", "approvals"),
        row("csat", "CSAT (1-5)", "–" if cur.csat is None else f"{cur.csat:.2f}",
            "–" if prev.csat is None else f"{prev.csat:.2f}", _change(cur.csat, prev.csat),
            "csat_n"),
        count("crisis", "Crisis cases", "crisis"),
        {**row("crisis_mode_minutes", "Time in crisis mode (incidents at a crisis level)",
               f"{sum(i['crisis_minutes'] for i in r.crisis):,.0f} min", "", "", None),
         "link": item_link("incidents", period_text)},
        {**row("drill_players", "Drill scores recorded (players)",
               _num(sum(d["players"] for d in r.drills)), "", "", None),
         "link": item_link("drill-scores", period_text)},
        {**row("drill_runs", "Drill runs scored (scorecards)", _num(len(r.scorecards)), "",
               "", None), "link": item_link("drill-runs", period_text)},
        count("open", "Still open (of this period's cases)", "open"),
    ]
    backlog_total = sum(r.backlog_total.values())
    vals = goal_maths.values(cur, at_risk=r.at_risk, incidents=len(r.incidents),
                             crisis_minutes=r.crisis_minutes, backlog=backlog_total)
    outcomes = cur.sla.get("team", {})
    volume = charts.volume_sentiment(cur.daily, cur.period.day_list())
    volume.links = [drill_link(f"{d}..{d}", "cases") for d in cur.period.day_list()]
    by_team = charts.sla_by_team(cur.attainment("team"), outcomes)
    by_team.links = [drill_link(period_text, "needs_reply", team=row[0]) for row in by_team.rows]
    topic_rows = cur.topic_volume()
    by_topic = charts.topic_volume(topic_rows)
    by_topic.links = [drill_link(period_text, "cases", topic=row[0]) for row in topic_rows[:15]]
    made = [volume, charts.response_times(cur.ttfr, kpis.bucket_edges), by_team,
            charts.backlog_age(r.backlog_total), by_topic]
    return {
        "report": r, "period_text": period_text, "figures": figures, "charts": made,
        "at_risk": r.at_risk, "at_risk_cases": r.at_risk_cases,
        "at_risk_minutes": 30,
        "channels": [{"channel": c or "–", "cases": n, "share": _pct(n / t["cases"]),
                      "previous": _pct(prev.by.get("channel", {}).get(c, 0) / p["cases"])
                      if p.get("cases") else "–",
                      "link": drill_link(period_text, "cases", channel=c)}
                     for c, n in sorted(cur.by.get("channel", {}).items(),
                                        key=lambda kv: -kv[1])] if t.get("cases") else [],
        "no_reply": sorted(cur.no_reply.items(), key=lambda kv: -kv[1]),
        "sla_tracks": _sla_rows(cur, "track"), "sla_teams": _sla_rows(cur, "team"),
        "sla_members": _sla_rows(cur, "member"),
        "dims": {d: sorted(cur.by.get(d, {}).items(), key=lambda kv: -kv[1])
                 for d in ("situation", "sentiment", "author_class", "team")},
        "backlog": r.backlog, "backlog_total": r.backlog_total,
        "incidents": r.incidents, "crisis_minutes": round(r.crisis_minutes),
        "goals": goal_maths.evaluate(r.goals, vals) if r.goals else [],
        "values": vals,
        "topics": [{"topic": tp, "label": tp or "no topic", "cases": n,
                    "sentiment": by, "link": drill_link(period_text, "cases", topic=tp)}
                   for tp, n, by in topic_rows],
        "calendars": [{"calendar": cal or "around the clock (no calendar)",
                       "tracks": ", ".join(f"{tr or '–'} ({n:,})" for tr, n in sorted(
                           tracks.items())), "cases": sum(tracks.values()),
                       "link": drill_link(period_text, "timed", sla_calendar=cal)}
                      for cal, tracks in sorted(cur.calendars.items())],
        "approval_kinds": [{"kind": k, "label": kpis.approval_label(k), "decided": p["n"],
                            "p50": _minutes(p["p50"]), "p90": _minutes(p["p90"]),
                            "link": item_link("approvals", period_text, kind=k,
                                              state=drilldowns.DECIDED)}
                           for k, p in cur.approval_percentiles().items()],
        "stream_waits": {k: [(ref, m, drilldowns.link(ref)) for ref, m in v]
                         for k, v in r.stream_waits.items()},
        "crisis_time": [{**i, "minutes_text": ", ".join(f"{lv} {m:,.0f} min"
                                                        for lv, m in i["minutes"].items()),
                         "cases_link": f"/reports/incidents/{i['id']}/cases?"
                                       + urlencode({"period": period_text})}
                        for i in r.crisis],
        "incidents_link": item_link("incidents", period_text),
        "drills": [{**d, "link": item_link("drill-scores", period_text, drill=d["drill"])}
                   for d in r.drills],
        "waiting": [{**w, "link": item_link("approvals", period_text, kind=w["kind"],
                                            state=drilldowns.WAITING),
                     "links": [drilldowns.link(ref) for ref, _ in w["items"][:5]]}
                    for w in r.waiting],
        "scorecards": r.scorecards,
        "runs_link": item_link("drill-runs", period_text),
    }


def _sla_rows(f: kpis.Figures, by: str) -> list[dict[str, Any]]:
    att = f.attainment(by)
    rows = []
    for who, o in sorted(f.sla.get(by, {}).items()):
        rows.append({"who": who or "–", "met": o.get("met", 0), "late": o.get("late", 0),
                     "missed": o.get("missed", 0), "attainment": _pct(att.get(who))})
    return rows
