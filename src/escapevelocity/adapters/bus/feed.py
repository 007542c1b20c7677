"""The change feed: committed case changes in log order, after a cursor.

Live views (the SSE stream) read changes through this port. The embedded deployment tails the
event log, which also carries changes made by other processes (`ev ingest`, a worker); the
scale-out deployment puts a NATS JetStream consumer behind the same method, with the log's
sequence number as the cursor, so a reconnecting page resumes where it stopped either way.
"""

from __future__ import annotations

import asyncio
import contextlib
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
