"""Outbound senders: the dry-run one (nothing leaves; it says what would have), email by SMTP
(the pager's sending code), and `send_with_retries`, which tries a transient failure again.

A live network sender is a channel client with `send_reply`; register it by name in
`Senders`. Until the channel folders (channels/<network>/client.py) grow one, live sends on a
network answer "no live sender" and show as a failed send on the case.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from escapevelocity.adapters.notify.pager import send_mail
from escapevelocity.domain.outbound import PRIVATE_BY_DEFAULT, Sender, SendResult


class DryRunSender:
    """Records what would be sent; its id is stable for the same case and text."""

    def __init__(self, name: str, private: bool = True) -> None:
        self.name, self.private = name, private
        self.sent: list[tuple[str, str, str]] = []
        self.withdrawn: list[tuple[str, str]] = []

    def send_reply(self, case: Mapping[str, Any], text: str, visibility: str) -> SendResult:
        self.sent.append((str(case.get("id")), text, visibility))
        digest = hashlib.sha256(f"{case.get('id')}\n{text}".encode()).hexdigest()[:16]
        return SendResult(network_id=f"dry-run:{digest}", dry_run=True)

    def withdraw(self, case: Mapping[str, Any], network_id: str) -> SendResult:
        """Take a sent message back (delete it on the network); dry run: recorded."""
        self.withdrawn.append((str(case.get("id")), network_id))
        return SendResult(network_id=network_id, dry_run=True)


class EmailSender:
    """Writes to the customer's address (the case's email handle, or a CRM link's)."""

    name, private = "email", True

    def __init__(self, host: str, port: int, sender: str, timeout: float = 5.0) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def send_reply(self, case: Mapping[str, Any], text: str, visibility: str) -> SendResult:
        to = str(case.get("to") or "")
        if "@" not in to:
            return SendResult(error="no email address for this customer")
        subject = f"About your message: {case.get('title') or ''}"
        error = send_mail(self.host, self.port, self.sender, to, subject, text, self.timeout)
        if error:
            return SendResult(error=error, transient=True)
        return SendResult(network_id=f"smtp:{to}:{case.get('id')}")


class Senders:
    """The live senders by channel name; which channels can write privately (the channel
    folders' declared capabilities, passed in as `private`, and the live senders')."""

    def __init__(self, senders: Mapping[str, Sender] | None = None,
                 private: Iterable[str] = PRIVATE_BY_DEFAULT) -> None:
        self.live = dict(senders or {})
        self._private = set(private)

    def private(self) -> set[str]:
        return self._private | {n for n, s in self.live.items() if s.private}

    def get(self, name: str) -> Sender | None:
        return self.live.get(name)


MAX_WAIT = 120.0  # a Retry-After longer than this fails the send now (it shows on the case)


def send_with_retries(sender: Sender, case: Mapping[str, Any], text: str, visibility: str, *,
                      attempts: int = 3, backoff: float = 0.5, max_wait: float = MAX_WAIT,
                      sleep: Callable[[float], None] = time.sleep) -> tuple[SendResult, int]:
    """Send; try a transient failure again (0.5 s, 1 s, …, or what the network's Retry-After
    says). Before trying again, a sender that can look (`find_sent`) checks whether the try that
    seemed to fail did post (a timeout after the network had written it), so one reply is never
    posted twice. Returns the last result and how many tries it took."""
    find = getattr(sender, "find_sent", None)
    for n in range(1, attempts + 1):
        if n > 1 and find is not None:
            try:
                found = find(case, text, visibility)
            except OSError:
                found = None
            if found is not None:
                return found, n - 1
        try:
            result = sender.send_reply(case, text, visibility)
        except OSError as exc:
            result = SendResult(error=f"{type(exc).__name__}: {exc}", transient=True)
        if result.ok or not result.transient or n == attempts:
            return result, n
        wait = backoff * 2 ** (n - 1)
        if result.retry_after is not None:
            if result.retry_after > max_wait:
                return result, n
            wait = max(wait, result.retry_after)
        sleep(wait)
    raise AssertionError("unreachable")
