"""The pure plans (domain/plans): ingest and the SLA tick, on plain records, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from escapevelocity.domain import cases as projection
from escapevelocity.domain import events as ev
from escapevelocity.domain.calendar import ALWAYS, from_dict
from escapevelocity.domain.events import Event
from escapevelocity.domain.plans.ingest import Seen, plan_batch, plan_joins
from escapevelocity.domain.plans.sla_tick import TickState, plan_tick
from escapevelocity.domain.records import Author, Mention, Signals
from escapevelocity.domain.routing import Assignment, RoutingState
from escapevelocity.domain.sla import Budget
from tests.unit.test_sla import ORG

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # Friday


def opened(case: str = "c1", sla: int = 60) -> list[Event]:
    return [
        ev.make(case, ev.OPENED, T0, ev.SYSTEM,
                {"author": "a", "channel": "twitter", "title": "t"}),
        ev.make(case, ev.DECIDED, T0, ev.SYSTEM, {
            "decision": {"track": "support", "team": "care", "sla_minutes": sla, "respond": True,
                         "priority": "p2", "rule_id": "r", "playbook_version": "v"},
            "signals": {"topics": ["billing"], "language": "en", "situation": "complaint",
                        "sentiment_label": "negative"}}),
        ev.make(case, ev.ASSIGNED, T0, ev.SYSTEM, {"team": "care", "member": "tom"}),
    ]


# --- ingest --------------------------------------------------------------------------------------

def _m(sid: str, handle: str, reply_to: str | None = None) -> Mention:
    return Mention(sid, "twitter", f"text {sid}", Author(handle), T0,
                   kind="reply" if reply_to else "post", in_reply_to=reply_to)


def _decide(m, sig, ctx):
    return ({"track": "support", "team": "care", "priority": "p3", "respond": True,
             "sla_minutes": 60, "rule_id": "r", "playbook_version": "v"},
            Assignment("care", "tom", "least_load", "because"))


def test_a_batch_plan_skips_duplicates_and_threads_in_arrival_order():
    batch = [_m("9", "kim"), _m("9", "kim"), _m("3", "kim"), _m("5", "lee", reply_to="9"),
             _m("1", "zoe"), _m("7", "old")]
    seen = Seen(known={"twitter:1": "cstored"}, by_author={("twitter", "old"): "cold"},
                history={})
    sig = {m.key: Signals(-0.5, "negative", "complaint") for m in batch}
    plan = plan_batch(batch, seen, sig, _decide, T0)
    r = plan.report
    assert (r.accepted, r.duplicates, r.opened, r.joined) == (4, 2, 1, 3)
    assert r.stored == ["twitter:9", "twitter:3", "twitter:5", "twitter:7"]
    assert [row[1] for row in plan.mention_rows] == ["9", "3", "5", "7"]  # arrival order
    [new] = plan.new_cases.values()
    assert new.mention_count == 3  # 9 opened it, 3 (same author) and 5 (a reply) joined
    assert [e.stream for e in plan.joins] == ["cold"]  # stored before: finished under lock


def test_a_join_reopens_a_resolved_case():
    case = projection.replay("cold", [*opened("cold"),
                                      ev.make("cold", ev.RESOLVED, T0, "tom", {})])
    join = ev.make("cold", ev.MENTION_ADDED, T0, ev.SYSTEM, {"mention": "twitter:7"})
    current, extra = plan_joins({"cold": case}, [join], {"twitter:7": "hello?"}, None, T0)
    assert [e.kind for e in extra] == [ev.REOPENED]
    assert current["cold"].state != "resolved"


# --- the SLA tick ---------------------------------------------------------------------------

BUDGETS = {"support": Budget(60, 120, 600, ALWAYS)}
OFFICE = {"support": Budget(60, 120, 600,
                            from_dict({"timezone": "UTC", "hours": {"mon-fri": "09:00-17:00"}}))}
SLA_KINDS = (ev.SLA_WARNING, ev.SLA_BREACHED, ev.ESCALATED)


def _written(events):
    return sorted((e.kind, e.data.get("clock"), e.data.get("step", -1))
                  for e in events if e.kind in SLA_KINDS)


def _run(log, until, budgets, replies, every: timedelta | None):
    """Tick a case from T0 to `until`: every `every` (the old way: look at every case every
    pass) or only when its next deadline says so. `replies`: minutes at which tom replies.

    The old way wrote no `sla_clock` events: its log keeps none (the case projection still
    sees them). With one a minute in it, each pass folded a log hundreds of events long, a
    cost growing with the square of the run (~9 of the test's ~10 CPU-s); what the folds
    read (decisions, replies, warnings, breaches, escalations) is all still there."""
    log = list(log)
    case = projection.replay("c1", log)
    now = T0
    written = []
    replies = sorted(replies)
    while now <= until:
        while replies and T0 + timedelta(minutes=replies[0]) <= now:
            e = ev.make("c1", ev.REPLIED, T0 + timedelta(minutes=replies.pop(0)), "tom", {})
            log.append(e)
            case = projection.apply(case, e)
        nd = case.next_deadline
        if every is not None or (nd is not None and nd <= now):
            pending, _ = plan_tick(TickState({"c1": case}, {"c1": log}, ["c1"]), budgets, ORG,
                                   RoutingState(), now)
            for e in pending.get("c1", []):
                if every is None or e.kind != ev.SLA_CLOCK:
                    log.append(e)
                case = projection.apply(case, e)
                written.append(e)
        if every is not None:
            now += every
        else:  # jump to the next instant anything can happen: a deadline or a reply
            nexts = [x for x in (case.next_deadline,
                                 T0 + timedelta(minutes=replies[0]) if replies else None)
                     if x is not None]
            if not nexts:
                break
            now = max(min(nexts), now + timedelta(seconds=1))
    return written, case


@settings(max_examples=60, deadline=None)
@given(replies=st.lists(st.integers(1, 400), max_size=3),
       office=st.booleans(), sla=st.sampled_from([20, 60, 240]))
def test_ticking_only_at_deadlines_writes_what_ticking_every_minute_writes(replies, office,
                                                                           sla):
    # SLAs whose warning (at 75%) falls on a whole minute: with 15 (a warning at 11 min 15 s),
    # ticking every minute sees it only at minute 12, after a reply at 12 had made it moot,
    # while ticking at the deadline writes it, rightly
    budgets = OFFICE if office else BUDGETS
    log = opened(sla=sla)
    until = T0 + timedelta(minutes=600)
    minute, _ = _run(log, until, budgets, replies, every=timedelta(minutes=1))
    deadline, case = _run(log, until, budgets, replies, every=None)
    assert _written(deadline) == _written(minute)
    assert case.next_deadline is None or case.next_deadline > T0


def test_an_idle_pass_plans_nothing_and_a_second_look_at_the_same_instant_neither():
    log = opened()
    case = projection.replay("c1", log)
    assert plan_tick(TickState({}, {}, []), BUDGETS, ORG, RoutingState(), T0)[0] == {}
    online = RoutingState(presence={"tom": "online"})
    pending, _ = plan_tick(TickState({"c1": case}, {"c1": log}, ["c1"]), BUDGETS, ORG,
                           online, T0)
    [clock] = pending["c1"]
    assert isinstance(clock, ev.SlaClock) and clock.next == T0 + timedelta(minutes=45)
    case = projection.apply(case, clock)
    assert case.next_deadline == T0 + timedelta(minutes=45)


# --- the case commands ---------------------------------------------------------------------------

def _policy():
    from escapevelocity.domain import engagement

    return engagement.load_policy(None)


def test_reply_needs_the_claim_and_an_open_case_and_checks_the_conversation():
    from escapevelocity.domain.plans.commands import Refusal, plan_reply

    case = projection.replay("c1", opened())
    now = T0 + timedelta(minutes=5)
    assert plan_reply(case, "tom", "hi", now, _policy()).reason == "claim the case before replying"
    claimed = projection.apply(case, ev.make("c1", ev.CLAIMED, now, "ana",
                                           {"until": (now + timedelta(minutes=10)).isoformat()}))
    taken = plan_reply(claimed, "tom", "hi", now, _policy())
    assert isinstance(taken, Refusal) and (taken.kind, taken.holder) == ("claim", "ana")
    ok = plan_reply(claimed, "ana", "  hello  ", now, _policy())
    assert ok.kind == ev.REPLIED and ok.data["text"] == "hello"
    other = ev.make("c1", ev.MENTION_ADDED, now, ev.SYSTEM, {})
    assert plan_reply(claimed, "ana", "hi", now, _policy(), changed=[other]).kind == "changed"
    assert plan_reply(claimed, "ana", "x" * 2001, now, _policy()).kind == "case"
    resolved = projection.apply(claimed, ev.make("c1", ev.RESOLVED, now, "ana", {}))
    assert "resolved" in plan_reply(resolved, "ana", "hi", now, _policy()).reason


def test_resolve_refuses_twice_and_under_someone_else_s_claim():
    from escapevelocity.domain.plans.commands import Refusal, plan_resolve

    case = projection.replay("c1", opened())
    [done] = plan_resolve(case, "tom", T0, _policy())  # nobody answered: no follow-up
    assert done.kind == ev.RESOLVED
    claimed = projection.apply(case, ev.make("c1", ev.CLAIMED, T0, "ana",
                                           {"until": (T0 + timedelta(minutes=10)).isoformat()}))
    assert isinstance(plan_resolve(claimed, "tom", T0, _policy()), Refusal)
    resolved = projection.apply(case, done)
    assert plan_resolve(resolved, "tom", T0, _policy()).reason == "the case is already resolved"
