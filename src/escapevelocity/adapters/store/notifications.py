"""Notifications, their deliveries, members' preferences and the log readers' watermarks.

Plain functions over a SQLAlchemy `Connection`, so they join whatever transaction the caller
holds (the store is becoming a unit of work: these become a repository of it unchanged).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import insert_for
from escapevelocity.domain.notifications import Notification, Prefs, load_prefs
from escapevelocity.domain.watermark import Watermark

N, D = t.notifications, t.notification_deliveries
# The bell of every page a member loads: built once (see adapters/store/cases._UPDATE).
_UNREAD = sa.select(sa.func.count()).select_from(N).where(
    N.c.member == sa.bindparam("member"), N.c.read_at.is_(None))


def watermark(conn: Connection, name: str, *, lock: bool = False, start: int = 0) -> Watermark:
    """Where reader `name` has got to in the event log (domain/watermark.py), created at
    `start`: a reader switched on in a workspace with years of log starts at its end, not at
    the first event. `lock`: hold the row so two processes do not read the same stretch (FOR
    UPDATE on PostgreSQL; on SQLite only inside `begin_write`, which holds the one write lock
    from the start)."""
    C = t.log_cursors.c
    q = sa.select(C.seq, C.high, C.holes).where(C.name == name)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:  # two processes starting the reader at once: one row, the first one's
        insert = insert_for(conn.dialect.name)
        conn.execute(insert(t.log_cursors).values(name=name, seq=start, high=start, holes="")
                     .on_conflict_do_nothing(index_elements=[t.log_cursors.c.name]))
        row = conn.execute(q.with_for_update() if lock else q).one()
    low = int(row.seq)
    high = low if row.high is None else max(low, int(row.high))
    return Watermark(low, high, MappingProxyType(_holes(row.holes)))


def set_watermark(conn: Connection, name: str, mark: Watermark) -> None:
    conn.execute(sa.update(t.log_cursors).where(t.log_cursors.c.name == name).values(
        seq=mark.low, high=mark.high, holes=_runs(mark.missing)))


def set_cursor(conn: Connection, name: str, seq: int) -> None:
    """Move reader `name` to `seq`: everything at or below it counts as handled, nothing
    above it, no hole waited for (an operator's reset, a test)."""
    set_watermark(conn, name, Watermark.at(seq))


def _runs(missing: Mapping[int, float]) -> str:
    """Missing seqs as JSON runs [first, last, since]: a rolled-back batch of a thousand events
    is one run, not a thousand keys."""
    runs: list[list[float]] = []
    for seq in sorted(missing):
        since = missing[seq]
        if runs and runs[-1][1] == seq - 1 and runs[-1][2] == since:
            runs[-1][1] = seq
        else:
            runs.append([seq, seq, since])
    return json.dumps(runs) if runs else ""


def _holes(raw: str | None) -> dict[int, float]:
    out: dict[int, float] = {}
    for first, last, since in json.loads(raw) if raw else []:
        out.update(dict.fromkeys(range(int(first), int(last) + 1), float(since)))
    return out


def add(conn: Connection, note: Notification, transports: Iterable[str], now: datetime
        ) -> int | None:
    """Store a notification and a pending delivery per outside transport; None when this
    event already told this member (a second reader of the same stretch)."""
    if note.seq is not None and conn.execute(sa.select(N.c.id).where(
            N.c.event_seq == note.seq, N.c.member == note.member, N.c.kind == note.kind)
    ).first():
        return None
    nid = conn.execute(sa.insert(N).values(
        member=note.member, kind=note.kind, text=note.text, link=note.link,
        urgency=note.urgency, stream=note.stream, event_seq=note.seq, created_at=note.at,
    ).returning(N.c.id)).scalar_one()
    for transport in transports:
        if transport != "web":
            conn.execute(sa.insert(D).values(notification_id=nid, transport=transport,
                                             state="pending", attempts=0, next_at=now))
    return nid


def unread_count(conn: Connection, member: str) -> int:
    return conn.execute(_UNREAD, {"member": member}).scalar_one()


def latest(conn: Connection, member: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(N).where(N.c.member == member)
                        .order_by(N.c.id.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


def mark_read(conn: Connection, member: str, at: datetime, ids: Iterable[int] | None = None
              ) -> int:
    """Mark the member's notifications read (all when `ids` is None); only their own."""
    q = sa.update(N).where(N.c.member == member, N.c.read_at.is_(None)).values(read_at=at)
    if ids is not None:
        q = q.where(N.c.id.in_(list(ids)))
    return conn.execute(q).rowcount


def due_deliveries(conn: Connection, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
    q = (sa.select(D, N.c.member, N.c.kind, N.c.text, N.c.link, N.c.urgency, N.c.stream)
         .join(N, N.c.id == D.c.notification_id)
         .where(D.c.state == "pending", D.c.next_at <= now).order_by(D.c.id).limit(limit))
    return [dict(r._mapping) for r in conn.execute(q)]


def record_delivery(conn: Connection, delivery_id: int, *, state: str, attempts: int,
                    next_at: datetime, detail: str) -> None:
    conn.execute(sa.update(D).where(D.c.id == delivery_id).values(
        state=state, attempts=attempts, next_at=next_at, detail=detail[:400]))


def deliveries(conn: Connection, notification_id: int) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(
        sa.select(D).where(D.c.notification_id == notification_id).order_by(D.c.id))]


def prefs(conn: Connection, member: str) -> Prefs:
    raw = conn.execute(sa.select(t.notification_prefs.c.body).where(
        t.notification_prefs.c.member == member)).scalar()
    return load_prefs(raw)


def all_prefs(conn: Connection) -> dict[str, Prefs]:
    return {r.member: load_prefs(r.body) for r in conn.execute(sa.select(t.notification_prefs))}


def save_prefs(conn: Connection, member: str, value: Prefs) -> None:
    body = msgspec.json.encode(value).decode()
    table = t.notification_prefs
    if conn.execute(sa.select(table.c.member).where(table.c.member == member)).first():
        conn.execute(sa.update(table).where(table.c.member == member).values(body=body))
    else:
        conn.execute(sa.insert(table).values(member=member, body=body))
