"""The signed-webhook outbox: rows to POST, retried with backoff, dead letters to replay.
Plain functions over a SQLAlchemy `Connection` (they join the caller's transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from escapevelocity.adapters.store import schema as t

W = t.webhook_outbox


def enqueue(conn: Connection, delivery_id: str, topic: str, case_id: str, body: str,
            now: datetime) -> bool:
    if conn.execute(sa.select(W.c.id).where(W.c.delivery_id == delivery_id)).first():
        return False
    conn.execute(sa.insert(W).values(delivery_id=delivery_id, topic=topic, case_id=case_id,
                                     body=body, state="pending", attempts=0, next_at=now,
                                     created_at=now))
    return True


def due(conn: Connection, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
    q = sa.select(W).where(W.c.state == "pending", W.c.next_at <= now).order_by(W.c.id)
    return [dict(r._mapping) for r in conn.execute(q.limit(limit))]


def record(conn: Connection, row_id: int, *, state: str, attempts: int, next_at: datetime,
           detail: str) -> None:
    conn.execute(sa.update(W).where(W.c.id == row_id).values(
        state=state, attempts=attempts, next_at=next_at, detail=detail[:400]))


def listing(conn: Connection, state: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    q = sa.select(W).order_by(W.c.id.desc()).limit(limit)
    if state:
        q = q.where(W.c.state == state)
    return [dict(r._mapping) for r in conn.execute(q)]


def replay(conn: Connection, row_id: int, now: datetime) -> bool:
    """A dead letter back to the queue, with a fresh count of attempts (same delivery id, so
    the receiver can tell it is the same delivery)."""
    return conn.execute(sa.update(W).where(W.c.id == row_id, W.c.state == "dead").values(
        state="pending", attempts=0, next_at=now, detail="replayed")).rowcount == 1
