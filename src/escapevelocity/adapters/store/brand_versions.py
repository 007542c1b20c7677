"""Brand profile versions in the `documents` table: one row per saved version, never
rewritten, so the profile is versioned like the playbook without a table of its own.

A version is the row named `brand:v000001`, `brand:v000002`, …; its body is JSON holding the
profile's YAML, who saved it and why. The highest number is the profile in force. Kept apart
from SqlStore (which is being split into repositories) so the seam is one small module that
takes the transaction's connection.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from escapevelocity.adapters.store.schema import documents

_PREFIX = "brand:v"
# Read on every Workspace.triager() call (its recompile stamp): built once, not per call.
_STAMP = sa.select(sa.func.max(documents.c.name)).where(documents.c.name.like(_PREFIX + "%"))


class BrandVersion(NamedTuple):
    version: int
    yaml: str
    author: str
    note: str
    saved_at: datetime


def _row(name: str, body: str, at: datetime) -> BrandVersion:
    data = json.loads(body)
    return BrandVersion(int(name[len(_PREFIX):]), data["yaml"], data.get("author", ""),
                        data.get("note", ""), at)


def versions(conn: Connection) -> list[BrandVersion]:
    """Every saved version, newest first."""
    d = documents.c
    rows = conn.execute(sa.select(d.name, d.body, d.updated_at)
                        .where(d.name.like(_PREFIX + "%")).order_by(d.name.desc())).all()
    return [_row(*r) for r in rows]


def latest(conn: Connection) -> BrandVersion | None:
    d = documents.c
    row = conn.execute(sa.select(d.name, d.body, d.updated_at)
                       .where(d.name.like(_PREFIX + "%")).order_by(d.name.desc())
                       .limit(1)).first()
    return _row(*row) if row else None


def stamp(conn: Connection) -> str | None:
    """The name of the version in force (cheap: for recompiling when it changes)."""
    return conn.execute(_STAMP).scalar()


def save(conn: Connection, yaml_text: str, *, author: str, note: str, at: datetime) -> int:
    """A new version after the latest; the names are zero-padded so they sort as numbers."""
    current = latest(conn)
    version = (current.version if current else 0) + 1
    body = json.dumps({"yaml": yaml_text, "author": author, "note": note})
    conn.execute(documents.insert().values(name=f"{_PREFIX}{version:06d}", body=body,
                                           updated_at=at))
    return version
