"""KPI maths: the histogram's buckets and percentiles, and what a case's change moves."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta

from escapevelocity.domain import kpis
from escapevelocity.domain.cases import Case

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def _case(**kw):
    base = {"id": "c1", "state": "queued", "team": "care", "assignee": None, "track": "support",
            "respond": True, "visibility": "public", "sla_minutes": 60, "opened_at": T0,
            "first_response_at": None, "resolved_at": None, "channel": "twitter",
            "situation": "complaint", "sentiment": "negative", "author_class": "customer",
            "rule_id": "r", "approval_state": "", "csat": None}
    return Case(**{**base, **kw})


def test_every_value_lies_in_its_bucket_and_percentiles_are_within_a_bucket():
    rng = random.Random(1)
    values = [rng.lognormvariate(3, 1.5) for _ in range(5000)]
    for v in values:
        lo, hi = kpis.bucket_edges(kpis.bucket(v))
        assert lo <= v < hi or math.isclose(v, hi, rel_tol=1e-9)
        assert hi <= max(1.0, lo * kpis.RATIO * 1.0000001)
    hist: dict[int, int] = {}
    for v in values:
        hist[kpis.bucket(v)] = hist.get(kpis.bucket(v), 0) + 1
    exact = sorted(values)
    for q in (0.5, 0.9):
        lo, hi = kpis.percentile(hist, q)
        v = exact[math.ceil(q * len(exact)) - 1]
        assert lo <= v <= hi
    assert kpis.percentile({}, 0.5) is None


def test_a_case_moves_its_counters_from_what_it_was_to_what_it_is():
    opened = _case()
    answered = _case(state="resolved", first_response_at=T0 + timedelta(minutes=90),
                     resolved_at=T0 + timedelta(hours=5), csat=4)
    cells, counts = kpis.delta(opened, answered)
    cell = ("2026-11-20", "twitter", "complaint", "negative", "customer", "care", "support")
    assert cells[(cell, "open")] == -1 and cells[(cell, "resolved")] == 1
    assert cells[(cell, "sla_late")] == 1 and cells[(cell, "responded")] == 1
    assert cells[(cell, "csat_n")] == 1 and cells[(cell, "csat_sum")] == 4
    assert (cell, "cases") not in cells  # still one case
    assert counts[("2026-11-20", kpis.BACKLOG, "care")] == -1
    assert counts[("2026-11-20", kpis.SLA, "support|care||late")] == 1
    assert kpis.delta(answered, answered) == ({}, {})


def test_finished_outcomes_and_the_policy_apart_from_the_missed():
    assert kpis.sla_outcome(_case(respond=False)) is None
    assert kpis.sla_outcome(_case()) is None  # still open: live, "at risk now"
    assert kpis.sla_outcome(_case(state="resolved")) == "missed"
    assert kpis.sla_outcome(_case(first_response_at=T0 + timedelta(minutes=60))) == "met"
    assert "no_reply" in kpis.measures(_case(respond=False))
    assert "missed" not in kpis.measures(_case(respond=False, state="resolved"))


def test_periods():
    now = datetime(2026, 11, 20, 14, tzinfo=UTC)
    p = kpis.parse_period("7d", now)
    assert (p.start, p.end, p.days) == (date(2026, 11, 14), date(2026, 11, 21), 7)
    assert p.previous() == kpis.Period(date(2026, 11, 7), date(2026, 11, 14))
    assert kpis.parse_period("2026-11-01..2026-11-30", now).days == 30
    for bad in ("", "0d", "401d", "yesterday", "2026-11-30..2026-11-01"):
        try:
            kpis.parse_period(bad, now)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_a_hostile_label_is_bounded_and_cannot_split_a_key():
    cells, _ = kpis.contribution(_case(team="a|b" * 100, rule_id="x", respond=False))
    (cell, _), *_rest = cells
    assert all(len(v) <= kpis.KEY_CHARS and "|" not in v for v in cell)


def test_days_and_hours_are_utc_whatever_zone_the_database_session_gave():
    from datetime import timezone

    local = T0.astimezone(timezone(timedelta(hours=-10)))  # 2026-11-19 23:00 there
    (cell, _), *_rest = kpis.contribution(_case(opened_at=local))[0]
    assert cell[0] == "2026-11-20"
    assert kpis.contribution(_case(opened_at=local)) == kpis.contribution(_case())
