"""The organisation: hubs and spokes, teams, members with skills, languages, shifts, capacity.

Loaded from YAML (`ev workspace init` seeds one; issue 5 adds `ev org apply`). Presence and load
are not part of the organisation: they change by the second and are passed to routing as state.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import msgspec

ROLES = ("strategist", "community_manager", "liaison", "analyst", "approver", "agency", "admin")
STRATEGIES = ("least_load", "round_robin", "expertise")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Shift(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    tz: str = "UTC"
    days: list[str] = msgspec.field(default_factory=lambda: list(DAYS))
    start: str = "00:00"
    end: str = "24:00"

    def covers(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.tz))
        if DAYS[local.weekday()] not in self.days:
            return False
        start = time.fromisoformat(self.start)
        now = local.time()
        if self.end == "24:00":
            return now >= start
        end = time.fromisoformat(self.end)
        return start <= now < end if start <= end else (now >= start or now < end)


class Team(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    name: str
    kind: str = "spoke"  # hub / spoke / agency
    hub: str | None = None
    strategy: str = "least_load"
    overflow: str | None = None  # team that takes cases nobody here can take


class Member(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: str
    name: str
    teams: list[str]
    role: str = "community_manager"
    email: str = ""
    skills: dict[str, int] = {}  # skill -> proficiency 1..5
    languages: list[str] = msgspec.field(default_factory=lambda: ["en"])
    capacity: int = 10
    shift: Shift = Shift()


class Organisation(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    teams: list[Team]
    members: list[Member]

    def team(self, team_id: str) -> Team | None:
        return next((t for t in self.teams if t.id == team_id), None)

    def members_of(self, team_id: str) -> list[Member]:
        return [m for m in self.members if team_id in m.teams]

    def member(self, member_id: str) -> Member | None:
        return next((m for m in self.members if m.id == member_id), None)

    def check(self) -> list[str]:
        """Problems that make the organisation unusable, in words."""
        ids = {t.id for t in self.teams}
        problems = []
        for t in self.teams:
            if t.strategy not in STRATEGIES:
                problems.append(f"team {t.id}: unknown strategy {t.strategy!r}")
            for ref in (t.hub, t.overflow):
                if ref and ref not in ids:
                    problems.append(f"team {t.id}: unknown team {ref!r}")
        for m in self.members:
            problems += [f"member {m.id}: unknown team {t!r}" for t in m.teams if t not in ids]
            if m.role not in ROLES:
                problems.append(f"member {m.id}: unknown role {m.role!r}; roles: {ROLES}")
        return problems


def load_org(data: dict) -> Organisation:
    org = msgspec.convert(data, Organisation)
    problems = org.check()
    if problems:
        raise ValueError("organisation: " + "; ".join(problems))
    return org
