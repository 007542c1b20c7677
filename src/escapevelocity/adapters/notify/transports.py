"""Notification transports: email by SMTP and a Slack-compatible webhook, on the same sending
code as the pager (pager.send_mail, pager.post_json), plus a recording fake.

A transport never raises: it answers `Sent(ok, detail, transient)`; the notifier retries
transient failures with backoff and records the last answer on the delivery row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Protocol

import msgspec

from escapevelocity.adapters.notify import pager


class Outgoing(msgspec.Struct, frozen=True, kw_only=True):
    member: str
    email: str = ""
    slack_url: str = ""  # the member's own webhook, else the transport's
    kind: str
    text: str
    link: str = ""  # absolute when the notifier knows the site's URL
    urgency: str = "normal"


class Sent(msgspec.Struct, frozen=True):
    ok: bool
    detail: str = ""
    transient: bool = True


class Transport(Protocol):
    name: str

    def send(self, out: Outgoing) -> Sent: ...


def _body(out: Outgoing) -> str:
    return out.text + (f"\n\n{out.link}" if out.link else "")


class EmailTransport:
    name = "email"

    def __init__(self, host: str, port: int, sender: str, timeout: float = 5.0) -> None:
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    def send(self, out: Outgoing) -> Sent:
        if not out.email:
            return Sent(False, f"no email address for {out.member}", transient=False)
        urgent = "[URGENT] " if out.urgency == "urgent" else ""
        error = pager.send_mail(self.host, self.port, self.sender, out.email,
                                f"{urgent}{out.text}", _body(out), self.timeout)
        return Sent(error is None, error or out.email)


class SlackTransport:
    """POST `{"text": ...}` to the member's webhook or the workspace's."""

    name = "slack"

    def __init__(self, url: str = "", timeout: float = 5.0) -> None:
        if url and not url.startswith(("https://", "http://")):
            raise ValueError("a webhook URL starts with https:// or http://")
        self.url, self.timeout = url, timeout

    def send(self, out: Outgoing) -> Sent:
        url = out.slack_url or self.url
        if not url:
            return Sent(False, "no Slack webhook configured", transient=False)
        body = json.dumps({"text": f"{'🔴 ' if out.urgency == 'urgent' else ''}{_body(out)}"})
        try:
            status = pager.post_json(url, body.encode(), self.timeout)
        except OSError as exc:
            return Sent(False, f"{type(exc).__name__}: {exc}")
        return Sent(200 <= status < 300, f"HTTP {status}", transient=status >= 500 or status == 429)


class RecordingTransport:
    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail, self.sent = name, fail, []

    def send(self, out: Outgoing) -> Sent:
        self.sent.append(out)
        return Sent(not self.fail, "receiver down (simulated)" if self.fail else "recorded")


def transports_from_env(env: Mapping[str, str]) -> dict[str, Transport]:
    """EV_NOTIFY_SMTP host[:port] (else EV_PAGE_SMTP), EV_NOTIFY_FROM (else EV_PAGE_FROM),
    EV_NOTIFY_SLACK workspace Slack-compatible webhook (else EV_PAGE_SLACK). Members' own
    addresses come from the organisation (email) and their preferences (slack_url)."""
    out: dict[str, Transport] = {}
    smtp = env.get("EV_NOTIFY_SMTP") or env.get("EV_PAGE_SMTP")
    if smtp:
        host, _, port = smtp.partition(":")
        sender = env.get("EV_NOTIFY_FROM") or env.get("EV_PAGE_FROM") or "escapevelocity@localhost"
        out["email"] = EmailTransport(host, int(port or 25), sender)
    out["slack"] = SlackTransport(env.get("EV_NOTIFY_SLACK") or env.get("EV_PAGE_SLACK") or "")
    return out
