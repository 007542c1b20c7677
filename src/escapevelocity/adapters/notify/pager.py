"""The paging port: `Pager.page(Page) -> PageResult`.

Crisis mode pages the on-call people when an incident opens or its level rises. Transports:
a generic JSON webhook, a Slack-compatible webhook (`{"text": ...}`), email over SMTP, and
`RecordingPager`, the fake used by tests and drills (drills never page real people). A
transport never raises: a failed page comes back as `ok=False` with the reason, and the caller
records it in the incident timeline either way.
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

import msgspec


class Page(msgspec.Struct, frozen=True, kw_only=True):
    incident: str  # "incident:<id>"
    role: str  # pr-oncall, legal-oncall, exec-oncall …
    member: str  # who is paged (a member id)
    level: str
    summary: str
    at: datetime
    url: str = ""  # link to the incident page, when the web app knows it


class PageResult(msgspec.Struct, frozen=True):
    ok: bool
    channel: str
    detail: str = ""


class Pager(Protocol):
    def page(self, page: Page) -> PageResult: ...


class RecordingPager:
    """Keeps every page in memory; `fail=True` simulates a receiver that is down."""

    def __init__(self, fail: bool = False) -> None:
        self.pages: list[Page] = []
        self.fail = fail

    def page(self, page: Page) -> PageResult:
        self.pages.append(page)
        if self.fail:
            return PageResult(False, "recording", "receiver down (simulated)")
        return PageResult(True, "recording")


def _text(page: Page) -> str:
    link = f" {page.url}" if page.url else ""
    return (f"[{page.level.upper()}] {page.summary} — paging {page.member} as {page.role} "
            f"({page.incident}){link}")


class WebhookPager:
    """POST the page as JSON. `slack=True` sends Slack's `{"text": ...}` shape instead."""

    def __init__(self, url: str, *, slack: bool = False, timeout: float = 5.0,
                 post: Callable[[str, bytes, float], int] | None = None) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("a webhook URL starts with https:// or http://")
        self.url, self.slack, self.timeout = url, slack, timeout
        self._post = post or _post

    def page(self, page: Page) -> PageResult:
        channel = "slack" if self.slack else "webhook"
        body = ({"text": _text(page)} if self.slack
                else msgspec.to_builtins(page) | {"text": _text(page)})
        try:
            status = self._post(self.url, json.dumps(body).encode(), self.timeout)
        except OSError as exc:
            return PageResult(False, channel, f"{type(exc).__name__}: {exc}")
        return PageResult(200 <= status < 300, channel, f"HTTP {status}")


def _post(url: str, body: bytes, timeout: float, headers: dict[str, str] | None = None) -> int:
    """POST JSON; the HTTP status (an HTTP error status is returned, not raised)."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    try:
        return _open(request, timeout)
    except urllib.error.HTTPError as exc:
        return exc.code


post_json = _post


def _open(request: urllib.request.Request, timeout: float) -> int:
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status


class EmailPager:
    """Send the page by SMTP to the address the `addresses` map gives for the member."""

    def __init__(self, host: str, sender: str, addresses: dict[str, str], *, port: int = 25,
                 timeout: float = 5.0) -> None:
        self.host, self.port, self.sender, self.addresses = host, port, sender, addresses
        self.timeout = timeout

    def page(self, page: Page) -> PageResult:
        to = self.addresses.get(page.member)
        if not to:
            return PageResult(False, "email", f"no email address for {page.member}")
        error = send_mail(self.host, self.port, self.sender, to,
                          f"[{page.level.upper()}] {page.summary}", _text(page), self.timeout)
        return PageResult(error is None, "email", error or to)


def send_mail(host: str, port: int, sender: str, to: str, subject: str, text: str,
              timeout: float = 5.0, *, html: str | None = None,
              attachments: Sequence[tuple[str, str, bytes]] = ()) -> str | None:
    """One email by SMTP (plain text; with `html`, an HTML alternative; `attachments`:
    (filename, MIME type, bytes)); the error as text, None when the server took it. Shared
    by pages, notifications, satisfaction questions and scheduled reports."""
    msg = EmailMessage()
    msg["From"], msg["To"] = sender, to
    msg["Subject"] = " ".join(subject.split())[:200]
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, mime, data in attachments:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    try:
        with smtplib.SMTP(host, port, timeout=timeout) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class FanoutPager:
    """Page through several transports; the page is `ok` if any of them delivered it."""

    def __init__(self, pagers: Sequence[Pager]) -> None:
        self.pagers = tuple(pagers)

    def page(self, page: Page) -> PageResult:
        results = [p.page(page) for p in self.pagers]
        ok = any(r.ok for r in results)
        return PageResult(ok, "+".join(r.channel for r in results),
                          "; ".join(f"{r.channel}: {r.detail or 'ok'}" for r in results))


def pager_from_env(env: dict[str, str]) -> Pager:
    """The transports configured in the environment, else the recording fake:

    EV_PAGE_WEBHOOK   JSON webhook URL          EV_PAGE_SLACK  Slack-compatible webhook URL
    EV_PAGE_SMTP      SMTP host[:port]          EV_PAGE_FROM   sender address for email pages
    EV_PAGE_EMAILS    member=address,member=address (who gets email pages)
    """
    pagers: list[Pager] = []
    if env.get("EV_PAGE_WEBHOOK"):
        pagers.append(WebhookPager(env["EV_PAGE_WEBHOOK"]))
    if env.get("EV_PAGE_SLACK"):
        pagers.append(WebhookPager(env["EV_PAGE_SLACK"], slack=True))
    if env.get("EV_PAGE_SMTP"):
        host, _, port = env["EV_PAGE_SMTP"].partition(":")
        addresses = dict(pair.split("=", 1) for pair in env.get("EV_PAGE_EMAILS", "").split(",")
                         if "=" in pair)
        pagers.append(EmailPager(host, env.get("EV_PAGE_FROM", "escapevelocity@localhost"),
                                 addresses, port=int(port or 25)))
    if not pagers:
        return RecordingPager()
    return pagers[0] if len(pagers) == 1 else FanoutPager(pagers)
