"""Search over cases and mentions, and the saved views that name a search.

A `domain.search.Query` becomes SQL here and nowhere else. Words are matched through the
full-text index of each database (SQLite: the FTS5 table `mention_words`, kept by triggers
on `mentions`; PostgreSQL: the tsvector `mentions.words`, set by a trigger, and its GIN
index; migration 0016_search), so the words of a mention are indexed by the same INSERT
that stores it, in the ingest's transaction. Every read is bounded: pages by LIMIT/OFFSET,
counts stop at `search.COUNT_CAP` (a count past it says "more than").

Cases are shown newest first (ix_cases_opened) when there are no words; with words, by their
newest matching mention, read newest first from the text index and stopped once the page is
full.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import Repo, utc
from escapevelocity.adapters.store.cases import _case
from escapevelocity.domain import search
from escapevelocity.domain.cases import OPEN_STATES
from escapevelocity.domain.search import Query

C = t.cases.c
M = t.mentions.c
V = t.saved_views.c
# The FTS5 table (not in schema.py's metadata: a virtual table the migration makes).
_WORDS = sa.table("mention_words", sa.column("rowid", sa.Integer))


class Search(Repo):
    # --- the query -----------------------------------------------------------------------------

    def case_filters(self, q: Query, teams: Sequence[str], now: datetime) -> list[Any]:
        """WHERE clauses over `cases` for `q`'s filters, inside the member's `teams`."""
        out: list[Any] = [C.team.in_(list(teams))]
        if q.status == "open":
            out.append(C.state.in_(OPEN_STATES))
        elif q.status:
            out.append(C.state == q.status)
        for name, column in (("situation", C.situation),
                             ("sentiment", C.sentiment), ("author_class", C.author_class),
                             ("team", C.team), ("assignee", C.assignee),
                             ("priority", C.priority)):
            value = getattr(q, name)
            if value:
                out.append(column == value)
        if q.channel:
            out.append(C.channel == q.channel)
        if q.tag:
            out.append((sa.literal(",") + C.tags + ",").contains(f",{q.tag},", autoescape=True))
        if q.sla:
            out.append(_sla(q.sla, now))
        if q.show == "cases":
            start, end = search.day_range(q)
            if start:
                out.append(C.opened_at >= start)
            if end:
                out.append(C.opened_at < end)
        return out

    def _text(self, q: Query) -> Any | None:
        """The words clause over mentions `M`, or None when the query has no words."""
        if self._sqlite:
            match = search.fts5_match(q.text)
            if not match:
                return None
            return M.id.in_(sa.select(_WORDS.c.rowid).where(
                sa.text("mention_words MATCH :match").bindparams(match=match)))
        tsq = search.tsquery(q.text)
        if not tsq:
            return None
        return sa.text("mentions.words @@ to_tsquery('simple', :tsq)").bindparams(tsq=tsq)

    def _hits(self, q: Query, teams: Sequence[str], now: datetime) -> sa.Select:
        """Matching mentions joined to their case, newest first; selects nothing yet."""
        where = self.case_filters(q, teams, now)
        if q.show == "mentions":
            start, end = search.day_range(q)
            if start:
                where.append(M.created_at >= start)
            if end:
                where.append(M.created_at < end)
        text = self._text(q)
        if self._sqlite and text is not None:
            # Drive from the FTS5 table in rowid order (it answers ORDER BY rowid DESC from its
            # doclists), stopping at the LIMIT, instead of materialising every hit.
            match = search.fts5_match(q.text)
            j = (_WORDS.join(t.mentions, M.id == _WORDS.c.rowid)
                 .join(t.cases, C.id == M.case_id))
            return (sa.select().select_from(j)
                    .where(sa.text("mention_words MATCH :match").bindparams(match=match), *where)
                    .order_by(_WORDS.c.rowid.desc()))
        j = t.mentions.join(t.cases, C.id == M.case_id)
        if text is not None:
            where.append(text)
        return sa.select().select_from(j).where(*where).order_by(M.id.desc())

    # --- cases ---------------------------------------------------------------------------------

    def cases(self, q: Query, teams: Sequence[str], now: datetime
              ) -> tuple[list[dict[str, Any]], int]:
        """One page of matching cases and how many match (at most COUNT_CAP + 1)."""
        if not teams:
            return [], 0
        if self._text(q) is None:
            base = sa.select(t.cases).where(*self.case_filters(q, teams, now))
            rows = [_case(r) for r in self._conn.execute(
                base.order_by(C.opened_at.desc(), C.id.desc())
                .limit(q.per_page).offset(q.offset))]
            total = self._capped(sa.select(C.id).where(*self.case_filters(q, teams, now)))
            return rows, total
        ids = self._case_ids_by_hit(q, teams, now, q.offset + q.per_page)[q.offset:]
        found = {r.id: _case(r) for r in self._conn.execute(
            sa.select(t.cases).where(C.id.in_(ids)))} if ids else {}
        rows = [found[i] for i in ids if i in found]
        total = self._capped(self._hits(q, teams, now).add_columns(M.case_id)
                             .order_by(None).distinct())
        return rows, total

    def case_ids(self, q: Query, teams: Sequence[str], now: datetime, cap: int) -> list[str]:
        """Every matching case id up to `cap`, in the page's order (a bulk action's
        "select all matching")."""
        if not teams:
            return []
        if self._text(q) is None:
            return [r[0] for r in self._conn.execute(
                sa.select(C.id).where(*self.case_filters(q, teams, now))
                .order_by(C.opened_at.desc(), C.id.desc()).limit(cap))]
        return self._case_ids_by_hit(q, teams, now, cap)

    def _case_ids_by_hit(self, q: Query, teams: Sequence[str], now: datetime,
                         want: int) -> list[str]:
        """The first `want` distinct case ids in order of their newest matching mention: read
        hits newest first in growing batches, so a page of a common word reads a few hundred
        rows, not every hit."""
        batch = max(want * 4, 200)
        while True:
            seen: dict[str, None] = {}
            rows = self._conn.execute(self._hits(q, teams, now).add_columns(M.case_id)
                                      .limit(batch)).all()
            for (case_id,) in rows:
                seen.setdefault(case_id, None)
                if len(seen) >= want:
                    return list(seen)
            if len(rows) < batch:
                return list(seen)
            batch *= 4

    # --- mentions ------------------------------------------------------------------------------

    def mentions(self, q: Query, teams: Sequence[str], now: datetime
                 ) -> tuple[list[dict[str, Any]], int]:
        """One page of matching mentions (with their case's state and team), newest first."""
        if not teams:
            return [], 0
        hits = self._hits(q, teams, now)
        page = hits.add_columns(M.id, M.channel, M.source_id, M.case_id, M.author_handle,
                                M.created_at, M.body, M.signals, C.state, C.team, C.title)
        rows = []
        for r in self._conn.execute(page.limit(q.per_page).offset(q.offset)).mappings():
            d = dict(r)
            d["created_at"] = utc(d["created_at"])
            rows.append(d)
        return rows, self._capped(hits.add_columns(M.id).order_by(None))

    def _capped(self, select: sa.Select) -> int:
        """How many rows `select` gives, counting no further than COUNT_CAP + 1."""
        sub = select.limit(search.COUNT_CAP + 1).subquery()
        return self._conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one()

    # --- saved views ---------------------------------------------------------------------------

    def views(self, member: str, teams: Sequence[str]) -> list[dict[str, Any]]:
        """The member's own views and those of their teams, by name."""
        q = sa.select(t.saved_views).where(sa.or_(
            sa.and_(V.owner_kind == "member", V.owner == member),
            sa.and_(V.owner_kind == "team", V.owner.in_(list(teams)))))
        return [dict(r) for r in self._conn.execute(q.order_by(V.name, V.id)).mappings()]

    def view(self, view_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(sa.select(t.saved_views).where(V.id == view_id)
                                 ).mappings().first()
        return dict(row) if row else None

    def save_view(self, *, name: str, owner_kind: str, owner: str, query: str,
                  created_by: str, at: datetime) -> str:
        view_id = "v" + secrets.token_hex(6)
        self._conn.execute(t.saved_views.insert().values(
            id=view_id, name=name, owner_kind=owner_kind, owner=owner, query=query,
            created_by=created_by, created_at=at))
        return view_id

    def delete_view(self, view_id: str) -> bool:
        return bool(self._conn.execute(sa.delete(t.saved_views).where(V.id == view_id)
                                       ).rowcount)


def _sla(state: str, now: datetime) -> Any:
    """Where a case stands against its first-response SLA at `now`."""
    open_ = C.state.in_(OPEN_STATES)
    waiting = sa.and_(open_, C.first_response_at.is_(None), C.sla_due.is_not(None))
    if state == "breached":
        return sa.or_(sa.and_(waiting, C.sla_due < now), C.first_response_at > C.sla_due)
    if state == "due_soon":
        return sa.and_(waiting, C.sla_due >= now, C.sla_due < now + search.DUE_SOON)
    if state == "on_time":
        return sa.and_(waiting, C.sla_due >= now + search.DUE_SOON)
    if state == "answered":
        return C.first_response_at.is_not(None)
    return C.sla_due.is_(None)  # no_sla
