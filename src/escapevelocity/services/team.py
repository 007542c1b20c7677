"""The team overview: per team its queue, its members' presence and load, and "SLA met %" per
track, team and member, all read from the store and the event log.

SLA met % is the projection domain/sla.attainment computes, restricted to the teams the reader
may see. Folding every case's log is the expensive part, so the folded clocks are kept per store
and refolded only when the log has moved on and `FOLD_TTL` seconds have passed (a page costs
an aggregation, not a read of the whole log).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from escapevelocity.domain.org import Organisation
from escapevelocity.domain.sla import CLOCKS, Attainment, CaseClocks, Tally, fold
from escapevelocity.services.live_routing import budgets_for, live_presence

FOLD_TTL = 15.0  # seconds a folded log is reused once new events arrived


@dataclass
class MemberRow:
    id: str
    name: str
    role: str
    presence: str  # derived: what routing sees
    declared: str  # what the member said
    last_seen: datetime | None
    on_shift: bool
    load: int
    capacity: int
    met: Tally | None


@dataclass
class TeamRow:
    id: str
    name: str
    kind: str
    strategy: str
    queued: int
    oldest_due: datetime | None
    members: list[MemberRow]
    met: Tally | None
    tracks: list[tuple[str, Tally]] = field(default_factory=list)


@dataclass
class Overview:
    teams: list[TeamRow]
    tracks: list[tuple[str, Tally]]  # across the visible teams
    clock: str


class _Folds:
    def __init__(self) -> None:
        self.seq = -1
        self.at = 0.0
        self.cases: list[CaseClocks] = []
        self.lock = threading.Lock()


_FOLDS: weakref.WeakKeyDictionary[Any, _Folds] = weakref.WeakKeyDictionary()


def folded(workspace: Any, now: datetime, *, ttl: float = FOLD_TTL) -> list[CaseClocks]:
    """Every case's SLA clocks, refolded when the log moved and `ttl` seconds have passed."""
    store = workspace.store
    cache = _FOLDS.get(store)
    if cache is None:
        cache = _FOLDS.setdefault(store, _Folds())
    with cache.lock:
        with store.begin() as conn:
            seq = store.last_seq(conn)
            stale = seq != cache.seq and (cache.seq < 0 or time.monotonic() - cache.at >= ttl)
            if stale:
                budgets = budgets_for(workspace.triager().playbook)
                logs = store.events_for_cases(conn, store.all_case_ids(conn))
                cache.cases = [fold(cid, log, budgets, now) for cid, log in logs.items()]
                cache.seq, cache.at = seq, time.monotonic()
        return cache.cases


def attainment_by_team(cases: Iterable[CaseClocks], teams: set[str]
                       ) -> tuple[Attainment, dict[str, Attainment]]:
    """SLA met % over the visible teams' cases, overall and per team."""
    overall, per_team = Attainment(), {t: Attainment() for t in teams}
    for c in cases:
        if c.team in per_team:
            overall.add(c)
            per_team[c.team].add(c)
    return overall, per_team


def overview(workspace: Any, org: Organisation, teams: set[str], now: datetime, *,
             clock: str = "first_response") -> Overview:
    clock = clock if clock in CLOCKS else "first_response"
    store = workspace.store
    with store.begin() as conn:
        seen = store.presence_seen(conn)
        presence = live_presence(store, conn, now, workspace.away_after)
        loads = store.open_loads(conn)
        queues = store.queue_summary(conn)
    overall, per_team = attainment_by_team(folded(workspace, now), teams)
    rows = []
    for team in org.teams:
        if team.id not in teams:
            continue
        att = per_team[team.id]
        members = []
        for m in org.members_of(team.id):
            declared, last = seen.get(m.id, ("offline", None))
            members.append(MemberRow(
                m.id, m.name, m.role, presence.get(m.id, "offline"), declared, last,
                m.shift.covers(now), loads.get(m.id, 0), m.capacity,
                att.by_member.get((clock, m.id))))
        queued, due = queues.get(team.id, (0, None))
        rows.append(TeamRow(team.id, team.name, team.kind, team.strategy, queued, due, members,
                            att.by_team.get((clock, team.id)), _tracks(att, clock)))
    return Overview(rows, _tracks(overall, clock), clock)


def _tracks(att: Attainment, clock: str) -> list[tuple[str, Tally]]:
    return sorted((track, t) for (c, track), t in att.by_track.items() if c == clock)
