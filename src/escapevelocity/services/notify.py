"""Notifications: read the event log after a cursor, derive who hears what (domain/
notifications.py), store them, then deliver the email and Slack ones with retries.

Runs after commit — from the clock-driven worker and from the live stream when it sees new
events — never inside a command's transaction, so a slow SMTP server cannot hold a case lock
and a failed delivery cannot undo a reply. Reading the log with a locked watermark
(services/logreader.py) makes a pass idempotent: two processes never tell a member twice about
one event, and an event that commits after a higher seq (PostgreSQL) is still told. Events
older than `HISTORY` (a backfill, an import) tell nobody.

`Notifier.page` makes it a `Pager` too, so crisis pages and channel-health alerts that arrive
as pages land in the same bell and transports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from escapevelocity.adapters.notify.pager import Page, PageResult
from escapevelocity.adapters.notify.transports import Outgoing, Transport
from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev
from escapevelocity.domain import notifications as dn
from escapevelocity.domain.clock import Clock
from escapevelocity.services import logreader

log = logging.getLogger(__name__)
READER = "notifications"
HISTORY = timedelta(hours=24)
MAX_ATTEMPTS = 5
BACKOFF = timedelta(seconds=30)  # doubled at each failed attempt
BATCH = 500


class Notifier:
    def __init__(self, store: SqlStore, clock: Clock,
                 transports: Mapping[str, Transport] | None = None, base_url: str = "") -> None:
        self.store, self.clock = store, clock
        self.transports = dict(transports or {})
        self.base_url = base_url.rstrip("/")

    def sweep(self, now: datetime | None = None) -> int:
        """Derive and store the notifications of events not read yet; returns how many."""
        now = now or self.clock.now()
        made = 0
        for _ in range(100):  # bounded: a huge backlog is finished by the next pass
            with self.store.begin_write() as tx:  # logreader.take says why
                batch = logreader.take(tx, READER, limit=BATCH)
                events = batch.events
                if not events:
                    batch.done(now)  # holes that waited long enough are given up
                    return made
                org = tx.org.load()
                prefs = tx.notifications.all_prefs()
                cases = tx.cases.get_many({
                    e.stream for e in events if not e.stream.startswith(
                        ev.NON_CASE_PREFIXES)})
                for e in events:
                    if now - e.at > HISTORY:
                        continue
                    for note in dn.derive(e, org, cases.get(e.stream)):
                        chosen = self._carried(dn.route(
                            note, org, prefs.get(note.member, dn.DEFAULT_PREFS), now))
                        if chosen and tx.notifications.add(note, chosen, now) is not None:
                            made += 1
                batch.done(now)
        return made

    def _carried(self, chosen: list[str]) -> list[str]:
        """The chosen transports this server can carry: with no SMTP set up (the demo, a
        laptop) no email is queued, instead of a failed delivery logged per notification. The
        Slack-compatible transport is always there (members may give their own webhook URL)."""
        return [t for t in chosen if t == dn.WEB or t in self.transports]

    def deliver(self, now: datetime | None = None) -> int:
        """Send pending email/Slack deliveries that are due; returns how many went out."""
        now = now or self.clock.now()
        with self.store.begin() as tx:
            due = tx.notifications.due_deliveries(now)
            org = tx.org.load()
            prefs = tx.notifications.all_prefs()
        sent = 0
        for row in due:
            member = org.member(row["member"])
            transport = self.transports.get(row["transport"])
            attempts = row["attempts"] + 1
            if member is None or transport is None:
                result_ok, detail, transient = False, f"no {row['transport']} transport", False
            else:
                link = f"{self.base_url}{row['link']}" if self.base_url else row["link"]
                result = transport.send(Outgoing(
                    member=member.id, email=member.email,
                    slack_url=prefs.get(member.id, dn.DEFAULT_PREFS).slack_url,
                    kind=row["kind"], text=row["text"], link=link, urgency=row["urgency"]))
                result_ok, detail, transient = result.ok, result.detail, result.transient
            if result_ok:
                state, nxt = "sent", now
                sent += 1
            elif transient and attempts < MAX_ATTEMPTS:
                state, nxt = "pending", now + BACKOFF * (2 ** (attempts - 1))
            else:
                state, nxt = "failed", now
                log.warning("notification %s by %s failed: %s", row["notification_id"],
                            row["transport"], detail)
            with self.store.begin() as tx:
                tx.notifications.record_delivery(row["id"], state=state, attempts=attempts,
                                   next_at=nxt, detail=detail)
        return sent

    def tick(self, now: datetime | None = None) -> dict[str, int]:
        now = now or self.clock.now()
        return {"notified": self.sweep(now), "delivered": self.deliver(now)}

    def page(self, page: Page) -> PageResult:
        """A page (crisis, channel health) as an urgent notification: stored for the bell and
        routed by the member's preferences and the on-call rule like any other."""
        health = page.incident.startswith("connection:")
        kind = dn.CHANNEL_HEALTH if health else dn.CRISIS
        link = page.url or ("/admin/channels" if health else
                            f"/incidents/{page.incident.removeprefix(ev.INCIDENT_PREFIX)}")
        if self.base_url and link.startswith(self.base_url):
            link = link.removeprefix(self.base_url) or "/"  # stored relative; made absolute on send
        note = dn.Notification(member=page.member, kind=kind, text=page.summary[:dn.TEXT_CHARS],
                               link=link, urgency=dn.URGENT, stream=page.incident, at=page.at)
        with self.store.begin() as tx:
            org = tx.org.load()
            chosen = self._carried(dn.route(note, org, tx.notifications.prefs(page.member),
                                            page.at))
            if chosen:
                tx.notifications.add(note, chosen, page.at)
        self.deliver(page.at)
        return PageResult(bool(chosen), "notifications", ",".join(chosen) or "muted")
