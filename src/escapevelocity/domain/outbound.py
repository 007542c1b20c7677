"""The outbound port: what sending to a customer looks like, and where a message may go (pure).

A channel client sends with `send_reply(case, text, visibility) -> SendResult`: the network's
id of what it posted, or an error that says whether trying again may help. Whether a send is
real is the workspace's switch, overridden per connection (`Mode`); in dry run nothing leaves
and the event says what would have been sent and where.

Channel clients plug in by implementing `Sender` (adapters/outbound.py has the dry-run one and
email; the networks' clients live in channels/<network>/client.py and declare `private`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import msgspec

from escapevelocity.domain.cases import Case

DRY_RUN, LIVE = "dry_run", "live"
MODES = (DRY_RUN, LIVE)
MODE_DOCUMENT = "outbound_mode"

# Which channels can write to one person privately, until each channel folder declares it
# (channels/<network>/: Capabilities.private). Direct messages on X/Twitter, Mastodon direct
# visibility, Reddit messages, email itself.
PRIVATE_BY_DEFAULT = frozenset({"twitter", "mastodon", "reddit", "email", "facebook",
                                "instagram"})


class SendResult(msgspec.Struct, frozen=True, kw_only=True):
    network_id: str | None = None
    error: str | None = None
    transient: bool = False  # a timeout, 429 or 5xx: worth trying again
    dry_run: bool = False
    retry_after: float | None = None  # the network said when to try again (429 Retry-After)
    url: str = ""  # where the posted reply can be seen, when the network says

    @property
    def ok(self) -> bool:
        return self.error is None


class Sender(Protocol):
    name: str  # the channel it writes to ("twitter", "email", …)
    private: bool  # can write to one person privately

    def send_reply(self, case: Mapping[str, Any], text: str, visibility: str) -> SendResult: ...


class Mode(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Dry run or live: the workspace's default, and per connection (channel name)."""

    workspace: str = DRY_RUN
    connections: dict[str, str] = {}

    def live(self, channel: str) -> bool:
        return self.connections.get(channel, self.workspace) == LIVE

    def live_for(self, connection: str, channel: str = "") -> bool:
        """A connection's own switch, else its channel's (an older per-channel setting), else
        the workspace's."""
        value = self.connections.get(connection) or self.connections.get(channel)
        return (value or self.workspace) == LIVE


def reply_label(visibility: str, *, live: bool, can_send: bool, title: str,
                closed: bool = False) -> str:
    """What a reply button says: where the words will go, so nobody posts to a network
    believing it a rehearsal, nor rehearses believing it posted."""
    base = f"Send {visibility} reply" if visibility else "Reply"
    if not live:
        return f"{base} (dry run)"
    if closed:
        return f"{base} (recorded only: {title} no longer takes replies to a post this old)"
    if not can_send:
        return f"{base} (recorded only: {title or 'this channel'} cannot send)"
    return f"{base} — sends to {title}"


def window_closed(window: timedelta | None, posted_at: datetime, now: datetime) -> bool:
    """Whether the network has stopped taking replies to a post this old (a channel's
    Capabilities.reply_window: Reddit archives posts after 180 days); None: never."""
    return window is not None and now - posted_at > window


def idempotency_key(case_id: str, reply_seq: int) -> str:
    """One key per reply event: every try of one reply carries it, so the network (or our
    check before a retry) knows a second try from a second reply."""
    return f"ev-{case_id}-{reply_seq}"


def load_mode(raw: str | bytes | None) -> Mode:
    mode = msgspec.json.decode(raw, type=Mode) if raw else Mode()
    bad = [m for m in (mode.workspace, *mode.connections.values()) if m not in MODES]
    if bad:
        raise ValueError(f"outbound mode is dry_run or live, not {bad[0]!r}")
    return mode


class Route(msgspec.Struct, frozen=True):
    via: str  # the channel name, "email", or "" when there is no private way to the customer
    to: str  # the customer's handle or address
    dry_run: bool


def customer_email(case: Case, crm: Iterable[Mapping[str, Any]] = ()) -> str:
    """The customer's email when we know it: the handle of an email case, else a CRM link's."""
    handle = case.author_handle or ""
    if case.channel == "email" and "@" in handle:
        return handle
    return next((str(c["email"]) for c in crm if "@" in str(c.get("email") or "")), "")


def private_route(case: Case, mode: Mode, private: Iterable[str], email: str) -> Route:
    """Where a private message to the case's customer goes: its own channel when that can
    write privately, else email when we know the address; dry run unless that path is live."""
    channel = case.channel or ""
    if channel in set(private):
        return Route(channel, case.author_handle or "", not mode.live(channel))
    if email:
        return Route("email", email, not mode.live("email"))
    return Route("", "", True)
