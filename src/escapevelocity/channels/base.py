"""What every channel is: a declared shape (capabilities, settings, secrets) and a connector
that fetches one page of payloads after a cursor.

A connector does I/O and nothing else: parsing is the channel's pure `parse.py`, keeping what
the listening query wants is domain/listening.py, and retries, health, cursors and intake are
the runner's (channels/runner.py), so every channel backs off and reports the same way. A
connector says what went wrong by raising one of the errors below; the runner decides.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from escapevelocity.domain.records import Mention


@dataclass(frozen=True)
class Capabilities:
    """What a channel can do, as data: the composer and the playbook read this (outbound is
    built on it later; inbound-only channels say reply=False)."""

    reply: bool = False
    public: bool = True  # replies are visible to everyone
    private: bool = False  # direct / private messages
    max_chars: int = 0  # 0: no limit the network enforces
    reply_window: timedelta | None = None  # how long after the post a reply is still possible
    media: bool = False


@dataclass(frozen=True)
class Page:
    """One fetch: the mentions it found (already parsed and filtered), how many payloads it
    read, and the cursor to store once they are safely ingested (None: unchanged)."""

    mentions: list[Mention]
    cursor: str | None
    read: int = 0
    more: bool = False  # another page is waiting right now (a backfill in progress)


class ChannelError(Exception):
    """Base of what a connector raises. `transient` errors are retried with backoff."""

    transient = True


class Transient(ChannelError):
    """Timeout, connection refused or reset, 5xx, a stream that ended mid-way."""


class Malformed(Transient):
    """The network answered something that is not what it documents (bad JSON, wrong shape).
    Retried: a proxy's error page or a truncated body is usually passing."""


class RateLimited(Transient):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CredentialsExpired(ChannelError):
    """401/403 or a revoked token: retrying will not help, an admin must act."""

    transient = False


class Misconfigured(ChannelError):
    """A setting that cannot work (unknown subreddit, bad URL): an admin must act."""

    transient = False


class Connector(Protocol):
    def fetch(self, cursor: str | None) -> Page: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Channel:
    """A channel's declaration. `open(settings, secrets, keep)` builds its connector; `keep`
    is the connection's listening query as a predicate over parsed mentions."""

    name: str
    title: str
    capabilities: Capabilities
    open: Callable[[Mapping[str, Any], Mapping[str, str], Callable[[Mention], bool]], Connector]
    settings: tuple[str, ...] = ()  # required settings
    optional: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()  # kept encrypted at rest, never shown
    pull: bool = True  # False for push channels (webhook): nothing to poll
    notes: str = ""
    defaults: Mapping[str, Any] = field(default_factory=dict)
    # Outbound (channels/<name>/send.py): `send(settings, secrets)` builds the channel's
    # sender (domain/outbound.Sender); None: the channel cannot reply (RSS, twcs). A sender
    # needs `send_settings` set on the connection, and may use `send_secrets`.
    send: Callable[[Mapping[str, Any], Mapping[str, str]], Any] | None = None
    send_settings: tuple[str, ...] = ()
    send_secrets: tuple[str, ...] = ()

    def can_send(self, settings: Mapping[str, Any]) -> bool:
        """Whether a connection with these settings can send replies."""
        return self.send is not None and all(settings.get(k) for k in self.send_settings)


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header's seconds (the delta form; the date form is rare for APIs)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
