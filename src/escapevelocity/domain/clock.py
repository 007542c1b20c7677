"""The one injected clock.

SLAs, shifts, crisis baselines and drills all ask a Clock for the time; nothing in the core calls
`datetime.now()`. A drill passes a SimulatedClock running 24x faster and the same code compresses
a day into an hour; tests pass a FixedClock and move time instead of sleeping.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, **delta: float) -> datetime:
        self._at += timedelta(**delta)
        return self._at

    def set(self, at: datetime) -> None:
        self._at = at


class SimulatedClock:
    """Simulated time that runs `speed` times faster than the wall clock, and can pause."""

    def __init__(self, start: datetime, speed: float = 1.0, wall=time.monotonic) -> None:
        self._wall = wall
        self._origin_sim = start
        self._origin_wall = wall()
        self._speed = speed
        self._paused_at: datetime | None = None

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        if self._paused_at is not None:
            return self._paused_at
        elapsed = (self._wall() - self._origin_wall) * self._speed
        return self._origin_sim + timedelta(seconds=elapsed)

    def _rebase(self) -> None:
        self._origin_sim = self.now()
        self._origin_wall = self._wall()

    def set_speed(self, speed: float) -> None:
        self._rebase()
        self._speed = speed

    def pause(self) -> None:
        self._paused_at = self.now()

    def resume(self) -> None:
        if self._paused_at is not None:
            self._origin_sim, self._origin_wall = self._paused_at, self._wall()
            self._paused_at = None


def utc(value: datetime) -> datetime:
    """Naive datetimes from files and databases are taken as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
