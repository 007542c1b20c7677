"""The routing state the live paths build (ingest, the SLA tick): presence with auto-away, open
load, and each member's recent median first reply per track from the event log.

Reading a whole log to learn response times on every ingest batch would cost more than the
batch, so `ReplyHistory` keeps them incrementally per store: at most every `HISTORY_TTL`
seconds it reads the reply events appended since it last looked (a primary-key range scan),
folds only those cases' logs into first-response clocks (domain/sla.fold, business minutes on
the track's calendar, the same figure the SLA reports use) and keeps the newest
`HISTORY_WINDOW` per (member, track). Between refreshes a batch pays one monotonic-clock read.
The cache is a speed-up, not a record: a new process rebuilds it from the log.

Auto-away (`away_after`) is off unless asked for; the running web app turns it on
(EV_AWAY_AFTER_MINUTES, default 10). `Backlog` keeps ingest first in, first out: a new case
queues behind a team's waiting cases instead of jumping them.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from statistics import median
from typing import TYPE_CHECKING, Any

from escapevelocity.domain import events as ev
from escapevelocity.domain.records import Assignment
from escapevelocity.domain.routing import RoutingState, presence_at
from escapevelocity.domain.sla import Budget, budgets_from_playbook, fold

if TYPE_CHECKING:
    from escapevelocity.adapters.store import Tx

HISTORY_TTL = 30.0  # seconds between looks at the log for new replies
HISTORY_WINDOW = 200  # newest first replies kept per (member, track)
OFFLINE_FACTOR = 6  # idle six times `away_after`: offline (unclaimed work requeued)
_REPLIES = (ev.REPLIED,)


_BUDGETS: dict[int, tuple[Any, dict[str, Budget]]] = {}


def budgets_for(playbook: Any) -> dict[str, Budget]:
    """The playbook's SLA budgets per track, compiled once per playbook object."""
    hit = _BUDGETS.get(id(playbook))
    if hit is None or hit[0] is not playbook:
        hit = (playbook, budgets_from_playbook(playbook))
        if len(_BUDGETS) > 8:
            _BUDGETS.clear()
        _BUDGETS[id(playbook)] = hit
    return hit[1]


class ReplyHistory:
    """Median first-reply business minutes per (member, track), kept up to date from the log."""

    def __init__(self, ttl: float = HISTORY_TTL, window: int = HISTORY_WINDOW,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.window, self.monotonic = ttl, window, monotonic
        self.seq = 0  # the last reply event looked at
        self.checked: float | None = None
        self.counted: set[str] = set()  # cases whose first reply is already in `times`
        self.times: dict[tuple[str, str], deque[float]] = {}
        self.medians: dict[tuple[str, str], float] = {}
        self.lock = threading.Lock()

    def get(self, tx: Tx, budgets: Mapping[str, Budget], now: datetime
            ) -> dict[tuple[str, str], float]:
        t = self.monotonic()
        if self.checked is not None and t - self.checked < self.ttl:
            return self.medians
        with self.lock:
            if self.checked is None or t - self.checked >= self.ttl:
                self.refresh(tx, budgets, now)
                self.checked = t
        return self.medians

    def expire(self) -> None:
        """Look at the log on the next `get` (tests; after a bulk import)."""
        self.checked = None

    def refresh(self, tx: Tx, budgets: Mapping[str, Budget], now: datetime
                ) -> int:
        """Fold the cases that got a reply since the last look; returns how many counted."""
        replies = tx.events.after(self.seq, _REPLIES)
        if not replies:
            return 0
        self.seq = max(e.seq or 0 for e in replies)
        fresh = {e.stream for e in replies} - self.counted
        if not fresh:
            return 0
        changed: set[tuple[str, str]] = set()
        for cid, log in tx.events.streams(fresh).items():
            c = fold(cid, log, budgets, now)
            if not (c.responder and c.track):
                continue
            for clock in c.clocks:
                if clock.clock == "first_response" and clock.stopped:
                    key = (c.responder, c.track)
                    self.times.setdefault(key, deque(maxlen=self.window)).append(clock.used)
                    changed.add(key)
                    self.counted.add(cid)
        if changed:
            medians = dict(self.medians)  # readers keep the old dict: no torn reads
            for key in changed:
                medians[key] = median(self.times[key])
            self.medians = medians
        return len(changed)


_HISTORIES: weakref.WeakKeyDictionary[Any, ReplyHistory] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def history_for(store: Any) -> ReplyHistory:
    found = _HISTORIES.get(store)
    if found is None:
        with _GUARD:
            found = _HISTORIES.setdefault(store, ReplyHistory())
    return found


def live_presence(tx: Tx, now: datetime, away_after: timedelta | None
                  ) -> dict[str, str]:
    """Declared presence; with `away_after`, turned away (then offline at six times as long)
    by inactivity: claims, replies and presence changes count, an open browser tab does not."""
    if away_after is None:
        return tx.org.presence()
    offline = away_after * OFFLINE_FACTOR
    return {m: presence_at(p, last, now, away_after=away_after, offline_after=offline)
            for m, (p, last) in tx.org.presence_seen().items()}


def routing_state(store: Any, tx: Tx, now: datetime, playbook: Any, *,
                  away_after: timedelta | None = None) -> RoutingState:
    """What live routing reads: presence, open loads and the reply history."""
    return RoutingState(presence=live_presence(tx, now, away_after),
                        load=tx.cases.open_loads(),
                        first_reply=history_for(store).get(tx, budgets_for(playbook),
                                                           now))


class Backlog:
    """First in, first out: a new case does not jump a team's queue. When cases already wait
    for the case's team, routing's pick is undone and the case queues behind them; the SLA
    tick's drain then hands out the earliest due first. One indexed look per team per batch."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self.waiting: dict[str, bool] = {}

    def has_queue(self, team: str) -> bool:
        found = self.waiting.get(team)
        if found is None:
            found = self.waiting[team] = self.tx.cases.has_queue(team)
        return found

    def hold(self, team: str, a: Assignment, state: RoutingState, respond: bool = True
             ) -> Assignment:
        """`a` unless `team` (the decision's) has a queue: then the case joins it. Cases that
        need no answer are not held (the drain only hands out cases that do)."""
        if not respond:
            return a
        if a.member is None:
            self.waiting[a.team] = True
            return a
        if not self.has_queue(team):
            return a
        state.freed(a.member)
        return Assignment(team, None, "queue", f"queued for {team}: older cases wait there "
                          "first (first in, first out by SLA due time)")
