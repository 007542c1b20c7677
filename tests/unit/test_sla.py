"""SLA clocks folded from events, on business calendars, paused while waiting on the customer;
warnings, breaches and the escalation ladder. Time is moved, never slept."""

from datetime import UTC, datetime, timedelta

import pytest

from escapevelocity.domain import events as ev
from escapevelocity.domain.calendar import ALWAYS, from_dict
from escapevelocity.domain.escalation import escalate
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import load_org
from escapevelocity.domain.routing import Need, RoutingState
from escapevelocity.domain.sla import Budget, attainment, done_keys, fold, sla_events

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # Friday
BUDGETS = {"support": Budget(60, 120, 600, ALWAYS)}


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def opened(case: str = "c1", track: str = "support", sla: int = 60, team: str = "care",
           member: str | None = "tom", respond: bool = True) -> list[Event]:
    return [
        ev.make(case, ev.OPENED, T0, ev.SYSTEM,
                {"author": "a", "channel": "twitter", "title": "t"}),
        ev.make(case, ev.DECIDED, T0, ev.SYSTEM, {
            "decision": {"track": track, "team": team, "sla_minutes": sla, "respond": respond},
            "signals": {"topics": ["billing"], "language": "en"}}),
        ev.make(case, ev.ASSIGNED, T0, ev.SYSTEM, {"team": team, "member": member}),
    ]


def clocks(events, now, budgets=BUDGETS):
    return {c.clock: c for c in fold("c1", events, budgets, now).clocks}


def test_first_response_met_and_resolution_paused_while_waiting():
    log = [*opened(), ev.make("c1", ev.REPLIED, at(20), "tom", {})]
    c = clocks(log, at(200))
    assert c["first_response"].used == 20 and not c["first_response"].breached
    assert c["first_response"].stopped == at(20)
    assert c["resolution"].paused and c["resolution"].used == 20 and c["resolution"].due is None
    # the customer writes again: resolution resumes, a next-response clock starts
    log.append(ev.make("c1", ev.MENTION_ADDED, at(100), ev.SYSTEM, {}))
    c = clocks(log, at(130))
    assert c["resolution"].used == 50 and c["resolution"].due == at(100 + 580)
    assert c["next_response"].since == at(100) and c["next_response"].due == at(220)
    log.append(ev.make("c1", ev.RESOLVED, at(140), "tom", {}))
    c = clocks(log, at(1000))
    assert c["resolution"].used == 60 and c["next_response"].used == 40
    assert all(x.stopped for x in c.values())


def test_breach_counts_business_minutes_on_the_track_calendar():
    cal = from_dict({"timezone": "UTC", "hours": {"mon-fri": "09:00-17:00"}})
    budgets = {"support": Budget(60, None, None, cal)}
    log = opened()  # Friday 14:00 UTC, 3 business hours left today
    c = clocks(log, at(60 * 24 * 2), budgets)["first_response"]  # Sunday: still 180 used
    assert c.used == 180 and c.breached
    log = opened()
    c = clocks(log, at(50), budgets)["first_response"]
    assert c.due == at(60) and c.share == pytest.approx(50 / 60)


def test_warning_breach_events_once_per_clock_cycle():
    log = opened()
    now = at(46)
    case = fold("c1", log, BUDGETS, now)
    done = done_keys(log)
    first = sla_events(case, 0.75, done, now)
    assert [e.kind for e in first] == [ev.SLA_WARNING]
    log += first
    assert sla_events(fold("c1", log, BUDGETS, now), 0.75, done_keys(log), now) == []
    now = at(61)
    second = sla_events(fold("c1", log, BUDGETS, now), 0.75, done_keys(log), now)
    assert [(e.kind, e.data["clock"]) for e in second] == [(ev.SLA_BREACHED, "first_response")]


def test_no_response_clock_when_the_playbook_said_do_not_respond():
    c = clocks(opened(respond=False), at(5000))
    assert "first_response" not in c


ORG = load_org({
    "teams": [{"id": "hub", "name": "Hub", "kind": "hub", "lead": "sam", "on_call": ["leo"]},
              {"id": "care", "name": "Care", "hub": "hub", "lead": "tom"}],
    "members": [{"id": "sam", "name": "Sam", "teams": ["hub"]},
                {"id": "leo", "name": "Leo", "teams": ["hub"]},
                {"id": "tom", "name": "Tom", "teams": ["care"]},
                {"id": "ana", "name": "Ana", "teams": ["care"]}],
})


def test_escalation_ladder_each_step_an_event_once():
    log = opened()
    state = RoutingState(presence={m.id: "online" for m in ORG.members}, load={"tom": 1})
    need = Need("care", "support", ("billing",), "en")
    steps = []
    for minute in (30, 46, 61, 76, 91, 120):
        now = at(minute)
        new = escalate(fold("c1", log, BUDGETS, now), ORG, done_keys(log), state, need, now)
        log += new
        steps += [(minute, e.kind, e.data.get("action"), e.data.get("to") or e.data.get("member"))
                  for e in new]
    assert steps == [
        (46, ev.ESCALATED, "notify_assignee", "tom"),
        (61, ev.ESCALATED, "reassign", "ana"),
        (61, ev.ASSIGNED, None, "ana"),
        (76, ev.ESCALATED, "notify_lead", "tom"),
        (91, ev.ESCALATED, "page_on_call", "leo"),  # care has no on-call: its hub's
    ]
    assert state.load == {"tom": 0, "ana": 1}


def test_a_late_tick_climbs_several_rungs_at_once_and_a_reply_stops_the_ladder():
    log = opened()
    state = RoutingState(presence={"tom": "online"})
    now = at(100)
    new = escalate(fold("c1", log, BUDGETS, now), ORG, done_keys(log), state,
                   Need("care"), now)
    assert [e.data["action"] for e in new if e.kind == ev.ESCALATED] == [
        "notify_assignee", "reassign", "notify_lead", "page_on_call"]
    assert "nobody" in new[1].data["note"]  # nobody else online: it stays with tom
    log = [*opened(), ev.make("c1", ev.REPLIED, at(10), "tom", {})]
    assert escalate(fold("c1", log, BUDGETS, now), ORG, set(), state, Need("care"), now) == []


def test_attainment_per_track_team_and_member():
    logs = {}
    for i, reply in enumerate((10, 30, 90, None)):
        log = [ev.make(f"c{i}", e.kind, e.at, e.actor, e.data) for e in opened(f"c{i}")]
        if reply is not None:
            log.append(ev.make(f"c{i}", ev.REPLIED, at(reply), "tom" if i % 2 else "ana", {}))
        logs[f"c{i}"] = log
    result = attainment(logs, BUDGETS, at(500))
    track = result.by_track[("first_response", "support")]
    assert (track.met, track.breached) == (2, 2) and track.percent == 50.0
    assert result.by_member[("first_response", "ana")].met == 1
    assert result.by_member[("first_response", "ana")].breached == 1  # c2 replied at 90
    assert result.by_team[("first_response", "care")].total == 4
