"""The SLA tick's plan: what one pass writes, from what is due. Pure.

The shell (services/sla.py) reads only what can need work at `now`:
- `due`: cases whose next deadline has passed (the indexed `next_deadline` of the case
  projection; any event on a case makes it due, the tick's own `sla_clock` event sets the
  next one), with their event logs;
- `held`: claimed cases whose lease ran out, and assigned cases of members who are offline
  (the lapsed-claim release and the requeue act on presence, not on the case's clocks);
- `queued`: per team, the earliest-due queued cases, as many as members have room for,
  with their routing needs.
An idle workspace therefore costs a few index seeks a pass, however many cases it holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from escapevelocity.domain import cases as projection
from escapevelocity.domain import events as ev
from escapevelocity.domain.escalation import escalate, need_of
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import Organisation
from escapevelocity.domain.routing import Need, RoutingState, Waiting, drain, stranded
from escapevelocity.domain.sla import Budget, done_keys, fold, next_deadline, sla_events


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


@dataclass
class TickState:
    cases: dict[str, projection.Case]  # every case read this pass, by id
    logs: dict[str, list[Event]]  # the event logs of the due cases
    due: list[str]  # ids whose next deadline has passed
    needs: dict[str, Need] = field(default_factory=dict)  # routing needs of queued cases


def plan_tick(s: TickState, budgets: Mapping[str, Budget], org: Organisation,
              state: RoutingState, now: datetime) -> tuple[dict[str, list[Event]], TickReport]:
    """Events to append per case (in order) and the pass's counts. Mutates `state` (routing
    loads) as work is handed out."""
    report = TickReport()
    pending: dict[str, list[Event]] = defaultdict(list)
    presence = state.presence
    clocks_of: dict[str, Event] = {}
    for cid in s.due:
        case, log = s.cases[cid], s.logs.get(cid, [])
        clocks = fold(cid, log, budgets, now)
        done = done_keys(log)
        new = sla_events(clocks, org.sla.warn_at, done, now)
        report.warnings += sum(e.kind == ev.SLA_WARNING for e in new)
        report.breaches += sum(e.kind == ev.SLA_BREACHED for e in new)
        steps = escalate(clocks, org, done, state, need_of(log, case.team), now)
        report.escalations += sum(e.kind == ev.ESCALATED for e in steps)
        pending[cid] += new + steps
        current = clocks.current()
        due = current.due if current else None
        if due != case.sla_due and not (due and case.sla_due and
                                           abs((due - case.sla_due).total_seconds()) < 1):
            report.clocks += 1
        else:
            due = case.sla_due
        ladder = [step.at for step in org.sla.ladder(clocks.track)]
        upcoming = next_deadline(clocks, org.sla.warn_at, ladder, done, now)
        clocks_of[cid] = ev.SlaClock(stream=cid, at=now, actor=ev.SYSTEM,
                                     clock=current.clock if current else None, due=due,
                                     next=upcoming)

    # Work held by people who are gone goes back to the queue: first a claim whose lease
    # ran out while its holder went offline is let go, then unclaimed work is requeued.
    after = {cid: projection.apply_all(case, pending.get(cid, ())) for cid, case in s.cases.items()}
    for cid, c in after.items():
        holder = c.claimed_by
        if (c.state == "claimed" and holder and c.claim_until
                and c.claim_until < now and presence.get(holder, "offline") == "offline"):
            lapsed = ev.Released(stream=cid, at=now, actor=ev.SYSTEM, holder=holder,
                                 expired=True, reason=f"the claim lapsed and {holder} is offline")
            pending[cid].append(lapsed)
            after[cid] = projection.apply(c, lapsed)
            report.released += 1
    held = [(cid, c.assignee, bool(c.claimed_by and c.claim_until and
                                      c.claim_until >= now))
            for cid, c in after.items() if c.state == "assigned"]
    for cid in stranded(held, presence):
        who = after[cid].assignee
        requeued = ev.Assigned(stream=cid, at=now, actor=ev.SYSTEM, team=after[cid].team,
                               member=None, strategy="queue",
                               explanation=f"requeued: {who} went offline before claiming it",
                               previous=who)
        state.freed(who)
        pending[cid].append(requeued)
        after[cid] = projection.apply(after[cid], requeued)
        report.requeued += 1

    # The backlog: earliest due first, to whoever has room now.
    waiting = [Waiting(cid, s.needs.get(cid) or need_of(s.logs.get(cid, []), c.team),
                       c.sla_due, c.opened_at or now)
               for cid, c in after.items() if c.state == "queued" and c.respond]
    for cid, a in drain(waiting, org, state, now):
        pending[cid].append(ev.Assigned(stream=cid, at=now, actor=ev.SYSTEM, team=a.team,
                                        member=a.member, strategy=a.strategy,
                                        explanation=f"from the queue: {a.explanation}"))
        report.drained += 1

    for cid, e in clocks_of.items():  # last: it sets the case's next deadline
        pending[cid].append(e)
    return {cid: new for cid, new in pending.items() if new}, report
