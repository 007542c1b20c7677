"""Live replies: a `replied` event that is not a dry run is sent through the channel of the
connection the customer wrote from, and what happened becomes an event on the case.

The reply is committed first (the record of what the member said), then sent with no lock
held, then its outcome is committed: `reply_sent` with the network's id, or `send_failed`
(shown on the case, and in the bell of the member who wrote it). Transient failures (timeouts,
429 with Retry-After, 5xx) are tried again with backoff (adapters/outbound.send_with_retries).
A reply is posted at most once: every try carries one idempotency key per reply event
(Mastodon's Idempotency-Key, Bluesky's record key, a webhook's delivery id, an email's
Message-ID), a sender that can look checks before a retry whether the last try did post, and an
outcome already recorded stops a second delivery of the same reply (`tick` picks up replies a
crash left unsent).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from escapevelocity.adapters.outbound import send_with_retries
from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.adapters.store.connections import StoredConnection
from escapevelocity.domain import events as ev
from escapevelocity.domain import governance, outbound
from escapevelocity.domain.cases import Case
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.domain.outbound import SendResult
from escapevelocity.domain.records import Mention
from escapevelocity.services.casetx import CaseError, commit, load

log = logging.getLogger(__name__)
ATTEMPTS = 4
BACKOFF = 1.0  # seconds, doubled at each try
GRACE = timedelta(minutes=10)  # `tick` leaves a newer reply to the request sending it
GIVE_UP = timedelta(hours=1)  # a reply still failing transiently this old is a failed send
_mention = msgspec.json.Decoder(Mention)
CURSOR = "replies_checked"  # the document: every live reply at or below this seq has its outcome
BATCH = 2000


@dataclass(frozen=True)
class ReplyRoute:
    """Where a case's replies go: the connection the customer's latest mention came through,
    whether it can send, and whether the switch says live."""

    connection: str
    channel: str  # the connection's channel (mastodon, imap, …); "" without a connection
    title: str
    can_send: bool
    live: bool
    max_chars: int = 0  # the network's limit (Capabilities.max_chars); 0: none
    closed: bool = False  # the post is older than the channel's reply window: cannot send

    @property
    def dry_run(self) -> bool:
        return not (self.can_send and self.live)

    def label(self, visibility: str) -> str:
        return outbound.reply_label(visibility, live=self.live, can_send=self.can_send,
                                    title=self.title, closed=self.closed)


def _customer_mention(tx: Tx, case: Case,
                      before: datetime | None = None) -> Mention | None:
    """The customer's latest mention on the case (written before `before`, when any was: a
    network's clock may run ahead of ours): what a reply answers."""
    found = earliest = None
    for row in tx.mentions.of_case(case.id):
        m = _mention.decode(row.body)
        earliest = earliest or m
        if before is not None and m.created_at > before:
            continue
        if found is None or m.author.handle == case.author_handle:
            found = m
    return found or earliest


def route(tx: Tx, case: Case, now: datetime | None = None) -> ReplyRoute:
    """Where a reply to the case goes now; with `now`, a post older than the channel's reply
    window cannot be answered there (the reply is recorded only, and the button says why)."""
    from escapevelocity.channels import registry

    mode = outbound.load_mode(tx.documents.get(outbound.MODE_DOCUMENT))
    mention = _customer_mention(tx, case)
    conn = tx.connections.get(mention.via) if mention and mention.via else None
    if conn is None:
        channel = str(case.channel or "")
        return ReplyRoute("", "", channel or "this channel", False, mode.live(channel))
    spec = registry().get(conn.channel)
    can = bool(spec and conn.enabled and spec.can_send(conn.settings))
    closed = bool(spec and now is not None and mention is not None and outbound.window_closed(
        spec.capabilities.reply_window, mention.created_at, now))
    # a unit's own connection sends nothing until the hub approves its readiness
    blocked = governance.sends_blocked(governance.decode(tx.documents.get(
        governance.DOCUMENT)), conn.name)
    return ReplyRoute(conn.name, conn.channel, spec.title if spec else conn.channel,
                      can and not closed, mode.live_for(conn.name, conn.channel) and not blocked,
                      spec.capabilities.max_chars if spec else 0, closed)


def private_sender(tx: Tx, case: Case, key: str, at: datetime, *,
                   sealer: Any = None) -> tuple[ReplyRoute, Any, dict[str, Any]] | None:
    """The case's connection when it can write to the customer privately (a satisfaction
    question goes the way the customer came): its route, its sender and the target; None
    when it cannot (then domain/outbound.private_route decides, e.g. email)."""
    from escapevelocity.channels import registry

    way = route(tx, case, at)
    spec = registry().get(way.channel) if way.channel else None
    if not way.can_send or spec is None or not spec.capabilities.private:
        return None
    conn = tx.connections.get(way.connection)
    mention = _customer_mention(tx, case)
    if conn is None or mention is None:
        return None
    if way.dry_run:
        return way, None, _target(case, mention, key, at)
    try:
        sender = spec.send(conn.settings, (sealer or _sealer()).unseal(conn.sealed))  # type: ignore[misc]
    except (RuntimeError, ValueError, KeyError):
        return None
    return way, sender, _target(case, mention, key, at)


def _outcome(history: list[Event], seq: int) -> Event | None:
    return next((e for e in history if e.kind in (ev.REPLY_SENT, ev.SEND_FAILED)
                 and e.data.get("reply") == seq), None)


def _target(case: Case, m: Mention, key: str, at: datetime) -> dict[str, Any]:
    """What a sender is given: the post to answer and who wrote it (domain/outbound.Sender)."""
    return {"id": case.id, "key": key, "title": case.title or "",
            "source_id": m.source_id, "in_reply_to": m.in_reply_to, "thread_id": m.thread_id,
            "url": m.url, "author_handle": m.author.handle, "to": m.author.handle,
            "kind": m.kind, "at": at.isoformat(), "subject": m.text.split("\n", 1)[0][:200]}


def deliver(store: SqlStore, clock: Clock, case_id: str, reply_seq: int | None = None, *,
            sealer: Any = None, sleep: Callable[[float], None] = time.sleep,
            attempts: int = ATTEMPTS, backoff: float = BACKOFF, max_wait: float = 120.0,
            defer: bool = False) -> Event | None:
    """Send the live reply `reply_seq` of the case (None: its latest reply); returns its
    outcome event, or None when there is nothing to send (a dry run, or an outcome is already
    recorded) or, with `defer`, when the network is still failing transiently after the tries:
    nothing is recorded and the worker's `tick` tries again later (a member's request does not
    wait out a long Retry-After)."""
    from escapevelocity.channels import registry

    with store.begin() as tx:
        history = tx.events.stream(case_id)
        replied = next((e for e in reversed(history) if e.kind == ev.REPLIED
                        and reply_seq in (None, e.seq)), None)
        if replied is None or replied.seq is None:
            return None
        reply_seq = replied.seq
        if replied.data.get("dry_run") or _outcome(history, reply_seq):
            return None
        case = load(tx, case_id)
        name = str(replied.data.get("connection") or "")
        conn: StoredConnection | None = tx.connections.get(name) if name else None
        mention = _customer_mention(tx, case, before=replied.at)
        # a unit's channel withdrawn (or rejected) between the reply and its send
        blocked = bool(name) and governance.sends_blocked(governance.decode(
            tx.documents.get(governance.DOCUMENT)), name)
    key = outbound.idempotency_key(case_id, reply_seq)
    text, visibility = str(replied.data.get("text") or ""), str(
        replied.data.get("visibility") or "public")
    spec = registry().get(conn.channel) if conn else None
    tries = 0
    if conn is None or spec is None or mention is None:
        result = SendResult(error=f"no connection {name!r} to send through")
    elif blocked:
        result = SendResult(error=f"{name} is a business unit's channel that may not send now "
                                  "(withdrawn, rejected or not approved)")
    elif not spec.can_send(conn.settings):
        result = SendResult(error=f"{spec.title} cannot send replies with this connection's "
                                  "settings")
    else:
        try:
            secrets = (sealer or _sealer()).unseal(conn.sealed)
            sender = spec.send(conn.settings, secrets)  # type: ignore[misc]
            try:
                result, tries = send_with_retries(
                    sender, _target(case, mention, key, replied.at), text, visibility,
                    attempts=attempts, backoff=backoff, max_wait=max_wait, sleep=sleep)
            finally:
                close(sender)
        except (RuntimeError, ValueError, KeyError) as exc:
            result = SendResult(error=f"{type(exc).__name__}: {exc}")
    if defer and not result.ok and result.transient:
        log.info("reply %s on %s deferred to the tick: %s", reply_seq, case_id, result.error)
        return None
    now = clock.now()
    channel = conn.channel if conn else ""
    if result.ok:
        event: Event = ev.ReplySent(
            stream=case_id, at=now, actor=ev.SYSTEM, reply=reply_seq, key=key, via=channel,
            connection=name, network_id=str(result.network_id or ""), url=result.url[:500],
            visibility=visibility, attempts=tries)
    else:
        log.warning("reply %s on %s not sent: %s", reply_seq, case_id, result.error)
        event = ev.SendFailed(
            stream=case_id, at=now, actor=ev.SYSTEM, what="reply", via=channel,
            connection=name, attempts=tries, text=text, error=(result.error or "")[:300],
            reply=reply_seq, key=key, by=replied.actor)
    for _ in range(3):  # another event landed on the case meanwhile: read it again
        with store.begin() as tx:
            if _outcome(tx.events.stream(case_id), reply_seq):
                return None
            try:
                commit(tx, load(tx, case_id), event)
                return event
            except CaseError:
                continue
    raise CaseError("the case kept changing; the send's outcome could not be recorded")


def close(sender: Any) -> None:
    """Let a sender give back its connections (an HTTP client's pool), when it has any."""
    done = getattr(sender, "close", None)
    if callable(done):
        done()


def _sealer() -> Any:
    from escapevelocity.adapters.secrets import Sealer

    return Sealer.from_env()


def pending(store: SqlStore, now: datetime, grace: timedelta = GRACE) -> list[tuple[str, int]]:
    """(case id, reply seq) of the live replies `tick` would send now."""
    return [(e.stream, int(e.seq or 0)) for e in _due(store, now, grace)]


def _due(store: SqlStore, now: datetime, grace: timedelta = GRACE) -> list[Event]:
    """Live replies older than `grace` with no outcome recorded (a crash between the reply and
    its send), oldest first. A cursor (document `replies_checked`) remembers below which seq
    every live reply has its outcome, so each look reads only the log's newer replies."""
    with store.begin() as tx:
        start = int(tx.documents.get(CURSOR) or 0)
        batch = tx.events.of_kind(ev.REPLIED, after=start, limit=BATCH)
        live = [e for e in batch if not e.data.get("dry_run") and e.seq is not None]
        done = {e.data.get("reply") for e in tx.events.after(
            min(e.seq for e in live) - 1, (ev.REPLY_SENT, ev.SEND_FAILED))} if live else set()
        waiting = [e for e in live if e.seq not in done]
        cursor = (min(int(e.seq or 0) for e in waiting) - 1 if waiting
                  else int(batch[-1].seq or start) if batch else start)
        if cursor != start:
            tx.documents.put(CURSOR, str(cursor), now)
    return [e for e in waiting if e.at <= now - grace]


def tick(store: SqlStore, clock: Clock, *, sealer: Any = None,
         sleep: Callable[[float], None] = time.sleep) -> list[Event]:
    """Deliver what a crash, or a network failing transiently, left unsent (the worker runs
    this each pass). A network still failing is tried again at the next pass, without long
    waits that would hold up the other jobs, until the reply is GIVE_UP old: then the failure
    is recorded on the case."""
    out = []
    now = clock.now()
    for e in _due(store, now):
        event = deliver(store, clock, e.stream, e.seq, sealer=sealer, sleep=sleep, attempts=3,
                        max_wait=30.0, defer=now - e.at < GIVE_UP)
        if event is not None:
            out.append(event)
    return out
