"""The lists behind the report's rows that are not case counts apply the rule of the figure
they explain: a reply draft's wait is listed where the APPROVAL_WAIT rollup counts it."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from escapevelocity.domain import drilldowns, kpis, rollups
from escapevelocity.domain import events as ev

T0 = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)


def test_draft_waits_are_the_ones_the_rollup_counts():
    made = []
    cases = [("reply_risk", 12.0, 0), ("", 30.5, 0), ("bogus", 4.0, 0),
             ("reply_role+edited", 200.0, 1), ("reply_risk", None, 0),
             ("reply_training", 0.2, -24), ("reply_risk", -3.0, 0)]
    for n, (kind, waited, hours) in enumerate(cases):
        cls = ev.Approved if n % 2 else ev.Rejected
        made.append(cls(stream=f"c{n}", at=T0 + timedelta(hours=hours), actor="omar",
                        draft=f"d{n}", waited=waited, approval_kind=kind, seq=n + 1))
    rows = {key: n for (name, key), n in rollups.deltas(made).items()
            if name == rollups.APPROVAL_WAIT}
    for period in (kpis.Period(date(2026, 11, 20), date(2026, 11, 21)),
                   kpis.Period(date(2026, 11, 19), date(2026, 11, 22))):
        counted = {k: sum(h.values()) for k, h in kpis.by_kind_bucket(rows, period).items()}
        listed = drilldowns.draft_waits(made, period)
        assert Counter(r["kind"] for r in listed) == counted
        assert all(r["link"] == f"/cases/{r['ref']}" for r in listed)
    [risky] = [r for r in listed if r["ref"] == "c6"]
    assert risky["minutes"] == 0.0  # a negative wait counts as none, as in the rollup


def test_links_to_whatever_waited():
    assert drilldowns.link("c0123") == "/cases/c0123"
    assert drilldowns.link("playbook:7") == "/playbook?version=7#editor"
    assert drilldowns.link("governance:spoke:hr") == "/governance/spokes/hr"
    assert drilldowns.link("incident:x") == ""


def test_players_keep_the_cases_they_handled_when_the_log_has_them():
    p = kpis.Period(date(2026, 11, 20), date(2026, 11, 21))
    scored = [ev.DrillScored(stream="governance:member:ana", at=T0, actor="system",
                             member="ana", drill="outage", score=82.0, min_score=70,
                             details={"cases": ["c1", "c2"], "run": "r1"}, seq=1),
              ev.DrillScored(stream="governance:member:omar", at=T0, actor="system",
                             member="omar", drill="outage", score=40.0, min_score=70, seq=2),
              ev.DrillScored(stream="governance:member:ana", at=T0 - timedelta(days=3),
                             actor="system", member="ana", drill="old", score=99.0, seq=3)]
    rows = drilldowns.players(scored, p, "outage")
    assert [(r["member"], r["passed"], r["cases"], r["run"]) for r in rows] == [
        ("ana", True, ["c1", "c2"], "r1"), ("omar", False, [], "")]
    assert len(drilldowns.players(scored, p, None)) == len(
        [d for d in kpis.drill_scores(scored, p) for _ in range(d["players"])])
