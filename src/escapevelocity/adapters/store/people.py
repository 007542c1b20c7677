"""People: the identities (channel, handle) a member has linked as one person, and what a
customer profile reads of them (their cases by the (channel, author_handle) index of cases,
the mentions of those cases by ix_mentions_case).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import Repo, chunks, utc
from escapevelocity.adapters.store.cases import case_of_row
from escapevelocity.domain.cases import Case

L = t.author_links.c
C = t.cases.c
M = t.mentions.c
Identity = tuple[str, str]  # (channel, handle)


class People(Repo):
    def person_of(self, identity: Identity) -> str | None:
        return self._conn.execute(sa.select(L.person).where(
            L.channel == identity[0], L.handle == identity[1])).scalar()

    def identities(self, identity: Identity) -> list[Identity]:
        """Every identity linked with `identity`, itself first."""
        person = self.person_of(identity)
        if person is None:
            return [identity]
        rows = self._conn.execute(sa.select(L.channel, L.handle).where(L.person == person)
                                  .order_by(L.channel, L.handle)).all()
        return [identity] + [(c, h) for c, h in rows if (c, h) != identity]

    def link(self, a: Identity, b: Identity, by: str, at: datetime) -> tuple[str, list[Identity]]:
        """Make `a` and `b` one person (joining their people when both had one); returns the
        person id and all of its identities."""
        pa, pb = self.person_of(a), self.person_of(b)
        person = pa or pb or "p" + secrets.token_hex(6)
        if pa and pb and pa != pb:
            self._conn.execute(sa.update(t.author_links).where(L.person == pb)
                               .values(person=person))
        for ident, had in ((a, pa), (b, pb)):
            if had is None:
                self._conn.execute(t.author_links.insert().values(
                    channel=ident[0], handle=ident[1], person=person, linked_by=by,
                    linked_at=at))
        rows = self._conn.execute(sa.select(L.channel, L.handle).where(L.person == person)
                                  .order_by(L.channel, L.handle)).all()
        return person, [(c, h) for c, h in rows]

    def unlink(self, identity: Identity) -> str | None:
        """Take `identity` out of its person; a person left with one identity is dissolved.
        Returns the person it left (None: it stood alone)."""
        person = self.person_of(identity)
        if person is None:
            return None
        self._conn.execute(sa.delete(t.author_links).where(
            L.channel == identity[0], L.handle == identity[1]))
        left = self._conn.execute(sa.select(sa.func.count()).select_from(t.author_links)
                                  .where(L.person == person)).scalar_one()
        if left < 2:
            self._conn.execute(sa.delete(t.author_links).where(L.person == person))
        return person

    def cases_of(self, identities: Sequence[Identity], limit: int = 500
                 ) -> list[Case]:
        """The identities' cases, newest first (ix_cases_author per identity)."""
        out: list[Case] = []
        for channel, handle in identities:
            q = (sa.select(t.cases).where(C.channel == channel, C.author_handle == handle)
                 .order_by(C.opened_at.desc()).limit(limit))
            out += [case_of_row(r) for r in self._conn.execute(q)]
        out.sort(key=lambda c: c.opened_at.isoformat() if c.opened_at else "",
                 reverse=True)
        return out[:limit]

    def mentions_of_cases(self, case_ids: Sequence[str], limit: int = 1000
                          ) -> list[dict[str, Any]]:
        """The mentions of `case_ids`, newest first (ix_mentions_case)."""
        out: list[dict[str, Any]] = []
        for chunk in chunks(sorted(set(case_ids)), 500):
            q = sa.select(M.id, M.channel, M.source_id, M.case_id, M.author_handle,
                          M.created_at, M.body, M.signals).where(M.case_id.in_(chunk))
            for r in self._conn.execute(q).mappings():
                d = dict(r)
                d["created_at"] = utc(d["created_at"])
                out.append(d)
        out.sort(key=lambda m: m["created_at"], reverse=True)
        return out[:limit]
