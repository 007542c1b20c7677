"""Presence on a case: who has it open and who is typing a reply, for a few seconds at a time.

A small port (`Presence`) so a scale-out deployment can put NATS JetStream's key-value store
behind it (a bucket with a max age, one key per case and member) while the embedded one keeps
it in memory: the page beats every few seconds, so a lost entry comes back by itself and a
closed tab fades out after `TTL`. Nothing here is a record: presence is never logged.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol

TTL = timedelta(seconds=15)
STATES = ("viewing", "typing")


class Presence(Protocol):
    def beat(self, case_id: str, member: str, state: str, now: datetime) -> None: ...

    def leave(self, case_id: str, member: str) -> None: ...

    def on(self, case_id: str, now: datetime) -> dict[str, str]: ...


class MemoryPresence:
    """One process's presence (the embedded deployment has one web process)."""

    def __init__(self, ttl: timedelta = TTL) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._seen: dict[str, dict[str, tuple[str, datetime]]] = {}

    def beat(self, case_id: str, member: str, state: str, now: datetime) -> None:
        if state not in STATES:
            raise ValueError(f"presence is one of {', '.join(STATES)}")
        with self._lock:
            self._seen.setdefault(case_id, {})[member] = (state, now + self._ttl)

    def leave(self, case_id: str, member: str) -> None:
        with self._lock:
            self._seen.get(case_id, {}).pop(member, None)

    def on(self, case_id: str, now: datetime) -> dict[str, str]:
        """member -> viewing/typing, for the entries not yet expired (and drops the rest)."""
        with self._lock:
            here = self._seen.get(case_id, {})
            for member in [m for m, (_, until) in here.items() if until <= now]:
                del here[member]
            if not here:
                self._seen.pop(case_id, None)
            return {m: state for m, (state, _) in sorted(here.items())}
