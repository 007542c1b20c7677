"""Credentials: members' password hashes (API tokens and sessions: signin.py, `tx.signin`)."""

from __future__ import annotations

import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import Repo


class Auth(Repo):
    def set_password(self, member: str, password_hash: str) -> None:
        self._conn.execute(t.members.update().where(t.members.c.id == member)
                           .values(password_hash=password_hash))

    def password_hash(self, member: str) -> str | None:
        return self._conn.execute(sa.select(t.members.c.password_hash)
                                  .where(t.members.c.id == member)).scalar()
