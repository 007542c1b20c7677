"""KPI maths added for issue 19's second pass: business time on calendars, the topic
dimension, what waited for approval, crisis time and drill scores. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from escapevelocity.domain import kpis
from escapevelocity.domain.calendar import ALWAYS, from_dict
from escapevelocity.domain.cases import Case, replace

# Friday 20 Nov 2026, 15:30 UTC = 16:30 in Berlin: half an hour before closing.
T0 = datetime(2026, 11, 20, 15, 30, tzinfo=UTC)
BERLIN = from_dict({"timezone": "Europe/Berlin",
                    "hours": {"mon-fri": "09:00-12:00,13:00-17:00"}}, "berlin")


def _case(**kw):
    base = {"id": "c1", "state": "queued", "team": "care", "assignee": None, "track": "support",
            "respond": True, "visibility": "public", "sla_minutes": 60, "opened_at": T0,
            "first_response_at": None, "resolved_at": None, "channel": "twitter",
            "situation": "complaint", "sentiment": "negative", "author_class": "customer",
            "rule_id": "r", "approval_state": "", "csat": None, "topics": "",
            "sla_calendar": "", "first_response_minutes": None, "resolution_minutes": None}
    return Case(**{**base, **kw})


def _berlin(track):
    return ("berlin", BERLIN) if track == "support" else ("", ALWAYS)


def test_business_minutes_skip_the_night_and_the_weekend():
    # answered on Monday 09:15 Berlin (08:15 UTC): 30 business minutes on Friday + 15
    first = datetime(2026, 11, 23, 8, 15, tzinfo=UTC)
    case = _case(first_response_at=first, state="replied")
    moved = kpis.business_times(case, _berlin)
    assert moved == {"sla_calendar": "berlin", "first_response_minutes": 45.0}
    timed = replace(case, **moved)
    assert kpis.sla_outcome(timed) == "met"  # 45 business minutes of a 60-minute budget …
    assert kpis.sla_outcome(case) == "late"  # … where wall time says 3,885 minutes
    _, counts = kpis.contribution(timed)
    assert counts[("2026-11-20", kpis.TTFR, f"care|{kpis.bucket(45.0)}")] == 1
    assert counts[("2026-11-20", kpis.CALENDAR, "care|berlin|support")] == 1
    # a track without a calendar counts around the clock
    other = _case(track="sales", first_response_at=first, state="replied")
    assert kpis.business_times(other, _berlin)["first_response_minutes"] == 3885.0


def test_business_times_are_fixed_once_and_cleared_when_the_instant_goes():
    done = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 Berlin
    case = _case(state="resolved", resolved_at=done)
    case = replace(case, **kpis.business_times(case, _berlin))
    assert case.resolution_minutes == 90.0 and case.first_response_minutes is None
    # a later calendar (or none) never recounts what was fixed
    assert kpis.business_times(case, lambda track: ("", ALWAYS)) == {}
    assert kpis.resolution_minutes(case) == 90.0
    reopened = replace(case, state="queued", resolved_at=None)
    assert kpis.business_times(reopened, _berlin) == {"resolution_minutes": None}
    assert kpis.resolution_minutes(reopened) is None


def test_a_calendar_is_read_only_when_a_time_must_be_fixed():
    asked = []

    def spy(track):
        asked.append(track)
        return _berlin(track)
    assert kpis.business_times(_case(), spy) == {}
    assert kpis.business_times(_case(first_response_at=T0, first_response_minutes=0.0,
                                      state="replied"), spy) == {}
    assert asked == []


def test_topics_count_once_each_with_their_sentiment_and_drill_by_team():
    case = _case(topics="billing,outage")
    _, counts = kpis.contribution(case)
    assert counts[("2026-11-20", kpis.TOPIC, "care|billing|negative")] == 1
    assert counts[("2026-11-20", kpis.TOPIC, "care|outage|negative")] == 1
    _, none = kpis.contribution(_case(team="sales", sentiment="positive"))
    assert none[("2026-11-20", kpis.TOPIC, "sales||positive")] == 1
    rows = [(d, f, k, n) for (d, f, k), n in [*counts.items(), *none.items()]]
    f = kpis.figures(kpis.Period(date(2026, 11, 20), date(2026, 11, 21)), [], rows)
    assert f.topics == {"billing": {"negative": 1}, "outage": {"negative": 1},
                        "": {"positive": 1}}
    assert [t for t, _, _ in f.topic_volume()] == ["", "billing", "outage"]
    _, kept = kpis.only_teams([], rows, frozenset({"care"}))
    assert {k for _, fam, k, _ in kept if fam == kpis.TOPIC} == {
        "care|billing|negative", "care|outage|negative"}
    # a retagged case moves from its old topics to its new ones
    _, moved = kpis.delta(case, replace(case, topics="billing"))
    assert moved == {("2026-11-20", kpis.TOPIC, "care|outage|negative"): -1}


def test_the_kind_of_approval_follows_the_weightiest_reason():
    assert kpis.approval_kind(["ana has not completed training: tone"], False) \
        == "reply_training"
    assert kpis.approval_kind(["the playbook requires approval by legal on this case",
                               "the text matches the risk list: lawsuit"], True) \
        == "reply_playbook+edited"
    assert kpis.approval_kind(["the text matches the risk list: refund"], False) == "reply_risk"
    assert kpis.approval_kind([], False) == "reply"
    assert all(k in kpis.APPROVAL_KINDS for k in ("reply_role+edited", "playbook_version"))
    assert kpis.approval_label("reply_risk+edited") == \
        "Replies that match the risk list, edited by the approver"
    p = kpis.Period(date(2026, 11, 20), date(2026, 11, 21))
    rows = {"2026-11-20 12": 2, "2026-11-20 20 reply_risk": 1, "2026-11-21 3 reply_risk": 5}
    assert kpis.by_kind_bucket(rows, p) == {"reply": {12: 2}, "reply_risk": {20: 1}}
    assert kpis.by_day_bucket(rows, p) == {12: 2, 20: 1}


@dataclass
class E:
    stream: str
    kind: str
    at: datetime
    level: str | None = None
    seq: int = 0
    drill: str = ""
    member: str = ""
    score: float = 0.0
    min_score: int = 0


def test_waits_on_streams_of_their_own_from_request_to_decision():
    p = kpis.Period(date(2026, 11, 20), date(2026, 11, 21))
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    events = [E("playbook:3", "playbook_requested", at - timedelta(hours=1), seq=1),
              E("playbook:3", "playbook_requested", at, seq=2),  # asked again: waits from here
              E("playbook:3", "playbook_approved", at + timedelta(minutes=42), seq=3),
              E("gov:spoke:emea", "spoke_requested", at - timedelta(days=2), seq=4),
              E("gov:spoke:emea", "spoke_approved", at + timedelta(minutes=5), seq=5),
              E("playbook:4", "playbook_requested", at, seq=6)]  # still waiting: not counted
    waits = kpis.stream_waits(events, p, {"playbook_requested": "playbook_version",
                                          "spoke_requested": "spoke"},
                              {"playbook_approved": "approved", "spoke_approved": "approved"})
    assert waits == {"playbook_version": [("playbook:3", 42.0)],
                     "spoke": [("gov:spoke:emea", 2885.0)]}


def test_crisis_time_counts_the_crisis_levels_inside_the_period():
    p = kpis.Period(date(2026, 11, 20), date(2026, 11, 21))
    day = datetime(2026, 11, 20, tzinfo=UTC)
    heads = [E("incident:a", "incident_opened", day - timedelta(hours=2), "watch", 1),
             E("incident:a", "incident_level", day + timedelta(hours=1), "crisis2", 2),
             E("incident:a", "incident_level", day + timedelta(hours=3), "crisis1", 3),
             E("incident:a", "incident_stood_down", day + timedelta(hours=4), None, 4),
             E("incident:b", "incident_opened", day + timedelta(hours=20), "crisis3", 5),
             E("incident:old", "incident_opened", day - timedelta(days=3), "crisis1", 6),
             E("incident:old", "incident_stood_down", day - timedelta(days=2), None, 7)]
    now = day + timedelta(hours=22)
    a, b = [{k: i[k] for k in ("id", "minutes", "crisis_minutes", "peak")}
            for i in kpis.crisis_time(heads, p, now)][::-1]
    assert a == {"id": "incident:a", "minutes": {"crisis1": 60.0, "crisis2": 120.0,
                                                 "watch": 60.0},
                 "crisis_minutes": 180.0, "peak": "crisis2"}
    assert b == {"id": "incident:b", "minutes": {"crisis3": 120.0}, "crisis_minutes": 120.0,
                 "peak": "crisis3"}  # still open: to now


def test_drill_scores_of_the_period_by_drill():
    p = kpis.Period(date(2026, 11, 20), date(2026, 11, 21))
    at = datetime(2026, 11, 20, 12, tzinfo=UTC)
    scored = [E("gov:member:ana", "drill_scored", at, seq=9, drill="outage@2026-11-20",
                member="ana", score=82.5, min_score=70),
              E("gov:member:omar", "drill_scored", at, seq=10, drill="outage@2026-11-20",
                member="omar", score=61.0, min_score=70),
              E("gov:member:ana", "drill_scored", at - timedelta(days=5), seq=2, drill="old",
                member="ana", score=99.0, min_score=70)]
    assert kpis.drill_scores(scored, p) == [{
        "drill": "outage@2026-11-20", "passed": 1, "seqs": [9, 10], "members": ["ana", "omar"],
        "players": 2, "mean": 71.8, "lowest": 61.0, "best": 82.5}]


def test_the_timed_cases_are_the_ones_the_calendar_counter_counts():
    answered = _case(first_response_at=T0 + timedelta(minutes=5), state="replied")
    closed = _case(state="resolved", resolved_at=T0 + timedelta(hours=1))
    reopened = replace(closed, state="queued")
    for case in (_case(), answered, closed, reopened):
        _, counts = kpis.contribution(case)
        counted = any(family == kpis.CALENDAR for _, family, _ in counts)
        assert kpis.is_timed(case) == counted
    assert [kpis.is_timed(c) for c in (_case(), answered, closed, reopened)] == [
        False, True, True, False]


def test_what_waits_for_approval_now_by_kind_longest_first():
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    events = [E("playbook:3", "playbook_requested", at, seq=1),
              E("playbook:3", "playbook_approved", at + timedelta(minutes=5), seq=2),
              E("playbook:4", "playbook_requested", at + timedelta(minutes=6), seq=3)]
    pending = kpis.stream_pending(events, {"playbook_requested": "playbook_version"},
                                  {"playbook_approved": "approved"})
    assert pending == [("playbook:4", "playbook_version", at + timedelta(minutes=6))]
    now = at + timedelta(hours=1)
    rows = kpis.waiting_now([*pending, ("c1", "reply_risk", at + timedelta(minutes=50)),
                             ("c2", "reply_risk", at), ("c3", "reply_risk", at)], now)
    assert [(r["kind"], r["count"], r["oldest_minutes"], r["median_minutes"], r["items"])
            for r in rows] == [
        ("playbook_version", 1, 54.0, 54.0, [("playbook:4", 54.0)]),
        ("reply_risk", 3, 60.0, 60.0, [("c2", 60.0), ("c3", 60.0), ("c1", 10.0)])]
