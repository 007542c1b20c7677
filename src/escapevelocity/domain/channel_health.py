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
    if outcome.ok or outcome.kind == "rate_limited":  # the network works; it asks us to wait
        return "degraded" if outcome.retries or outcome.rate_limited or not outcome.ok \
            else "connected"
    return "credentials_expired" if outcome.kind == "credentials" else "failing"


def failures_after(failures: int, outcome: Outcome) -> int:
    if outcome.kind == "rate_limited":
        return failures
    return 0 if outcome.ok else failures + 1


def next_poll(now: datetime, failures: int, every: timedelta = POLL_EVERY,
              retry_after: float | None = None) -> datetime:
    """When to poll again: every `every`, doubling per consecutive failed poll, capped; never
    before a rate limit's Retry-After (bounded by a day)."""
    wait = min(every * (2 ** min(failures, 16)), max(MAX_POLL_BACKOFF, every))
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=min(retry_after, 86_400)))
    return now + wait


# One poll waits at most this long for a rate limit to pass; a longer Retry-After ends the
# poll (degraded) and sets the next one, so one throttled connection never holds up the
# worker that polls every other.
MAX_INLINE_WAIT = 30.0


def retry_delay(attempt: int, retry_after: float | None = None, *, base: float = 0.5,
                cap: float = MAX_INLINE_WAIT) -> float:
    """Seconds before retry number `attempt` (0-based) within one poll: exponential from
    `base`, capped; a server's Retry-After wins when it asks for longer."""
    delay = min(cap, base * (2 ** attempt))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def wait_inline(retry_after: float | None) -> bool:
    return retry_after is None or retry_after <= MAX_INLINE_WAIT


def is_historical(created_at: datetime, now: datetime, live_since: datetime | None) -> bool:
    """Written more than STALE_AFTER before `now`, or (for a connection, which passes when it
    went live: its first poll) written before it went live, less a short grace."""
    if created_at < now - STALE_AFTER:
        return True
    return live_since is not None and created_at < live_since - LIVE_GRACE
