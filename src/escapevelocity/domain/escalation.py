"""The escalation ladder: what happens as a running SLA clock uses up its budget. Pure.

Each track has a ladder (organisation `sla.escalation`, default: notify the assignee at 75%,
reassign at the breach, notify the team lead at 125%, page on-call at 150%). Each rung is one
`escalated` event naming the clock, the step and whom it went to; a reassignment also writes
the `assigned` event routing chose (another member with room, or the queue). Rungs are climbed
once per clock cycle (see domain/sla.py) and several at once when a tick comes late.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from escapevelocity.domain import events as ev
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import EscalationStep, Organisation, Team
from escapevelocity.domain.routing import Need, RoutingState, assign
from escapevelocity.domain.sla import CaseClocks, Clock


def need_of(events: Iterable[Event], team: str | None) -> Need:
    """Routing's view of a case from its DECIDED event (topics and language of the signals)."""
    track, topics, language = "", (), "und"
    for e in events:
        if isinstance(e, ev.Decided):
            track = e.decision["track"]
            sig = e.signals
            topics, language = tuple(sig.get("topics", ())), sig.get("language", "und")
    return Need(team or "", track, topics, language)


def _up(org: Organisation, team: Team | None, attr: str) -> str | None:
    """The team's lead (or first on-call), else its hub's."""
    seen = set()
    while team is not None and team.id not in seen:
        seen.add(team.id)
        value = getattr(team, attr)
        if isinstance(value, list):
            value = value[0] if value else None
        if value:
            return value
        team = org.team(team.hub) if team.hub else None
    return None


def _rung(case: CaseClocks, clock: Clock, i: int, step: EscalationStep, now: datetime, *,
          to: str | None, previous: str | None = None, note: str | None = None) -> ev.Escalated:
    """The `escalated` event of rung `i` (shares and minutes as floats: the stored JSON says
    1.0, not 1, whatever number the ladder was written with)."""
    return ev.Escalated(stream=case.case_id, at=now, actor=ev.SYSTEM, clock=clock.clock,
                        since=clock.since.isoformat(), step=i, action=step.action,
                        at_share=float(step.at), used=round(float(clock.used), 2),
                        budget=float(clock.budget), to=to, track=case.track, team=case.team,
                        previous=previous, note=note)


def escalate(case: CaseClocks, org: Organisation, done: set[tuple[str, str, str]],
             state: RoutingState, need: Need, now: datetime) -> list[Event]:
    """Ladder events due for the case's running clocks. Mutates `done` and, on reassignment,
    `state` (the new member's load)."""
    out: list[Event] = []
    ladder = org.sla.ladder(case.track)
    assignee = case.assignee
    team = org.team(case.team) if case.team else None
    for clock in case.clocks:
        if not clock.running:
            continue
        for i, step in enumerate(ladder):
            key = (f"{ev.ESCALATED}:{i}", *clock.key)
            if clock.share < step.at or key in done:
                continue
            done.add(key)
            if step.action == "notify_assignee":
                out.append(_rung(case, clock, i, step, now, to=assignee or (
                    f"team:{case.team}" if case.team else None)))
            elif step.action == "reassign":
                a = assign(Need(case.team or need.team, need.track, need.topics, need.language),
                           org, state, now, exclude=[assignee] if assignee else [])
                if assignee and a.member:
                    state.freed(assignee)
                # nobody else has room: it stays where it is, and the rung says why
                out.append(_rung(case, clock, i, step, now, to=a.member, previous=assignee,
                                 note=a.explanation if a.member is None else None))
                if a.member is not None:
                    why = (f"SLA {clock.clock.replace('_', ' ')} breached"
                           f"{f' with {assignee}' if assignee else ''}: {a.explanation}")
                    out.append(ev.Assigned(stream=case.case_id, at=now, actor=ev.SYSTEM,
                                           team=a.team, member=a.member, strategy=a.strategy,
                                           explanation=why, escalation=True))
                    assignee = a.member
            elif step.action == "notify_lead":
                out.append(_rung(case, clock, i, step, now, to=_up(org, team, "lead")))
            elif step.action == "page_on_call":
                out.append(_rung(case, clock, i, step, now,
                                 to=_up(org, team, "on_call") or _up(org, team, "lead")))
    return out
