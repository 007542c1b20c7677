"""The SLA worker: `tick(now)` keeps every open case's clocks, warnings, escalation and queue
honest. Run it every minute (the web app's background task, `ev sla tick`, or a drill's
simulated clock); it is idempotent, so running it twice at the same instant writes nothing new.

One transaction per tick:
1. routing state: presence (away/offline by inactivity when `idle` is given), open loads and
   the members' recent first-reply times (services/live_routing);
2. per open case: fold its events into SLA clocks on the track's calendar (domain/sla.py),
   write the warnings, breaches and escalation steps not yet in the log, and an `sla_clock`
   event when the due time the inbox sorts by has moved (a reply, a pause, a calendar);
3. a lapsed claim whose holder went offline is released, and unclaimed cases held by members
   now offline go back to their team's queue;
4. the queue is drained: the earliest due case first, to members with room (domain/routing).
Every change is an event applied to the projection with the same version check as commands.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from escapevelocity.domain import cases as projection
from escapevelocity.domain import events as ev
from escapevelocity.domain.escalation import escalate, need_of
from escapevelocity.domain.events import Event
from escapevelocity.domain.routing import Waiting, drain, stranded
from escapevelocity.domain.sla import Attainment, attainment, done_keys, fold, sla_events
from escapevelocity.services.live_routing import budgets_for, routing_state

__all__ = ["TickReport", "budgets_for", "first_reply_history", "sla_attainment", "tick"]

MAX_OPEN = 100_000


@dataclass
class TickReport:
    warnings: int = 0
    breaches: int = 0
    escalations: int = 0
    requeued: int = 0
    released: int = 0  # lapsed claims of members who went offline
    drained: int = 0
    clocks: int = 0
    conflicts: int = 0
    events: list[Event] = field(default_factory=list)


def tick(workspace: Any, now: datetime | None = None, *, idle: timedelta | None = None
         ) -> TickReport:
    """One pass over the open cases at `now` (default: the workspace clock).

    `idle` (default: the workspace's `away_after`, set by the running app) turns members with
    no activity for that long away, and offline at six times as long; None keeps declared
    presence as it is."""
    now = now or workspace.clock.now()
    triager = workspace.triager()
    org, budgets = triager.org, budgets_for(triager.playbook)
    store = workspace.store
    if idle is None:
        idle = getattr(workspace, "away_after", None)
    report = TickReport()
    with store.begin() as conn:
        state = routing_state(store, conn, now, triager.playbook, away_after=idle)
        presence = state.presence
        cases = {c["id"]: c for c in store.inbox(conn, limit=MAX_OPEN)}
        logs = store.events_for_cases(conn, cases)
        pending: dict[str, list[Event]] = defaultdict(list)

        for cid, case in cases.items():
            log = logs.get(cid, [])
            clocks = fold(cid, log, budgets, now)
            done = done_keys(log)
            new = sla_events(clocks, org.sla.warn_at, done, now)
            report.warnings += sum(e.kind == ev.SLA_WARNING for e in new)
            report.breaches += sum(e.kind == ev.SLA_BREACHED for e in new)
            steps = escalate(clocks, org, done, state, need_of(log, case["team"]), now)
            report.escalations += sum(e.kind == ev.ESCALATED for e in steps)
            new += steps
            current = clocks.current()
            due = current.due if current else None
            if due != case["sla_due"] and not (due and case["sla_due"] and
                                               abs((due - case["sla_due"]).total_seconds()) < 1):
                new.append(Event(cid, ev.SLA_CLOCK, now, ev.SYSTEM, {
                    "clock": current.clock if current else None,
                    "due": due.isoformat() if due else None}))
                report.clocks += 1
            pending[cid] += new

        # Work held by people who are gone goes back to the queue: first a claim whose lease
        # ran out while its holder went offline is let go, then unclaimed work is requeued.
        after = {cid: _fold_case(case, pending.get(cid, ())) for cid, case in cases.items()}
        for cid, c in after.items():
            holder = c["claimed_by"]
            if (c["state"] == "claimed" and holder and c["claim_until"]
                    and c["claim_until"] < now and presence.get(holder, "offline") == "offline"):
                e = Event(cid, ev.RELEASED, now, ev.SYSTEM, {
                    "holder": holder, "expired": True,
                    "reason": f"the claim lapsed and {holder} is offline"})
                pending[cid].append(e)
                after[cid] = projection.apply(c, e)
                report.released += 1
        held = [(cid, c["assignee"], bool(c["claimed_by"] and c["claim_until"] and
                                          c["claim_until"] >= now))
                for cid, c in after.items() if c["state"] == "assigned"]
        for cid in stranded(held, presence):
            who = after[cid]["assignee"]
            e = Event(cid, ev.ASSIGNED, now, ev.SYSTEM, {
                "team": after[cid]["team"], "member": None, "strategy": "queue",
                "explanation": f"requeued: {who} went offline before claiming it",
                "previous": who})
            state.freed(who)
            pending[cid].append(e)
            after[cid] = projection.apply(after[cid], e)
            report.requeued += 1

        # The backlog: earliest due first, to whoever has room now.
        waiting = [Waiting(cid, need_of(logs.get(cid, []), c["team"]), c["sla_due"],
                           c["opened_at"] or now)
                   for cid, c in after.items() if c["state"] == "queued" and c["respond"]]
        for cid, a in drain(waiting, org, state, now):
            pending[cid].append(Event(cid, ev.ASSIGNED, now, ev.SYSTEM, {
                "team": a.team, "member": a.member, "strategy": a.strategy,
                "explanation": f"from the queue: {a.explanation}"}))
            report.drained += 1

        for cid, new in pending.items():
            if not new:
                continue
            case = cases[cid]
            updated = _fold_case(case, new)
            if not store.update_case(conn, updated, case["version"]):
                report.conflicts += 1  # someone acted on it meanwhile; the next tick sees it
                continue
            store.append(conn, new)
            report.events += new
    return report


def _fold_case(case: dict[str, Any], events: Any) -> dict[str, Any]:
    for e in events:
        case = projection.apply(case, e)
    return case


# --- reports -------------------------------------------------------------------------------------

def sla_attainment(workspace: Any, now: datetime | None = None) -> Attainment:
    """SLA met % per track, team and member, from the event log alone."""
    now = now or workspace.clock.now()
    budgets = budgets_for(workspace.triager().playbook)
    store = workspace.store
    with store.begin() as conn:
        ids = store.all_case_ids(conn)
        logs = store.events_for_cases(conn, ids)
    return attainment(logs, budgets, now)


def first_reply_history(workspace: Any, now: datetime | None = None
                        ) -> dict[tuple[str, str], float]:
    """Each member's median first-reply business minutes per track, for expertise routing."""
    now = now or workspace.clock.now()
    budgets = budgets_for(workspace.triager().playbook)
    store = workspace.store
    with store.begin() as conn:
        logs = store.events_for_cases(conn, store.all_case_ids(conn))
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for cid, log in logs.items():
        c = fold(cid, log, budgets, now)
        for clock in c.clocks:
            if clock.clock == "first_response" and clock.stopped and c.responder and c.track:
                times[(c.responder, c.track)].append(clock.used)
    return {k: median(v) for k, v in times.items()}
