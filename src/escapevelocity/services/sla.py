"""The SLA worker: `tick(now)` keeps every open case's clocks, warnings, escalation and queue
honest. Run it every few seconds (the web app's background task, `ev sla tick`, or a drill's
simulated clock); it is idempotent, so running it twice at the same instant writes nothing new.

One transaction per tick: read what can need work at `now` (cases whose indexed next deadline
has passed, lapsed claims and work held by members now offline, the head of each team's queue
when someone has room), plan (domain/plans/sla_tick.py), write each case's events with the
same version check as commands, cases in id order. A pass reads at most `MAX_DUE` due cases,
earliest deadline first, so a backlog (the first pass after the migration) is worked off over
a few passes that each fit the schedule.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from escapevelocity.domain import cases as projection
from escapevelocity.domain.plans.sla_tick import TickReport, TickState, plan_tick
from escapevelocity.domain.routing import Need
from escapevelocity.domain.sla import Attainment, attainment, fold
from escapevelocity.services.live_routing import budgets_for, routing_state
from escapevelocity.services.retry import Conflict

__all__ = ["TickReport", "budgets_for", "first_reply_history", "sla_attainment", "tick"]

MAX_DUE = 500  # due cases folded per pass: ~1.5 s at most, measured on a busy 2-core machine
MAX_QUEUE = 500  # queued cases per team read for the drain


def tick(workspace: Any, now: datetime | None = None, *, idle: timedelta | None = None
         ) -> TickReport:
    """One pass at `now` (default: the workspace clock).

    `idle` (default: the workspace's `away_after`, set by the running app) turns members with
    no activity for that long away, and offline at six times as long; None keeps declared
    presence as it is."""
    now = now or workspace.clock.now()
    triager = workspace.triager()
    org, budgets = triager.org, budgets_for(triager.playbook)
    store = workspace.store
    if idle is None:
        idle = getattr(workspace, "away_after", None)
    with store.begin() as tx:
        state = routing_state(store, tx, now, triager.playbook, away_after=idle)
        offline = sorted(m.id for m in org.members
                         if state.presence.get(m.id, "offline") == "offline")
        due = tx.cases.due_for_sla(now, MAX_DUE)
        cases = {c.id: c for c in due}
        cases.update(tx.cases.held_by(offline, now))
        room = sum(max(0, m.capacity - state.load.get(m.id, 0)) for m in org.members
                   if state.presence.get(m.id) == "online")
        queued: dict[str, dict[str, Any]] = {}
        if room:
            queued = tx.cases.queue_heads([t.id for t in org.teams], min(room, MAX_QUEUE))
            cases.update({k: v for k, v in queued.items() if k not in cases})
        logs = tx.events.streams([c.id for c in due])
        needs = tx.events.routing_needs([k for k in queued if k not in logs])
        needs = {k: Need(cases[k].team or "", *v) for k, v in needs.items()}
        pending, report = plan_tick(TickState(cases, logs, [c.id for c in due], needs),
                                    budgets, org, state, now)
        # Write in three round trips, not two per case: lock what changes (in id order), skip
        # the cases someone acted on since they were read (the next tick sees them), write
        # the rest with one version-checked executemany and one append.
        now_held = tx.cases.get_many(pending, for_update=True)
        todo = sorted(cid for cid in pending
                      if cid in now_held and now_held[cid].version == cases[cid].version)
        report.conflicts += len(pending) - len(todo)
        updates = [(projection.apply_all(cases[cid], pending[cid]), cases[cid].version)
                   for cid in todo]
        if not tx.cases.update_many(updates):
            raise Conflict("a case changed during the SLA tick")  # the worker runs it again
        new = [e for cid in todo for e in pending[cid]]
        tx.events.append(new)
        report.events += new
    return report


# --- reports -------------------------------------------------------------------------------------

def sla_attainment(workspace: Any, now: datetime | None = None) -> Attainment:
    """SLA met % per track, team and member, from the event log alone."""
    now = now or workspace.clock.now()
    budgets = budgets_for(workspace.triager().playbook)
    store = workspace.store
    with store.begin() as tx:
        ids = tx.events.case_streams()
        logs = tx.events.streams(ids)
    return attainment(logs, budgets, now)


def first_reply_history(workspace: Any, now: datetime | None = None
                        ) -> dict[tuple[str, str], float]:
    """Each member's median first-reply business minutes per track, for expertise routing."""
    now = now or workspace.clock.now()
    budgets = budgets_for(workspace.triager().playbook)
    store = workspace.store
    with store.begin() as tx:
        logs = tx.events.streams(tx.events.case_streams())
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for cid, log in logs.items():
        c = fold(cid, log, budgets, now)
        for clock in c.clocks:
            if clock.clock == "first_response" and clock.stopped and c.responder and c.track:
                times[(c.responder, c.track)].append(clock.used)
    return {k: median(v) for k, v in times.items()}
