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
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from escapevelocity.domain.org import Organisation
from escapevelocity.domain.sla import (
    CLOCKS,
    Attainment,
    CaseClocks,
    Outcome,
    Tally,
    fold,
    outcomes,
)
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
    folding: str | None = None  # how far the first fold of a large log has got


class _Folds:
    def __init__(self) -> None:
        self.seq = -1  # the log position the folds are current to; -1: never folded
        self.at = 0.0
        self.playbook = ""  # budgets come from the active playbook: a new one refolds all
        self.cases: dict[str, CaseClocks] = {}
        # Decided clocks counted by outcome, kept in step with `cases` as cases are refolded, so
        # a page sums a few hundred counters instead of walking every case (1 s at 1.4M cases).
        self.tally: Counter[Outcome] = Counter()
        self.lock = threading.Lock()
        self.warming: threading.Thread | None = None
        self.done = self.total = 0


_FOLDS: weakref.WeakKeyDictionary[Any, _Folds] = weakref.WeakKeyDictionary()
FOLD_INLINE = 20_000  # a workspace with more cases folds its log in the background at first
CHUNK = 2_000  # cases folded per read of the log
# On PostgreSQL sequence numbers are handed out before commit, so an event may land below the
# position already read: each refresh looks this far back again (refolding a case is cheap).
REREAD = 5_000


def _fold_all(workspace: Any, cache: _Folds, now: datetime, budgets: Any, seq: int) -> None:
    store = workspace.store
    with store.begin() as tx:
        ids = tx.cases.ids()
    cache.total, cache.done = len(ids), 0
    cases: dict[str, CaseClocks] = {}
    for start in range(0, len(ids), CHUNK):
        with store.begin() as tx:
            logs = tx.events.streams(ids[start:start + CHUNK])
        cases.update((cid, fold(cid, log, budgets, now)) for cid, log in logs.items())
        cache.done = len(cases)
    tally = _tally(cases.values())
    with cache.lock:
        cache.cases, cache.tally, cache.seq, cache.at = cases, tally, seq, time.monotonic()


def _tally(cases: Iterable[CaseClocks]) -> Counter[Outcome]:
    out: Counter[Outcome] = Counter()
    for case in cases:
        out.update(outcomes(case))
    return out


def _refold(cache: _Folds, folds: Iterable[CaseClocks]) -> None:
    """Replace some cases' folds, moving the tally by what each case's outcomes became."""
    for new in folds:
        old = cache.cases.get(new.case_id)
        if old is not None:
            cache.tally.subtract(outcomes(old))
        cache.tally.update(outcomes(new))
        cache.cases[new.case_id] = new


def folded(workspace: Any, now: datetime, *, ttl: float = FOLD_TTL
           ) -> tuple[list[CaseClocks], str | None]:
    """Every case's SLA clocks and, while a large workspace's first fold runs in the
    background, how far it has got (None when the figures are complete)."""
    cache, folding = _refreshed(workspace, now, ttl)
    with cache.lock:
        return ([] if folding else list(cache.cases.values())), folding


def decided(workspace: Any, now: datetime, *, ttl: float = FOLD_TTL
            ) -> tuple[Counter[Outcome], str | None]:
    """The decided clocks counted by outcome (what "SLA met %" sums), and the first fold's
    progress as `folded` says it."""
    cache, folding = _refreshed(workspace, now, ttl)
    with cache.lock:
        return (Counter() if folding else Counter(cache.tally)), folding


def _refreshed(workspace: Any, now: datetime, ttl: float) -> tuple[_Folds, str | None]:
    """The store's folds, brought up to date.

    After the first fold, only the cases with new events are refolded (their ids come from a
    range of the log's primary key), when the log moved and `ttl` seconds have passed: a page
    costs the cases that changed, not the whole log. A clock that runs out without any event
    is refolded when the SLA tick records its breach."""
    store = workspace.store
    cache = _FOLDS.get(store)
    if cache is None:
        cache = _FOLDS.setdefault(store, _Folds())
    playbook = workspace.triager().playbook
    with cache.lock:
        if cache.warming is not None:
            if cache.warming.is_alive():
                share = cache.done / cache.total if cache.total else 0.0
                return cache, f"{share:.0%} of {cache.total:,} cases"
            cache.warming = None
        budgets = budgets_for(playbook)
        version = str(getattr(playbook, "version", ""))
        with store.begin() as tx:
            seq = tx.events.last_seq()
            if cache.seq < 0 or version != cache.playbook:
                cache.playbook = version
                count = tx.cases.count()
                if count > FOLD_INLINE:
                    cache.warming = threading.Thread(
                        target=_fold_all, args=(workspace, cache, now, budgets, seq),
                        name="sla-fold", daemon=True)
                    cache.warming.start()
                    return cache, f"0% of {count:,} cases"
                logs = tx.events.streams(tx.cases.ids())
                cache.cases = {cid: fold(cid, log, budgets, now) for cid, log in logs.items()}
                cache.tally = _tally(cache.cases.values())
                cache.seq, cache.at = seq, time.monotonic()
            elif seq != cache.seq and time.monotonic() - cache.at >= ttl:
                changed = tx.events.case_streams_after(max(0, cache.seq - REREAD))
                logs = tx.events.streams(changed)
                _refold(cache, (fold(cid, log, budgets, now) for cid, log in logs.items()))
                cache.seq, cache.at = seq, time.monotonic()
        return cache, None


def attainment_of(tally: Counter[Outcome], teams: set[str]
                  ) -> tuple[Attainment, dict[str, Attainment]]:
    """SLA met % over the visible teams, overall and per team, from counted outcomes."""
    overall, per_team = Attainment(), {t: Attainment() for t in teams}
    for outcome, n in tally.items():
        team = outcome[1]
        if n and team in per_team:
            overall.count(outcome, n)
            per_team[team].count(outcome, n)
    return overall, per_team


def overview(workspace: Any, org: Organisation, teams: set[str], now: datetime, *,
             clock: str = "first_response") -> Overview:
    clock = clock if clock in CLOCKS else "first_response"
    store = workspace.store
    with store.begin() as tx:
        seen = tx.org.presence_seen()
        presence = live_presence(tx, now, workspace.away_after)
        loads = tx.cases.open_loads()
        queues = tx.cases.queue_summary()
    tally, folding = decided(workspace, now)
    overall, per_team = attainment_of(tally, teams)
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
    return Overview(rows, _tracks(overall, clock), clock, folding)


def _tracks(att: Attainment, clock: str) -> list[tuple[str, Tally]]:
    return sorted((track, t) for (c, track), t in att.by_track.items() if c == clock)
