"""The runner: poll a connection, retry with backoff, feed intake, keep the cursor and health.

One text for every channel: a connector only fetches pages (channels/base.py). Per poll the
runner reads pages after the stored cursor until the connector says there is no more (so an
outage is backfilled from where it stopped), hands each page's mentions to the intake path
(services/intake.py: crisis mode, then ingest, idempotent by channel and source id) and only
then stores the page's cursor. A crash between the two re-reads a page; ingest counts the
repeats as duplicates. Nothing is lost and nothing is ingested twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from escapevelocity.adapters.secrets import Sealer
from escapevelocity.channels import get
from escapevelocity.channels.base import (
    ChannelError,
    Connector,
    CredentialsExpired,
    Page,
    RateLimited,
)
from escapevelocity.domain import channel_health as health
from escapevelocity.domain.listening import Post, Query
from escapevelocity.domain.records import Mention
from escapevelocity.services.intake import Intake

log = logging.getLogger(__name__)


@dataclass
class PollReport:
    name: str
    health: str = "new"
    pages: int = 0
    read: int = 0  # payloads the network sent
    kept: int = 0  # mentions the listening query kept
    accepted: int = 0
    duplicates: int = 0
    historical: int = 0
    retries: int = 0
    waited: float = 0.0  # seconds of backoff
    error: str = ""


def _every_minutes(settings: dict) -> int:
    try:
        return max(1, int(settings.get("every_minutes") or 1))
    except (TypeError, ValueError):
        return 1


def keeper(query: str) -> Callable[[Mention], bool]:
    q = Query(query)
    return lambda m: q(Post(m.text, m.author.handle, m.lang))


class Runner:
    def __init__(self, intake: Intake, sealer: Sealer, *, sleep: Callable[[float], None] =
                 time.sleep, attempts: int = 5, max_pages: int = 200,
                 on_health: Callable[..., object] | None = None) -> None:
        self.intake, self.sealer, self.sleep = intake, sealer, sleep
        self.on_health = on_health  # (name, before, after, error, now): channels/alerts.py
        self.attempts, self.max_pages = attempts, max_pages
        self.store = intake.workspace.store
        self.clock = intake.workspace.clock

    def run_due(self) -> list[PollReport]:
        with self.store.begin() as tx:
            due = [c for c in tx.connections.due(self.clock.now()) if get(c.channel).pull]
        return [self.poll(c.name) for c in due]

    def poll(self, name: str, *, connector: Connector | None = None) -> PollReport:
        with self.store.begin() as tx:
            rec = tx.connections.get(name)
        if rec is None:
            raise ValueError(f"no connection named {name!r}")
        channel = get(rec.channel)
        report = PollReport(name)
        start = self.clock.now()
        live_since = rec.live_since or start
        cursor = rec.cursor
        rate_limited = False
        kind = ""
        retry_after: float | None = None
        try:
            connector = connector or channel.open(rec.settings, self.sealer.unseal(rec.sealed),
                                                  keeper(rec.query))
            try:
                for _ in range(self.max_pages):
                    page, limited = self._fetch(connector, cursor, report)
                    rate_limited |= limited
                    report.pages += 1
                    report.read += page.read
                    self._take(page, live_since, report)
                    if page.cursor is not None and page.cursor != cursor:
                        cursor = page.cursor
                        with self.store.begin() as tx:
                            tx.connections.save_cursor(name, cursor)
                    if not page.more:
                        break
            finally:
                connector.close()
        except RateLimited as exc:  # asked to wait longer than a poll waits: come back then
            kind, retry_after = "rate_limited", exc.retry_after
            report.error = f"RateLimited: {exc} (next poll in {retry_after or 0:.0f} s)"
        except ChannelError as exc:
            kind = "credentials" if isinstance(exc, CredentialsExpired) else (
                "transient" if exc.transient else "config")
            report.error = f"{exc.__class__.__name__}: {exc}"[:2000]
        except Exception as exc:  # a bug or a bad setting: this connection fails, not the pass
            log.exception("connection %s: poll failed", name)
            kind = "config"
            report.error = f"{exc.__class__.__name__}: {exc}"[:2000]
        outcome = health.Outcome(ok=not kind, retries=report.retries, rate_limited=rate_limited,
                                 kind=kind, error=report.error)
        report.health = health.assess(outcome)
        failures = health.failures_after(rec.failures, outcome)
        now = self.clock.now()
        every = health.POLL_EVERY * _every_minutes(rec.settings)
        with self.store.begin() as tx:
            tx.connections.record_poll(name, now=now, health=report.health, failures=failures,
                             next_poll=health.next_poll(now, failures, every, retry_after),
                             error=report.error, success=outcome.ok)
        if report.health != rec.health:
            level = logging.WARNING if report.health in health.PROBLEMS else logging.INFO
            log.log(level, "connection %s: %s → %s %s", name, rec.health, report.health,
                    report.error)
            if self.on_health is not None:
                try:  # telling people must not undo the poll's bookkeeping
                    self.on_health(name, rec.health, report.health, report.error, now)
                except Exception:
                    log.exception("connection %s: health alert failed", name)
        return report

    def _fetch(self, connector: Connector, cursor: str | None,
               report: PollReport) -> tuple[Page, bool]:
        limited = False
        for attempt in range(self.attempts):
            try:
                return connector.fetch(cursor), limited
            except ChannelError as exc:
                if not exc.transient or attempt == self.attempts - 1:
                    raise
                after = exc.retry_after if isinstance(exc, RateLimited) else None
                if not health.wait_inline(after):
                    raise
                limited |= isinstance(exc, RateLimited)
                delay = health.retry_delay(attempt, after)
                log.info("retrying in %.1fs after %s: %s", delay, exc.__class__.__name__, exc)
                report.retries += 1
                report.waited += delay
                self.sleep(delay)
        raise AssertionError("unreachable")

    def _take(self, page: Page, live_since, report: PollReport) -> None:
        if not page.mentions:
            return
        report.kept += len(page.mentions)
        mentions = [msgspec.structs.replace(m, via=report.name) for m in page.mentions]
        r = self.intake.take(mentions, live_since=live_since)
        report.accepted += r.accepted
        report.duplicates += r.duplicates
        report.historical += sum(
            1 for m in page.mentions
            if m.historical or health.is_historical(m.created_at, self.clock.now(), live_since))


def run_in_background(runner: Runner, stop, every: float = 5.0) -> None:
    """The worker loop `ev serve` starts in a thread: poll what is due, then wait `every`
    seconds (or until `stop`, a threading.Event, is set). One connection failing never stops
    the others, nor the loop."""
    while not stop.is_set():
        try:
            runner.run_due()
        except Exception:  # a bug in one poll must not end listening for every channel
            log.exception("channel polling pass failed")
        stop.wait(every)
