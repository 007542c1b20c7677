"""The rollups table: counters moved by the events of the same transaction (domain/rollups.py).

Kept apart from `SqlStore`'s other tables so that the log's writer has one call to make
(`add`), and so rebuilding is one function over the log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import insert_for
from escapevelocity.domain import rollups


@cache  # built once per dialect: building it (and its cache key) per write cost more than it
def _upsert(dialect: str):
    stmt = insert_for(dialect)(t.rollups)
    return stmt.on_conflict_do_update(index_elements=[t.rollups.c.name, t.rollups.c.key],
                                      set_={"count": t.rollups.c.count + stmt.excluded.count})


def add(conn: Connection, events: Iterable[Any]) -> None:
    """Move the counters by what `events` add, in the caller's transaction. Keys go in sorted
    order, so two writers that touch the same counters lock them in the same order."""
    _apply(conn, rollups.deltas(events))


def add_deltas(conn: Connection, delta: Counter[tuple[str, str]]) -> None:
    """`add` with the deltas already made (rollups.deltas of the events appended)."""
    _apply(conn, delta)


def _apply(conn: Connection, delta: Counter[tuple[str, str]]) -> None:
    if delta and conn.dialect.name == "postgresql":  # one statement (adapters/store/bulk_pg)
        items = sorted(delta.items())
        conn.exec_driver_sql(
            "INSERT INTO rollups (name, key, count) SELECT * FROM "
            "unnest(%(n)s::text[], %(k)s::text[], %(c)s::bigint[]) ON CONFLICT (name, key) "
            "DO UPDATE SET count = rollups.count + excluded.count",
            {"n": [n for (n, _), _ in items], "k": [k for (_, k), _ in items],
             "c": [c for _, c in items]})
    elif delta:
        conn.execute(_upsert(conn.dialect.name), [{"name": n, "key": k, "count": c}
                                     for (n, k), c in sorted(delta.items())])


def read(conn: Connection, name: str) -> dict[str, int]:
    q = sa.select(t.rollups.c.key, t.rollups.c.count).where(t.rollups.c.name == name)
    return {k: c for k, c in conn.execute(q)}


def rebuild(conn: Connection, events: Iterator[Any]) -> None:
    """Every counter again from the log alone (`ev workspace rebuild`)."""
    conn.execute(sa.delete(t.rollups))
    add(conn, events)
