"""Connection health, backoff and what counts as historical: pure rules over plain values.

Health after a poll: `connected` (fetched without trouble), `degraded` (fetched, but only
after retries or while rate limited), `failing` (gave up after retries: the network or our
side is broken), `credentials_expired` (the network refused the token: an admin must act, and
retrying would only lock the account). A connection that keeps failing is polled less often
(exponential, capped), so an outage costs neither the network nor us.

Historical mentions are those a connector reads from before the connection was live (the first
backfill, an import) or long after they were written (a backfill after an outage): they are
ingested like any other, but the crisis detectors never see them (services/crisis.py), so last
year's posts cannot declare a crisis or page anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

HEALTH = ("new", "connected", "degraded", "failing", "credentials_expired")
PROBLEMS = ("failing", "credentials_expired")

POLL_EVERY = timedelta(seconds=60)
MAX_POLL_BACKOFF = timedelta(hours=1)
# A mention read this long after it was written is historical (a backfill after an outage).
STALE_AFTER = timedelta(hours=6)
# Posts written shortly before the connection went live still count as live traffic.
LIVE_GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class Outcome:
    """What one poll came to. `kind` of a failure: transient / rate_limited / credentials /
    config."""

    ok: bool
    retries: int = 0
    rate_limited: bool = False
    kind: str = ""
    error: str = ""


def assess(outcome: Outcome) -> str:
    if outcome.ok:
        return "degraded" if outcome.retries or outcome.rate_limited else "connected"
    return "credentials_expired" if outcome.kind == "credentials" else "failing"


def failures_after(failures: int, outcome: Outcome) -> int:
    return 0 if outcome.ok else failures + 1


def next_poll(now: datetime, failures: int, every: timedelta = POLL_EVERY) -> datetime:
    """When to poll again: every `every`, doubling per consecutive failed poll, capped."""
    wait = every * (2 ** min(failures, 16))
    return now + min(wait, max(MAX_POLL_BACKOFF, every))


def retry_delay(attempt: int, retry_after: float | None = None, *, base: float = 0.5,
                cap: float = 30.0) -> float:
    """Seconds before retry number `attempt` (0-based) within one poll: exponential from
    `base`, capped; a server's Retry-After wins when it asks for longer (bounded by 15 min,
    past which the poll gives up and the schedule takes over)."""
    delay = min(cap, base * (2 ** attempt))
    if retry_after is not None:
        delay = max(delay, min(retry_after, 900.0))
    return delay


def is_historical(created_at: datetime, now: datetime, live_since: datetime | None) -> bool:
    """Written more than STALE_AFTER before `now`, or (for a connection, which passes when it
    went live: its first poll) written before it went live, less a short grace."""
    if created_at < now - STALE_AFTER:
        return True
    return live_since is not None and created_at < live_since - LIVE_GRACE
