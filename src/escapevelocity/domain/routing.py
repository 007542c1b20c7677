"""Routing: the team comes from the playbook decision; the member from the team's strategy.

Pure: the caller passes presence and open-case load as plain dicts and gets an Assignment back
with a one-line explanation. Nobody offline, off shift or at capacity is ever picked; when
nobody fits, the case waits in the team's queue (member None) or overflows to the team's
overflow team.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from escapevelocity.domain.org import Member, Organisation
from escapevelocity.domain.records import Assignment, Decision, Signals


@dataclass
class RoutingState:
    """What routing reads and updates as it assigns: presence, open load, round-robin cursor."""

    presence: dict[str, str] = field(default_factory=dict)  # member -> online/away/offline
    load: dict[str, int] = field(default_factory=dict)  # member -> open cases assigned
    cursor: dict[str, int] = field(default_factory=dict)  # team -> round-robin position

    def assigned(self, member: str) -> None:
        self.load[member] = self.load.get(member, 0) + 1


def available(member: Member, state: RoutingState, now: datetime) -> bool:
    return (state.presence.get(member.id) == "online"
            and state.load.get(member.id, 0) < member.capacity
            and member.shift.covers(now))


def _skill(member: Member, signals: Signals) -> int:
    return max((member.skills.get(t, 0) for t in signals.topics), default=0)


def route(decision: Decision, signals: Signals, org: Organisation, state: RoutingState,
          now: datetime, *, prefer: str | None = None) -> Assignment:
    """Pick a member of the decision's team. Mutates only `state` (load, cursor)."""
    team_id = decision.team
    seen: set[str] = set()
    while team_id and team_id not in seen:
        seen.add(team_id)
        team = org.team(team_id)
        if team is None:
            return Assignment(team_id, None, "none", f"team {team_id!r} is not in the organisation")
        candidates = [m for m in org.members_of(team_id) if available(m, state, now)]
        if candidates:
            member, why = _pick(team.strategy, team_id, candidates, signals, state, prefer)
            state.assigned(member.id)
            overflow = f" (overflow from {decision.team})" if team_id != decision.team else ""
            return Assignment(team_id, member.id, team.strategy, f"routed to {member.name}: {why}{overflow}")
        if not team.overflow:
            break
        team_id = team.overflow
    return Assignment(decision.team, None, "queue",
                      f"queued for {decision.team}: nobody online with spare capacity")


def _pick(strategy: str, team_id: str, candidates: list[Member], signals: Signals,
          state: RoutingState, prefer: str | None) -> tuple[Member, str]:
    load = state.load
    if prefer:
        for m in candidates:
            if m.id == prefer:
                return m, "handled this author before, available"
    if strategy == "round_robin":
        pos = state.cursor.get(team_id, 0) % len(candidates)
        state.cursor[team_id] = pos + 1
        m = candidates[pos]
        return m, f"round robin, {load.get(m.id, 0)}/{m.capacity} cases"
    if strategy == "expertise":
        def score(m: Member) -> tuple[float, str]:
            skill = _skill(m, signals)
            lang = 1 if signals.language in m.languages else 0
            spare = 1 - load.get(m.id, 0) / m.capacity
            return skill * 2 + lang * 3 + spare * 2, m.id
        m = max(candidates, key=score)
        topic = ", ".join(signals.topics) or "general"
        return m, (f"{topic} skill {_skill(m, signals)}/5, speaks {signals.language}, "
                   f"{load.get(m.id, 0)}/{m.capacity} cases")
    m = min(candidates, key=lambda m: (load.get(m.id, 0) / m.capacity, m.id))
    return m, f"least load, {load.get(m.id, 0)}/{m.capacity} cases, online"


