"""Signed webhooks to a CRM or contact center, and the customer lookup hook.

Like notifications, the outbox is filled from the event log after commit (its own watermark,
services/logreader.py: an event that commits after a higher seq is still posted, once), so
a receiver that is down never slows or undoes a command. Each delivery is POSTed as JSON with
an HMAC-SHA256 signature (domain/webhooks.py), retried with exponential backoff, and after
`MAX_ATTEMPTS` becomes a dead letter that an admin replays from /admin/webhooks.

The lookup hook asks the CRM who is asking (by handle, and email when known) for each new
case and records the answer as a `crm_linked` event; it is optional and bounded by a timeout,
so a slow CRM costs a missing name, never a lost case.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from escapevelocity.adapters.notify.pager import post_json
from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain import webhooks as wh
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.services import logreader
from escapevelocity.services.casetx import authorize, commit, load

log = logging.getLogger(__name__)
READER = "webhooks"
MAX_ATTEMPTS = 6
BACKOFF = timedelta(seconds=30)  # 30 s, 1 min, 2 min, … then dead
HISTORY = timedelta(hours=24)


class Webhooks:
    def __init__(self, store: SqlStore, clock: Clock, url: str, secret: str, *,
                 lookup_url: str = "", timeout: float = 5.0,
                 post: Callable[..., int] = post_json) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("a webhook URL starts with https:// or http://")
        if len(secret) < 16:
            raise ValueError("the webhook secret needs at least 16 characters")
        self.store, self.clock, self.url, self.secret = store, clock, url, secret
        self.lookup_url, self.timeout, self._post = lookup_url, timeout, post

    @classmethod
    def from_env(cls, store: SqlStore, clock: Clock,
                 env: Mapping[str, str] | None = None) -> Webhooks | None:
        env = os.environ if env is None else env
        if not env.get("EV_WEBHOOK_URL"):
            return None
        return cls(store, clock, env["EV_WEBHOOK_URL"], env.get("EV_WEBHOOK_SECRET", ""),
                   lookup_url=env.get("EV_LOOKUP_URL", ""))

    def sweep(self, now: datetime | None = None) -> int:
        """Queue a delivery for each event with a topic since the cursor; new cases are also
        looked up. Returns how many deliveries were queued."""
        now = now or self.clock.now()
        queued, created = 0, []
        with self.store.begin_write() as tx:  # logreader.take says why
            batch = logreader.take(tx, READER, limit=1000)
            events = batch.events
            found = [(e, wh.topic(e)) for e in events if now - e.at <= HISTORY]
            found = [(e, name) for e, name in found if name]
            cases = tx.cases.get_many({e.stream for e, _ in found})
            for e, name in found:
                delivery = str(uuid.uuid5(uuid.NAMESPACE_URL, f"ev:{e.seq}:{name}"))
                raw = json.dumps(wh.body(delivery, name, e, cases.get(e.stream)))
                fresh = tx.webhooks.enqueue(delivery, name, e.stream, raw, now)
                queued += fresh
                if fresh and name == wh.CASE_CREATED:
                    created.append(e.stream)
            batch.done(now)
        if self.lookup_url:
            for case_id in created:
                self.lookup(case_id)
        return queued

    def deliver(self, now: datetime | None = None) -> int:
        now = now or self.clock.now()
        with self.store.begin() as tx:
            rows = tx.webhooks.due(now)
        done = 0
        for row in rows:
            raw = row["body"].encode()
            stamp = str(int(now.timestamp()))
            headers = {wh.SIGNATURE: wh.sign(self.secret, stamp, raw), wh.TIMESTAMP: stamp,
                       wh.DELIVERY: row["delivery_id"], "X-EV-Topic": row["topic"]}
            try:
                status = self._post(self.url, raw, self.timeout, headers)
                detail = f"HTTP {status}"
            except OSError as exc:
                status, detail = 0, f"{type(exc).__name__}: {exc}"
            attempts = row["attempts"] + 1
            if 200 <= status < 300:
                state, nxt = "delivered", now
                done += 1
            elif attempts >= MAX_ATTEMPTS:
                state, nxt = "dead", now
                log.warning("webhook %s is a dead letter: %s", row["delivery_id"], detail)
            else:
                state, nxt = "pending", now + BACKOFF * (2 ** (attempts - 1))
            with self.store.begin() as tx:
                tx.webhooks.record(row["id"], state=state, attempts=attempts, next_at=nxt,
                              detail=detail)
        return done

    def tick(self, now: datetime | None = None) -> dict[str, int]:
        now = now or self.clock.now()
        return {"queued": self.sweep(now), "delivered": self.deliver(now)}

    def lookup(self, case_id: str) -> Event | None:
        """Ask the CRM who is asking; record a `crm_linked` event when it knows them."""
        with self.store.begin() as tx:
            case = load(tx, case_id)
        query = json.dumps({"handle": case.author_handle, "channel": case.channel,
                            "email": case.author_handle if "@" in case.author_handle
                            else ""}).encode()
        request = urllib.request.Request(self.lookup_url, data=query, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                found = json.loads(response.read(65536) or b"{}")
        except (OSError, ValueError) as exc:
            log.info("customer lookup for %s failed: %s", case_id, exc)
            return None
        crm_id = str(found.get("crm_id") or "")[:128] if isinstance(found, dict) else ""
        if not crm_id:
            return None
        with self.store.begin() as tx:
            case = load(tx, case_id)
            if case.crm_id:
                return None  # a member linked it meanwhile
            event = ev.CrmLinked(stream=case_id, at=self.clock.now(), actor=ev.SYSTEM,
                                 crm_id=crm_id, name=str(found.get("name") or "")[:200],
                                 email=str(found.get("email") or "")[:200], lists=[],
                                 source="lookup hook")
            commit(tx, case, event)
        return event


def dead_letters(store: SqlStore, member: str) -> list[dict]:
    with store.begin() as tx:
        authorize(tx, member, perm.CONFIGURE)
        return tx.webhooks.listing()


def replay(store: SqlStore, clock: Clock, member: str, row_id: int) -> bool:
    with store.begin() as tx:
        authorize(tx, member, perm.CONFIGURE)
        return tx.webhooks.replay(row_id, clock.now())
