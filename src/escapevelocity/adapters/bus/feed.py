"""The change feed: committed case changes in log order, after a cursor.

Live views (the SSE stream) read changes through this port. The embedded deployment tails the
event log, which also carries changes made by other processes (`ev ingest`, a worker); the
scale-out deployment puts a NATS JetStream consumer behind the same method, with the log's
sequence number as the cursor, so a reconnecting page resumes where it stopped either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Protocol

import msgspec

from escapevelocity.adapters.store import SqlStore


class Change(msgspec.Struct, frozen=True):
    seq: int
    case_id: str  # a case id, or a stream such as "incident:…" / "playbook:…"
    kind: str
    team: str | None  # the case's team now (None for non-case streams)


class Feed(Protocol):
    def after(self, seq: int, limit: int = 2000) -> list[Change]: ...


class LogTailFeed:
    """Changes straight from the event log (one indexed range read per poll)."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def after(self, seq: int, limit: int = 2000) -> list[Change]:
        with self.store.begin() as tx:
            events = tx.events.since(seq, limit=limit)
            if not events:
                return []
            team_of = tx.cases.teams_of({e.stream for e in events})
        return [Change(e.seq, e.stream, e.kind, team_of.get(e.stream)) for e in events]


class Nudge:
    """Wakes live views when another process says the log moved (scale-out: NATS change
    notices). `generation` counts the notices, so a view that read the feed after notice n
    waits only when nothing came since: a notice between its read and its wait is not lost."""

    def __init__(self) -> None:
        self.generation = 0
        self._event: asyncio.Event | None = None

    def set(self) -> None:
        self.generation += 1
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self, seen: int, timeout: float) -> None:
        if self.generation != seen:
            return
        if self._event is None:
            self._event = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


class Tail:
    """Reads a feed past a cursor without skipping a change that commits late.

    On PostgreSQL a sequence hands out `seq` when a row is inserted, not when it commits: two
    workers committing at once can make seq 105 visible before seq 100, and a reader that moved
    its cursor to 105 would never see 100. So the cursor (what a page resumes from: the SSE
    event id) stops below the first missing seq; what lies above it is told once (`told`) and
    read again until the hole fills, or until it has been missing GAP_SECONDS (its transaction
    rolled back: that seq never comes). A page resuming from the cursor may be told a change
    twice, never not at all (it re-fetches fragments: telling twice is harmless)."""

    GAP_SECONDS = 10.0
    MAX_SPAN = 100_000  # a hole this wide is not timed seq by seq (a rebuild, a restore)

    def __init__(self, feed: Feed, after: int, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.feed = feed
        self.cursor = after
        self.clock = clock
        self.told: set[int] = set()
        self.missing_since: dict[int, float] = {}
        self.skips: dict[int, int] = {}  # from -> to: a wide hole, never waited for

    def poll(self, limit: int = 2000) -> list[Change]:
        """The changes not told yet, in log order: new ones past the highest seq told (so a
        hole never holds them back), and any that filled a hole below it."""
        high = max(self.told, default=self.cursor)
        late: list[Change] = []
        if self.missing_since:
            late = [c for c in self.feed.after(self.cursor, limit=min(high - self.cursor, limit))
                    if c.seq in self.missing_since]
        fresh = self.feed.after(high, limit=limit)
        now = self.clock()
        prev = high
        for c in fresh:  # time each hole; a hole too wide to time seq by seq is passed over
            if c.seq - prev - 1 > self.MAX_SPAN:
                self.skips[prev] = c.seq - 1
            else:
                for seq in range(prev + 1, c.seq):
                    self.missing_since.setdefault(seq, now)
            prev = c.seq
        out = late + fresh
        for c in out:
            self.told.add(c.seq)
            self.missing_since.pop(c.seq, None)
        pos = self.cursor
        while True:
            if pos in self.skips:
                pos = self.skips[pos]
            elif pos + 1 in self.told or (pos + 1 in self.missing_since and
                                          now - self.missing_since[pos + 1] >= self.GAP_SECONDS):
                pos += 1
            else:
                break
        self.cursor = pos
        self.told = {s for s in self.told if s > pos}
        self.missing_since = {s: t for s, t in self.missing_since.items() if s > pos}
        self.skips = {a: b for a, b in self.skips.items() if a >= pos}
        return out
