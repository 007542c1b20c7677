"""The connections repository: each function takes a SQLAlchemy Connection (the caller's
transaction), so it folds into the store's unit of work.

Secrets arrive and leave sealed (adapters/secrets.py); this module never sees them in clear.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from escapevelocity.adapters.store import schema as t


class StoredConnection(msgspec.Struct, kw_only=True):
    name: str
    channel: str
    settings: dict[str, Any] = {}
    query: str = ""
    sealed: str = ""  # the Fernet token; never decoded here
    cursor: str | None = None
    health: str = "new"
    failures: int = 0
    last_error: str = ""
    last_success: datetime | None = None
    last_poll: datetime | None = None
    next_poll: datetime | None = None
    live_since: datetime | None = None
    enabled: bool = True
    created_at: datetime | None = None


_c = t.connections.c


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were stored in UTC (schema.UtcDateTime)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _row(r: Any) -> StoredConnection:
    return StoredConnection(
        name=r.name, channel=r.channel, settings=json.loads(r.settings or "{}"), query=r.query,
        sealed=r.secrets, cursor=r.cursor, health=r.health, failures=r.failures,
        last_error=r.last_error, last_success=_utc(r.last_success), last_poll=_utc(r.last_poll),
        next_poll=_utc(r.next_poll), live_since=_utc(r.live_since), enabled=r.enabled,
        created_at=_utc(r.created_at))


def add(conn: Connection, c: StoredConnection, now: datetime) -> None:
    if get(conn, c.name) is not None:
        raise ValueError(f"a connection named {c.name!r} exists already")
    conn.execute(t.connections.insert().values(
        name=c.name, channel=c.channel, settings=json.dumps(c.settings, sort_keys=True),
        query=c.query, secrets=c.sealed, cursor=c.cursor, health=c.health, enabled=c.enabled,
        created_at=now, next_poll=now))


def get(conn: Connection, name: str) -> StoredConnection | None:
    r = conn.execute(sa.select(t.connections).where(_c.name == name)).first()
    return _row(r) if r else None


def all_(conn: Connection) -> list[StoredConnection]:
    return [_row(r) for r in conn.execute(sa.select(t.connections).order_by(_c.name))]


def due(conn: Connection, now: datetime) -> list[StoredConnection]:
    q = sa.select(t.connections).where(_c.enabled.is_(True), sa.or_(
        _c.next_poll.is_(None), _c.next_poll <= now)).order_by(_c.next_poll)
    return [_row(r) for r in conn.execute(q)]


def remove(conn: Connection, name: str) -> bool:
    return conn.execute(t.connections.delete().where(_c.name == name)).rowcount > 0


def update(conn: Connection, name: str, **values: Any) -> None:
    if "settings" in values:
        values["settings"] = json.dumps(values["settings"], sort_keys=True)
    if "sealed" in values:
        values["secrets"] = values.pop("sealed")
    conn.execute(t.connections.update().where(_c.name == name).values(**values))


def save_cursor(conn: Connection, name: str, cursor: str) -> None:
    """Called after the mentions read up to `cursor` are committed (at-least-once: a crash in
    between re-reads them, and ingest skips what it has by channel and source id)."""
    conn.execute(t.connections.update().where(_c.name == name).values(cursor=cursor))


def record_poll(conn: Connection, name: str, *, now: datetime, health: str, failures: int,
                next_poll: datetime, error: str = "", success: bool) -> None:
    values: dict[str, Any] = {"health": health, "failures": failures, "last_poll": now,
                              "next_poll": next_poll, "last_error": error[:2000]}
    if success:
        values["last_success"] = now
        values["live_since"] = sa.func.coalesce(_c.live_since, now)
    conn.execute(t.connections.update().where(_c.name == name).values(**values))


def seen_delivery(conn: Connection, connection: str, delivery_id: str, now: datetime,
                  keep: timedelta) -> bool:
    """Record a webhook delivery id; True when it was seen before (a replay). Ids older than
    `keep` are forgotten (the timestamp window refuses anything that old anyway)."""
    d = t.webhook_deliveries
    conn.execute(d.delete().where(d.c.received_at < now - keep))
    if conn.execute(sa.select(d.c.delivery_id).where(
            d.c.connection == connection, d.c.delivery_id == delivery_id)).first():
        return True
    conn.execute(d.insert().values(connection=connection, delivery_id=delivery_id,
                                   received_at=now))
    return False


def recent_mentions(conn: Connection, limit: int, channel: str | None = None) -> list[Any]:
    """The newest stored mentions (their JSON bodies decoded), for a query's preview."""
    from escapevelocity.domain.records import Mention

    m = t.mentions.c
    q = sa.select(m.body).order_by(m.id.desc()).limit(limit)
    if channel:
        q = q.where(m.channel == channel)
    dec = msgspec.json.Decoder(Mention)
    return [dec.decode(body) for (body,) in conn.execute(q)]
