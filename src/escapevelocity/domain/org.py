"""The organisation: hubs and spokes, teams, members with skills, languages, shifts, capacity.

Loaded from YAML (`ev org apply org.yaml`; `ev workspace init` seeds the demo one). Presence and
load are not part of the organisation: they change by the second and are passed to routing as
state. The SLA escalation ladders live here too, because who is notified, who is paged and who
takes over are questions about people, not about the playbook's rules.

Who sees which team's cases is the access policy's question (domain/access.visible_teams).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

ROLES = ("strategist", "community_manager", "liaison", "analyst", "approver", "agency", "admin")
STRATEGIES = ("least_load", "round_robin", "expertise")
KINDS = ("hub", "spoke", "agency")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OVERFLOW_WHEN = ("busy", "off_hours")
ACTIONS = ("notify_assignee", "reassign", "notify_lead", "page_on_call")
PRESENCE = ("online", "away", "offline")
# A team's or member's id and name as the store's columns hold them (teams, members: 64 and
# 200). SQLite would take longer ones and PostgreSQL refuse them mid-save, so an organisation
# being saved refuses them on every backend, whichever edge brought it (admin pages,
# `ev org apply`, single sign-on); one already stored (SQLite took it) still loads.
MAX_ID = 64
MAX_NAME = 200


class Shift(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Working hours in the member's time zone; `end` before `start` runs through midnight."""

    tz: str = "UTC"
    days: list[str] = msgspec.field(default_factory=lambda: list(DAYS))
    start: str = "00:00"
    end: str = "24:00"
    holidays: list[date] = []  # local dates off (public holidays, leave)

    def covers(self, at: datetime) -> bool:
        return compile_shift(self).covers(at)


@dataclass(frozen=True, slots=True)
class CompiledShift:
    """A shift as numbers: checking it costs a time-zone conversion and two comparisons."""

    zone: tzinfo
    days: frozenset[int]
    start: int  # minutes since local midnight
    end: int
    holidays: frozenset[date]

    def covers(self, at: datetime) -> bool:
        return self.covers_local(at.astimezone(self.zone))

    def covers_local(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        if self.start <= self.end:
            day = local.date() if self.start <= minute < self.end else None
        elif minute >= self.start:
            day = local.date()
        elif minute < self.end:  # after midnight: the shift began the day before
            day = local.date() - timedelta(days=1)
        else:
            day = None
        return day is not None and day.weekday() in self.days and day not in self.holidays


def _minutes(value: str) -> int:
    if value == "24:00":
        return 24 * 60
    t = time.fromisoformat(value)
    return t.hour * 60 + t.minute


_SHIFTS: dict[tuple, CompiledShift] = {}


def compile_shift(shift: Shift) -> CompiledShift:
    key = (shift.tz, tuple(shift.days), shift.start, shift.end, tuple(shift.holidays))
    found = _SHIFTS.get(key)
    if found is None:
        found = CompiledShift(ZoneInfo(shift.tz), frozenset(DAYS.index(d) for d in shift.days),
                              _minutes(shift.start), _minutes(shift.end),
                              frozenset(shift.holidays))
        if len(_SHIFTS) < 10_000:
            _SHIFTS[key] = found
    return found


class Overflow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Where cases go when this team cannot take them.

    `busy`: nobody here is online, on shift and under capacity. `off_hours`: nobody here is on
    shift at all (nights, weekends, holidays): follow the sun to another region's team, and
    queue there. `start`/`end` limit the rule to a window, such as a product launch.
    """

    to: str
    when: str = "busy"
    start: datetime | None = None
    end: datetime | None = None
    description: str = ""

    def active(self, now: datetime) -> bool:
        return ((self.start is None or now >= _aware(self.start))
                and (self.end is None or now < _aware(self.end)))


class Team(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    name: str
    kind: str = "spoke"  # hub / spoke / agency
    hub: str | None = None
    strategy: str = "least_load"
    overflow: str | None = None  # team that takes cases nobody here can take (a `busy` rule)
    overflows: list[Overflow] = []  # more rules, tried in order before `overflow`
    region: str = ""
    lead: str | None = None  # member notified by the escalation ladder
    on_call: list[str] = []  # members paged by the escalation ladder, first first
    # "shadow": a spoke not yet approved (domain/governance): routing sends its cases to its
    # hub and the access policy gives it no reply rights; its members draft in shadow
    mode: str = "live"

    def overflow_rules(self) -> list[Overflow]:
        return [*self.overflows, *([Overflow(self.overflow)] if self.overflow else [])]


class Member(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    name: str
    teams: list[str]
    role: str = "community_manager"
    email: str = ""
    skills: dict[str, int] = {}  # skill -> proficiency 1..5
    skill_until: dict[str, date] = {}  # skill -> last day it counts (e.g. a launch skill)
    languages: list[str] = msgspec.field(default_factory=lambda: ["en"])
    region: str = ""
    capacity: int = 10
    shift: Shift = Shift()

    def skill(self, name: str, today: date | None = None) -> int:
        level = self.skills.get(name, 0)
        until = self.skill_until.get(name)
        if level and until is not None and today is not None and today > until:
            return 0
        return level


class EscalationStep(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One rung: `action` once the SLA clock has used `at` of its budget (1.0 = the breach)."""

    action: str
    at: float


DEFAULT_LADDER = (EscalationStep("notify_assignee", 0.75), EscalationStep("reassign", 1.0),
                  EscalationStep("notify_lead", 1.25), EscalationStep("page_on_call", 1.5))


class SlaSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    warn_at: float = 0.75  # share of the budget at which a warning event is written
    escalation: dict[str, list[EscalationStep]] = {}  # track (or "default") -> ladder

    def ladder(self, track: str | None) -> tuple[EscalationStep, ...]:
        steps = self.escalation.get(track or "") or self.escalation.get("default")
        return tuple(sorted(steps, key=lambda s: s.at)) if steps else DEFAULT_LADDER


class Organisation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    teams: list[Team]
    members: list[Member]
    sla: SlaSettings = SlaSettings()
    description: str = ""
    simulation: dict[str, Any] = {}  # response-time profiles for `ev simulate` (domain/simulate)

    def team(self, team_id: str) -> Team | None:
        return index(self).teams.get(team_id)

    def members_of(self, team_id: str) -> list[Member]:
        return list(index(self).members_of.get(team_id, ()))

    def member(self, member_id: str) -> Member | None:
        return index(self).members.get(member_id)

    def check(self, *, stored: bool = False) -> list[str]:
        """Problems that make the organisation unusable, in words; `stored`: it was saved
        already, so the store's lengths are not asked of it again."""
        ids = {t.id for t in self.teams}
        people = {m.id for m in self.members}
        problems = []
        for dup in sorted({t.id for t in self.teams if [x.id for x in self.teams].count(t.id) > 1}):
            problems.append(f"team {dup}: defined twice")
        for dup in sorted({m.id for m in self.members
                           if [x.id for x in self.members].count(m.id) > 1}):
            problems.append(f"member {dup}: defined twice")
        if not stored:
            problems += _length_problems("team", self.teams)
            problems += _length_problems("member", self.members)
        for t in self.teams:
            if t.strategy not in STRATEGIES:
                problems.append(f"team {t.id}: unknown strategy {t.strategy!r}; strategies: "
                                f"{', '.join(STRATEGIES)}")
            if t.mode not in ("live", "shadow"):
                problems.append(f"team {t.id}: mode {t.mode!r} is live or shadow")
            if t.kind not in KINDS:
                problems.append(f"team {t.id}: unknown kind {t.kind!r}; kinds: {', '.join(KINDS)}")
            for ref in (t.hub, t.overflow, *(o.to for o in t.overflows)):
                if ref and ref not in ids:
                    problems.append(f"team {t.id}: unknown team {ref!r}")
            if t.hub and self.team(t.hub) and self.team(t.hub).kind != "hub":
                problems.append(f"team {t.id}: {t.hub!r} is not a hub")
            for o in t.overflows:
                if o.when not in OVERFLOW_WHEN:
                    problems.append(f"team {t.id}: overflow when {o.when!r}; one of "
                                    f"{', '.join(OVERFLOW_WHEN)}")
                if o.start and o.end and _aware(o.end) <= _aware(o.start):
                    problems.append(f"team {t.id}: overflow window to {o.to} ends before it starts")
            for who in (t.lead, *t.on_call):
                if who and who not in people:
                    problems.append(f"team {t.id}: unknown member {who!r}")
        for m in self.members:
            problems += [f"member {m.id}: unknown team {t!r}" for t in m.teams if t not in ids]
            if m.role not in ROLES:
                problems.append(f"member {m.id}: unknown role {m.role!r}; "
                                f"roles: {', '.join(ROLES)}")
            if m.capacity < 0:
                problems.append(f"member {m.id}: capacity must be 0 or more")
            bad = [s for s, level in m.skills.items() if not 1 <= level <= 5]
            if bad:
                problems.append(f"member {m.id}: proficiency of {', '.join(bad)} must be 1..5")
            problems += _shift_problems(m)
        if not 0 < self.sla.warn_at < 1:
            problems.append(f"sla: warn_at {self.sla.warn_at} must be between 0 and 1")
        for track, steps in self.sla.escalation.items():
            for s in steps:
                if s.action not in ACTIONS:
                    problems.append(f"sla escalation {track}: unknown action {s.action!r}; "
                                    f"actions: {', '.join(ACTIONS)}")
                if s.at <= 0:
                    problems.append(f"sla escalation {track}: {s.action} at must be positive")
        return problems


def _length_problems(what: str, items: list[Team] | list[Member]) -> list[str]:
    out = []
    for x in items:
        if len(x.id) > MAX_ID:
            out.append(f"{what} {x.id[:40]}…: an id is at most {MAX_ID} characters "
                       f"(this one has {len(x.id)})")
        if len(x.name) > MAX_NAME:
            out.append(f"{what} {x.id[:40]}: a name is at most {MAX_NAME} characters "
                       f"(this one has {len(x.name)})")
    return out


def _shift_problems(m: Member) -> list[str]:
    s = m.shift
    out = []
    try:
        ZoneInfo(s.tz)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(f"member {m.id}: unknown time zone {s.tz!r}")
    bad = [d for d in s.days if d not in DAYS]
    if bad:
        out.append(f"member {m.id}: unknown shift days {bad}; days: {', '.join(DAYS)}")
    for v in (s.start, s.end):
        try:
            _minutes(v)
        except ValueError:
            out.append(f"member {m.id}: shift time {v!r} is not HH:MM")
    return out


def _aware(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo else t.replace(tzinfo=UTC)


def load_org(data: dict, *, stored: bool = False) -> Organisation:
    try:
        org = msgspec.convert(data, Organisation)
    except msgspec.ValidationError as exc:
        raise ValueError(f"organisation: {exc}") from None
    problems = org.check(stored=stored)
    if problems:
        raise ValueError("organisation: " + "; ".join(problems))
    return org


# --- lookups, compiled once per organisation ---------------------------------------------------

@dataclass(frozen=True)
class OrgIndex:
    teams: dict[str, Team]
    members: dict[str, Member]
    members_of: dict[str, tuple[Member, ...]]
    shifts: dict[str, CompiledShift]  # member -> shift
    zones: tuple[tzinfo, ...]  # distinct shift zones, so routing converts `now` once per zone
    zone_of: dict[str, int]  # member -> position in zones
    # (team, UTC minute) -> its members on shift then: routing.on_shift's memo
    on_shift: dict[tuple[str, float], tuple[Member, ...]] = field(default_factory=dict,
                                                                  compare=False)


_INDEX: dict[int, tuple[Organisation, OrgIndex]] = {}


def index(org: Organisation) -> OrgIndex:
    """Dict lookups for an organisation; memoised by identity (the org is immutable)."""
    hit = _INDEX.get(id(org))
    if hit is not None and hit[0] is org:
        return hit[1]
    members_of: dict[str, list[Member]] = {}
    for m in org.members:
        for t in m.teams:
            members_of.setdefault(t, []).append(m)
    shifts = {m.id: compile_shift(m.shift) for m in org.members}
    zones: list[tzinfo] = []
    zone_of: dict[str, int] = {}
    for mid, s in shifts.items():
        if s.zone not in zones:
            zones.append(s.zone)
        zone_of[mid] = zones.index(s.zone)
    built = OrgIndex({t.id: t for t in org.teams}, {m.id: m for m in org.members},
                     {k: tuple(v) for k, v in members_of.items()}, shifts, tuple(zones), zone_of)
    if len(_INDEX) >= 16:  # holding the org keeps its id from being reused while cached
        _INDEX.pop(next(iter(_INDEX)))
    _INDEX[id(org)] = (org, built)
    return built
