"""Playbook versions: every saved source, which one is active. The workflow around them
(requests, approvals) is an event stream, "playbook:<version>" (domain/events.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import Repo, utc

# Read on every Workspace.triager() call (its recompile stamp): built once, not per call.
_ACTIVE = sa.select(t.playbooks.c.version, t.playbooks.c.source).where(
    t.playbooks.c.active.is_(True))


class Playbooks(Repo):
    def save(self, *, name: str, source: str, author: str, note: str, at: datetime,
             activate: bool) -> int:
        version = self._conn.execute(t.playbooks.insert().values(
            name=name, source=source, author=author, note=note, created_at=at, active=False)
        ).inserted_primary_key[0]
        if activate:
            self.activate(int(version))
        return int(version)

    def active(self) -> tuple[int, str] | None:
        """(version, source) of the active playbook."""
        row = self._conn.execute(_ACTIVE).first()
        return (int(row.version), row.source) if row else None

    def versions(self, *, lock: bool = False) -> list[dict[str, Any]]:
        """Every version without its source, oldest first; `lock` serialises the version
        workflow (FOR UPDATE on PostgreSQL; SQLite has one writer anyway)."""
        p = t.playbooks.c
        q = sa.select(p.version, p.name, p.author, p.note, p.created_at, p.active
                      ).order_by(p.version)
        if lock and not self._sqlite:
            q = q.with_for_update()
        return [{**r._mapping, "version": int(r.version), "created_at": utc(r.created_at)}
                for r in self._conn.execute(q)]

    def source(self, version: int) -> str | None:
        return self._conn.execute(sa.select(t.playbooks.c.source)
                                  .where(t.playbooks.c.version == version)).scalar()

    def activate(self, version: int) -> None:
        self._conn.execute(t.playbooks.update().values(active=t.playbooks.c.version == version))
