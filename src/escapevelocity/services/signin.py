"""Signing in: revocable sessions and a sign-in throttle that strangers cannot turn into a
lock-out, both kept in the database so every web replica shares them.

Sessions. The cookie holds a random session id; the database holds its hash, the member, and
when it expires. A session slides forward while in use (SESSION_IDLE after the last request,
never past SESSION_MAX after sign-in) and is revoked on logout, and for every session of a
member whose password or role changes or who leaves the organisation.

Throttle. Failed sign-ins are counted per key in a window. From a browser that has signed in
as this member before (a signed device cookie), only that device's failures count: no one
elsewhere can lock the member out of a device they use. From anywhere else, three keys count:
the member from this client address, this client address for any member (spraying), and the
member from every unknown client (a distributed guess). A throttled attempt is refused without
checking the password, so a correct password cannot be used to probe through the throttle.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from escapevelocity.domain.clock import Clock

SESSION_IDLE = timedelta(hours=12)
SESSION_MAX = timedelta(days=7)
TOUCH_EVERY = timedelta(minutes=1)  # a session's expiry is written at most this often

WINDOW = timedelta(minutes=15)
PAIR_LIMIT = 5  # one member, one unknown client
CLIENT_LIMIT = 20  # one client, any names
MEMBER_LIMIT = 20  # one member, every unknown client together
DEVICE_LIMIT = 10  # one member, a device that signed in as them before


def normal_member(name: str) -> str:
    """The one spelling of a member name used to sign in, throttle and start a session."""
    return name.strip().lower()


def plausible_member(name: str) -> bool:
    """Could this be a member id at all? Control characters never are, and PostgreSQL refuses
    a NUL in any query (the API fuzz found a 500 there): such a name fails without a lookup."""
    return 0 < len(name) <= 64 and name.isprintable()


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _part(value: str) -> str:
    """A throttle key part: printable names as they are (readable by an operator), anything
    else hashed, so a key never carries bytes a database refuses."""
    return value if value.isprintable() and len(value) <= 100 else "#" + _hash(value)[:32]


# --- sessions ---------------------------------------------------------------------------------


def start_session(store, clock: Clock, member: str) -> str:
    """A new session for `member`; returns the id for the cookie (stored only hashed)."""
    raw = secrets.token_urlsafe(32)
    now = clock.now()
    with store.begin() as tx:
        tx.signin.create_session(_hash(raw), member, now, now + SESSION_IDLE)
        tx.signin.forget_old_sessions(now - SESSION_MAX)
    return raw


def session_member(store, clock: Clock, raw: str) -> str | None:
    """The member of a live session, its expiry slid forward; None if revoked or expired."""
    now = clock.now()
    with store.begin() as tx:
        found = tx.signin.live_session(_hash(raw), now)
        if found is None:
            return None
        member, created, last_seen = found
        if now - last_seen >= TOUCH_EVERY:
            tx.signin.touch_session(_hash(raw), now,
                                  min(now + SESSION_IDLE, created + SESSION_MAX))
    return member


def end_session(store, clock: Clock, raw: str) -> None:
    with store.begin() as tx:
        tx.signin.revoke_session(_hash(raw), clock.now())


# --- throttle ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    member: str  # normalised
    client: str  # the client address, proxy headers already resolved
    device: str | None = None  # the device id, when it signed in as `member` before

    def limits(self) -> list[tuple[str, int]]:
        member, client = _part(self.member), _part(self.client)
        if self.device:
            return [(f"d:{member}|{_part(self.device)}", DEVICE_LIMIT)]
        return [(f"mc:{member}|{client}", PAIR_LIMIT),
                (f"c:{client}", CLIENT_LIMIT), (f"m:{member}", MEMBER_LIMIT)]


def throttled(store, clock: Clock, attempt: Attempt) -> bool:
    keys = attempt.limits()
    with store.begin() as tx:
        counts = tx.signin.failure_counts([k for k, _ in keys], clock.now(), WINDOW)
    return any(counts.get(key, 0) >= limit for key, limit in keys)


def failed(store, clock: Clock, attempt: Attempt) -> None:
    with store.begin() as tx:
        tx.signin.record_failure([k for k, _ in attempt.limits()], clock.now(), WINDOW)


def succeeded(store, attempt: Attempt) -> None:
    """Forget this member's failures from this client or device (not the client's others)."""
    with store.begin() as tx:
        tx.signin.clear_failures([k for k, _ in attempt.limits() if not k.startswith("c:")])
