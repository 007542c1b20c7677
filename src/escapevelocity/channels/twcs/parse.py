"""The twcs replay schedule (pure). Reading the format is services/twcs.py's (one text for the
columns, the Twitter dates, inbound-only and the `to` of replies to a brand); this module only
says which mentions are due when a replay that started at `start` runs at `speed` times real
time.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from escapevelocity.domain.records import Mention

MAX_ROWS = 3_000_000  # the whole public set is ~2.8M rows; a replay sorts it in memory


def schedule(mentions: Iterable[Mention]) -> list[Mention]:
    """Customer tweets in the order they were written (the published file is not sorted)."""
    out = sorted(mentions, key=lambda m: (m.created_at, m.source_id))
    if len(out) > MAX_ROWS:
        raise ValueError(f"more than {MAX_ROWS} rows to replay")
    return out


def replay_time(m: Mention, first: datetime, start: datetime, speed: float) -> datetime:
    """When `m` is due: as long after `start` as it was written after `first`, / speed."""
    return start + (m.created_at - first) / speed


def due(rows: list[Mention], done: int, start: datetime, now: datetime, speed: float,
        limit: int) -> int:
    """How many rows after the first `done` are due at `now` (at most `limit`)."""
    if not rows:
        return 0
    first = rows[0].created_at
    n = done
    while n < len(rows) and n - done < limit and replay_time(rows[n], first, start,
                                                             speed) <= now:
        n += 1
    return n - done
