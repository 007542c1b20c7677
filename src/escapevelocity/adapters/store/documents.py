"""Named documents: the applied vocabulary, organisation YAML, engagement policy, CRM list."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import Repo


def peek_sqlite(path: Path, name: str) -> str | None:
    """Document `name` of a SQLite file opened read-only, or None when it is not a workspace
    (a drill checks a file is its own sandbox before overwriting it, without migrating it)."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT body FROM documents WHERE name = ?", (name,)).fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None


# Built once: a document is read several times a command (organisation, policy, governance,
# the triager's stamps), and building the SELECT, then walking its cache key, per read cost
# more than the read (9% of a drill's CPU).
_GET = sa.select(t.documents.c.body).where(t.documents.c.name == sa.bindparam("name"))
_STAMPS = (sa.select(t.documents.c.name, t.documents.c.updated_at)
           .where(t.documents.c.name.like(sa.bindparam("pattern"))).order_by(t.documents.c.name))


class Documents(Repo):
    def put(self, name: str, body: str, at: datetime) -> None:
        self._conn.execute(sa.delete(t.documents).where(t.documents.c.name == name))
        self._conn.execute(t.documents.insert().values(name=name, body=body, updated_at=at))

    def get(self, name: str) -> str | None:
        return self._conn.execute(_GET, {"name": name}).scalar()

    def stamps(self, prefix: str) -> tuple[tuple[str, datetime], ...]:
        """(name, updated_at) of the documents named `prefix`…, by name: changes when one of
        them is replaced (the triager reloads learned models on it)."""
        return tuple((n, u) for n, u in self._conn.execute(_STAMPS, {"pattern": prefix + "%"}))
