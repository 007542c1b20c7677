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
from escapevelocity.domain import watermark


class Change(msgspec.Struct, frozen=True):
    seq: int
    stream: str  # the event's stream: a case id, or "incident:…", "playbook:…", …
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

    The live view's watermark (domain/watermark.py): the cursor (what a page resumes from:
    the SSE event id) is its low mark, so it stops below the first missing seq; what lies above
    it is told once and only missing seqs are read again, until they fill or time out. A page
    resuming from the cursor may be told a change twice, never not at all (it re-fetches
    fragments: telling twice is harmless)."""

    GAP_SECONDS = watermark.GAP_SECONDS
    MAX_SPAN = watermark.MAX_SPAN

    def __init__(self, feed: Feed, after: int, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.feed = feed
        self.mark = watermark.Watermark.at(after)
        self.clock = clock

    @property
    def cursor(self) -> int:
        return self.mark.low

    def poll(self, limit: int = 2000) -> list[Change]:
        """The changes not told yet, in log order: new ones past the highest seq told (so a
        hole never holds them back), and any that filled a hole below it."""
        mark = self.mark
        late: list[Change] = []
        if mark.missing:
            late = [c for c in self.feed.after(mark.low, limit=min(mark.high - mark.low, limit))
                    if c.seq in mark.missing]
        fresh = self.feed.after(mark.high, limit=limit)
        out = late + fresh
        self.mark = mark.advance([c.seq for c in out], self.clock(), gap=self.GAP_SECONDS,
                                 max_span=self.MAX_SPAN)
        return out
