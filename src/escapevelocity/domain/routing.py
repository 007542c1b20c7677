"""Routing: the team comes from the playbook decision; the member from the team's strategy.

Pure: the caller passes presence, open-case load and response history as plain dicts and gets an
Assignment back with a one-line explanation. Nobody offline, away, off shift or at capacity is
ever picked. When nobody fits, the team's overflow rules are tried in order (`busy`: nobody
available here; `off_hours`: nobody here is even on shift, so follow the sun and queue there);
when none applies the case waits in the team's queue (member None).

`drain` hands queued cases to members who have room, oldest SLA due time first; `stranded` names
the unclaimed cases held by members who went offline, so the caller can put them back.

Fast: an organisation is indexed once (`org.index`), each call converts `now` once per time zone
in use, and no strategy sorts: a routing decision is a few dict lookups per team member.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from escapevelocity.domain.org import Member, Organisation, OrgIndex, index
from escapevelocity.domain.permissions import MATRIX, REPLY
from escapevelocity.domain.records import Assignment, Decision, Signals

# Only members who may answer are routed cases (an analyst sees dashboards, never a queue).
ANSWERING_ROLES = frozenset(role for role, actions in MATRIX.items() if REPLY in actions)

AWAY_AFTER = timedelta(minutes=10)  # no activity this long: away (not routed to)
OFFLINE_AFTER = timedelta(minutes=60)  # no activity this long: offline (unclaimed work requeued)


@dataclass
class RoutingState:
    """What routing reads and updates as it assigns: presence, open load, round-robin cursor,
    and each member's median first-reply minutes per track (from the event log)."""

    presence: dict[str, str] = field(default_factory=dict)  # member -> online/away/offline
    load: dict[str, int] = field(default_factory=dict)  # member -> open cases assigned
    cursor: dict[str, int] = field(default_factory=dict)  # team -> round-robin position
    first_reply: dict[tuple[str, str], float] = field(default_factory=dict)  # (member, track)

    def assigned(self, member: str) -> None:
        self.load[member] = self.load.get(member, 0) + 1

    def freed(self, member: str) -> None:
        self.load[member] = max(0, self.load.get(member, 0) - 1)


@dataclass(frozen=True, slots=True)
class Need:
    """What routing needs to know about a case: its team and track, topics and language."""

    team: str
    track: str = ""
    topics: tuple[str, ...] = ()
    language: str = "und"

    @classmethod
    def of(cls, decision: Decision, signals: Signals) -> Need:
        return cls(decision.team, decision.track, signals.topics, signals.language)


def presence_at(declared: str, last_seen: datetime | None, now: datetime, *,
                away_after: timedelta = AWAY_AFTER,
                offline_after: timedelta = OFFLINE_AFTER) -> str:
    """Presence from real activity: a member who said "online" but has done nothing for a while
    is away, then offline. An open browser tab is not activity; claims, replies and clicks are."""
    if declared != "online" or last_seen is None:
        return declared if declared in ("away", "offline") else "offline"
    idle = now - last_seen
    return "offline" if idle >= offline_after else "away" if idle >= away_after else "online"


def available(member: Member, state: RoutingState, now: datetime) -> bool:
    return (state.presence.get(member.id) == "online"
            and state.load.get(member.id, 0) < member.capacity
            and member.shift.covers(now))


def route(decision: Decision, signals: Signals, org: Organisation, state: RoutingState,
          now: datetime, *, prefer: str | None = None,
          exclude: Iterable[str] = ()) -> Assignment:
    """Pick a member of the decision's team. Mutates only `state` (load, cursor)."""
    return assign(Need.of(decision, signals), org, state, now, prefer=prefer, exclude=exclude)


def assign(need: Need, org: Organisation, state: RoutingState, now: datetime, *,
           prefer: str | None = None, exclude: Iterable[str] = ()) -> Assignment:
    ix = index(org)
    presence, load = state.presence, state.load
    skip = set(exclude) if exclude else ()
    team_id, queue_team, seen = need.team, need.team, set()
    shadowed: list[str] = []
    while team_id not in seen:
        seen.add(team_id)
        team = ix.teams.get(team_id)
        if team is None:
            return Assignment(team_id, None, "none", f"team {team_id!r} is not in the organisation")
        if team.mode == "shadow" and team.hub and team.hub not in seen:
            # not live yet (domain/governance): its hub answers; its members see it in shadow
            shadowed.append(team_id)
            queue_team = team.hub if queue_team == team_id else queue_team
            team_id = team.hub
            continue
        candidates: list[Member] = []
        on_shift = 0
        for m in on_shift_members(ix, team_id, now):
            on_shift += 1
            if (presence.get(m.id) == "online" and load.get(m.id, 0) < m.capacity
                    and m.id not in skip and m.role in ANSWERING_ROLES):
                candidates.append(m)
        if candidates:
            member, why = _pick(team.strategy, team_id, candidates, need, state, prefer, now)
            state.assigned(member.id)
            via = f" (overflow from {need.team})" if team_id != need.team else ""
            if shadowed:
                via = f" ({', '.join(shadowed)} in shadow mode)"
            return Assignment(team_id, member.id, team.strategy,
                              f"routed to {member.name}: {why}{via}")
        nxt = None
        for rule in team.overflow_rules():
            if not rule.active(now) or rule.to in seen:
                continue
            if rule.when == "busy" or (rule.when == "off_hours" and on_shift == 0):
                nxt = rule
                break
        if nxt is None:
            break
        if nxt.when == "off_hours":
            queue_team = nxt.to  # follow the sun: the case waits where people are awake
        team_id = nxt.to
    if shadowed and queue_team != need.team:
        why = (f"queued for {queue_team}: {', '.join(shadowed)} in shadow mode, nobody online "
               "with spare capacity")
    elif queue_team != need.team:
        why = f"queued for {queue_team}: {need.team} is off hours, nobody there with spare capacity"
    else:
        why = f"queued for {queue_team}: nobody online with spare capacity"
    return Assignment(queue_team, None, "queue", why)


def on_shift_members(ix: OrgIndex, team_id: str, now: datetime) -> tuple[Member, ...]:
    """The team's members whose shift covers `now`. A shift is a matter of local minutes, so
    the answer holds for the whole UTC minute in every zone whose offset is whole minutes (all
    of today's): it is memoised per team and minute (ev triage, ingest and the clock jobs route
    many mentions in the same minute), and computed afresh where an offset has seconds."""
    key = (team_id, now.timestamp() // 60)
    found = ix.on_shift.get(key)
    if found is not None:
        return found
    local: list = [None] * len(ix.zones)
    whole_minutes = True
    covered = []
    for m in ix.members_of.get(team_id, ()):
        z = ix.zone_of[m.id]
        loc = local[z]
        if loc is None:
            loc = local[z] = now.astimezone(ix.zones[z])
            offset = loc.utcoffset()
            whole_minutes = whole_minutes and offset is not None and \
                not offset.seconds % 60 and not offset.microseconds
        if ix.shifts[m.id].covers_local(loc):
            covered.append(m)
    found = tuple(covered)
    if whole_minutes:
        if len(ix.on_shift) >= 4096:
            ix.on_shift.clear()
        ix.on_shift[key] = found
    return found


def _pick(strategy: str, team_id: str, candidates: list[Member], need: Need,
          state: RoutingState, prefer: str | None, now: datetime) -> tuple[Member, str]:
    load = state.load
    if prefer:
        for m in candidates:
            if m.id == prefer:
                return m, (f"handled this author before, online, "
                           f"{load.get(m.id, 0)}/{m.capacity} cases")
    if strategy == "round_robin":
        pos = state.cursor.get(team_id, 0) % len(candidates)
        state.cursor[team_id] = pos + 1
        m = candidates[pos]
        return m, f"round robin, online, {load.get(m.id, 0)}/{m.capacity} cases"
    if strategy == "expertise":
        return _expertise(candidates, need, state, now)
    best, best_key = candidates[0], (2.0, "")
    for m in candidates:
        key = (load.get(m.id, 0) / m.capacity, m.id)
        if key < best_key:
            best, best_key = m, key
    return best, f"least load, online, {load.get(best.id, 0)}/{best.capacity} cases"


def _expertise(candidates: list[Member], need: Need, state: RoutingState,
               now: datetime) -> tuple[Member, str]:
    """Score = 2·skill (0..5) + 3·speaks the language + 2·spare capacity + 2·fast first replies.

    A member's median first reply on this track counts when the log has one: 0 minutes scores
    2, an hour or more scores 0, unknown scores 1 (neither rewarded nor punished)."""
    load, history = state.load, state.first_reply
    today = now.date()
    best = None
    best_score = -1.0
    for m in candidates:
        if m.skill_until:
            skill = max((m.skill(t, today) for t in need.topics), default=0)
        else:
            skills = m.skills
            skill = max((skills.get(t, 0) for t in need.topics), default=0)
        speaks = need.language in m.languages
        spare = 1 - load.get(m.id, 0) / m.capacity
        median = history.get((m.id, need.track)) if history else None
        speed = 1.0 if median is None else 2 * (1 - min(median, 60.0) / 60)
        score = skill * 2 + (3 if speaks else 0) + spare * 2 + speed
        if score > best_score or (score == best_score and m.id < best.id):
            best, best_score, best_skill, best_median = m, score, skill, median
    topic = ", ".join(need.topics) or "general"
    parts = [f"{topic} skill {best_skill}/5"]
    if need.language not in ("", "und"):
        parts.append(f"speaks {need.language}" if need.language in best.languages
                     else f"does not speak {need.language}")
    parts.append(f"online, {load.get(best.id, 0)}/{best.capacity} cases")
    if best_median is not None:
        parts.append(f"median first reply {best_median:.0f} min on {need.track}")
    return best, ", ".join(parts)


# --- the backlog --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Waiting:
    """A queued case: routing needs its needs; the drain order needs its due time."""

    case_id: str
    need: Need
    due: datetime | None
    opened: datetime


def drain(waiting: Iterable[Waiting], org: Organisation, state: RoutingState, now: datetime
          ) -> list[tuple[str, Assignment]]:
    """Assign queued cases to members with room, the earliest SLA due time first (then the
    oldest). Cases nobody can take stay queued; a team found full is not asked again."""
    order = sorted(waiting, key=lambda w: (w.due is None, w.due or w.opened, w.opened, w.case_id))
    full: set[str] = set()  # availability does not depend on the case, only on its team
    out: list[tuple[str, Assignment]] = []
    for w in order:
        if w.need.team in full:
            continue
        a = assign(w.need, org, state, now)
        if a.member is None:
            full.add(w.need.team)
            continue
        out.append((w.case_id, a))
    return out


def stranded(assigned: Iterable[tuple[str, str, bool]], presence: Mapping[str, str]) -> list[str]:
    """Case ids (of `(case_id, assignee, claimed)`) whose assignee is offline and has not
    claimed them: they go back to the queue rather than wait for someone who is gone."""
    return [cid for cid, who, claimed in assigned
            if who and not claimed and presence.get(who, "offline") == "offline"]
