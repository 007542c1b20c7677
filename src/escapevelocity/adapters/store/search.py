"""Search over cases and mentions, and the saved views that name a search.

A `domain.search.Query` becomes SQL here and nowhere else. Words are matched through the
full-text index of each database (SQLite: the FTS5 table `mention_words`, kept by triggers
on `mentions`, migration 0016_search; PostgreSQL: the tsvector of the side table
`mention_terms`, written by a trigger on `mentions`, and its GIN index, 0025_search_side),
so the words of a mention are indexed by the same INSERT that stores it, in the ingest's
transaction. Every read with words is bounded: it looks at
the newest hits of the words (`search.COUNT_WINDOW` to count, up to `search.SEARCH_WINDOW` to
page) and says when more may lie beyond.

Cases are shown newest first (ix_cases_opened) when there are no words; with words, by their
newest matching mention, read newest first from the text index and stopped once the page is
full. The window grows by keyset, each hit read once; on PostgreSQL by ranges of ids
(`Search._hits` says why).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import Repo, utc
from escapevelocity.adapters.store.cases import case_of_row
from escapevelocity.domain import search
from escapevelocity.domain.cases import OPEN_STATES, Case
from escapevelocity.domain.search import Query

C = t.cases.c
M = t.mentions.c
W = t.mention_terms.c  # PostgreSQL
# Mention ids in blocks of 2**12, and groups of 2**4 blocks (2**16 ids): the lexemes
# 'b <id >> 12>' and 'B <id >> 16>' of migration 0025_search_side, which must agree.
BLOCK_BITS, GROUP_BITS = 12, 4
# The first range of blocks a search with words reads on PostgreSQL (16,384 ids).
FIRST_BLOCKS = 4
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

    def _window(self, q: Query, size: int, before: int | None = None, blocks: str = ""
                ) -> sa.Subquery | None:
        """The newest `size` mentions with `q`'s words older than mention `before` (id,
        case_id, created_at, at; None: no words), read from the text index newest first and
        stopped there: what a search with words looks at. On PostgreSQL only among the ids of
        `blocks` (`_blocks`)."""
        if self._sqlite:
            match = search.fts5_match(q.text)
            if not match:
                return None
            sel = (sa.select(_WORDS.c.rowid.label("id"), M.case_id, M.created_at,
                             _WORDS.c.rowid.label("at"))
                   .select_from(_WORDS.join(t.mentions, M.id == _WORDS.c.rowid))
                   .where(sa.text("mention_words MATCH :match").bindparams(match=match)))
            if before is not None:
                sel = sel.where(_WORDS.c.rowid < before)
            return sel.order_by(_WORDS.c.rowid.desc()).limit(size).subquery()
        tsq = search.tsquery(q.text)
        if not tsq:
            return None
        # `id + 0`: the order and bound must not be read from the primary key. The planner
        # cannot see that the blocks bound the ids, and walking the key backwards from
        # `before` (its pick when the estimate was a few thousand hits) checked every row
        # down to the range and, when the range held fewer hits than the limit, on down to
        # the first mention: 4 s for "phone" + 3 filters on the bench. The GIN search finds
        # the range's hits; sorting those few is the whole cost.
        at = W.id + 0
        sel = (sa.select(W.id, W.case_id, W.created_at, at.label("at"))
               .where(sa.text("mention_terms.words @@ (to_tsquery('simple', :tsq) "
                              "&& CAST(:blocks AS tsquery))")
                      .bindparams(tsq=tsq, blocks=blocks or "'b 0'")))
        if before is not None:
            sel = sel.where(at < before)
        return sel.order_by(at.desc()).limit(size).subquery()

    def _hits(self, q: Query, on: Any, size: int, read: int, last: int | None,
              pace: list[int]) -> list[Any]:
        """Hits `read` to `size` of the words, newest first, as (mention id, case id when the
        case passes `on`), `last` being the id of hit `read` - 1: only those are read
        (keyset, older than `last`), so no hit is read twice. `pace` is [ids looked through,
        hits found] over the walk's earlier steps (PostgreSQL; updated here).

        SQLite: FTS5 walks a word's hits newest first and starts anywhere. PostgreSQL's GIN
        index knows no order, and reading the primary key backwards checks every row down to
        the last hit (a word in 1.5% of mentions: 250,000 rows for 4,000 hits). So the walk
        goes down the ids in ranges of blocks (migration 0025_search_side), each read as one
        GIN search of the words AND the range's blocks, which finds just the hits in that
        range: a first range of FIRST_BLOCKS blocks, then as many ids as the pace so far says
        the rest needs, with a quarter more (x16 the ids looked through while no hit is
        found), the pace carried from step to step of the walk. A range of more than a group
        ends at the nearest group edge (whole blocks and groups: few lexemes, and each costs
        the GIN search a check of every candidate: 64 block lexemes ~100 ms, 4 group ones
        ~2 ms on the bench)."""
        def read_rows(w: sa.Subquery | None) -> list[Any]:
            assert w is not None
            return list(self._conn.execute(
                sa.select(w.c.id, C.id).select_from(w.outerjoin(t.cases, on(w)))
                .order_by(w.c.at.desc(), w.c.id.desc())).all())

        n = size - read
        if self._sqlite:
            return read_rows(self._window(q, n, last))
        top = last - 1 if last is not None else self._conn.execute(
            sa.select(sa.func.max(W.id))).scalar()
        rows: list[Any] = []
        if top is None:
            return rows
        block, group = 1 << BLOCK_BITS, 1 << (BLOCK_BITS + GROUP_BITS)
        while top >= 0 and len(rows) < n:
            seen, found = pace  # ids looked through, hits found there
            span = (-(-(n - len(rows)) * seen * 5 // (4 * found)) if found
                    else FIRST_BLOCKS * block if not seen else 16 * seen)
            lo = max(0, top - span + 1)
            lo -= lo % block
            if top - lo >= group and lo % group:  # at the nearest group edge: few lexemes
                lo += group - lo % group if lo % group >= group // 2 else -(lo % group)
            want = n - len(rows)
            got = read_rows(self._window(q, want, last, _blocks(lo >> BLOCK_BITS,
                                                                top >> BLOCK_BITS)))
            rows += got
            # a range read to its end was looked through; one that filled the page only
            # down to its last hit
            end = got[-1][0] if len(got) == want else lo
            pace[0], pace[1] = seen + top - end + 1, found + len(got)
            top = end - 1
        return rows

    def _walk(self, q: Query, teams: Sequence[str], now: datetime, want: int,
              distinct_cases: bool) -> tuple[list[Any], bool]:
        """Hits of the words that pass the filters, newest first: case ids (distinct) or
        mention ids, at least `want` of them when there are, over a window of the newest hits
        that grows from COUNT_WINDOW to SEARCH_WINDOW (x4 a step). Returns them and whether the
        window was full (more hits may lie beyond it).

        Each step reads only the hits the window grew by (`_hits`), and a page deeper than
        the window reads ahead to the size that could hold it; what a window of n hits finds
        is the first n hits' findings, so the answer is the one a single read of each window
        would give."""
        if self._window(q, 1) is None:
            return self._walk_cases(q, teams, now, want)
        where = self.case_filters(q, teams, now)
        if q.show == "mentions":
            start, end = search.day_range(q)

        def on(w: sa.Subquery) -> Any:
            # An outer join keeps every hit of the window, so its length says whether the
            # window was full; a hit whose case fails the filters comes back with no case.
            out = [C.id == w.c.case_id, *where]
            if q.show == "mentions":
                if start:
                    out.append(w.c.created_at >= start)
                if end:
                    out.append(w.c.created_at < end)
            return sa.and_(*out)

        size, ended = search.COUNT_WINDOW, False
        hits: list[Any] = []
        pace = [0, 0]
        while True:
            if len(hits) < size and not ended:
                # A page as deep as the window (`want` cases or mentions, at most one a hit)
                # is all but never filled by it: read on past `want` in the same step (the
                # smaller window is still judged on its own hits, the first `size`).
                upto = size
                while upto <= want and upto < search.SEARCH_WINDOW:
                    upto = min(upto * 4, search.SEARCH_WINDOW)
                rows = self._hits(q, on, upto, len(hits), hits[-1][0] if hits else None,
                                  pace)
                ended = len(hits) + len(rows) < upto
                hits += rows
            window = hits[:size]
            # insertion-ordered: hit order, a case at its newest hit
            found = dict.fromkeys((c if distinct_cases else m) for m, c in window
                                  if c is not None)
            full = len(window) >= size
            if len(found) >= want or not full or size >= search.SEARCH_WINDOW:
                return list(found), full
            size = min(size * 4, search.SEARCH_WINDOW)

    def _walk_cases(self, q: Query, teams: Sequence[str], now: datetime, want: int
                    ) -> tuple[list[str], bool]:
        """Without words: the newest cases in sight (ix_cases_opened) that pass the filters,
        over COUNT_WINDOW cases, then CASE_WINDOW when the page needs more. One read of each
        row (the filters are a column of the same SELECT), never a scan of every case."""
        passes = sa.case((sa.and_(*self.case_filters(q, teams, now)), C.id), else_=None)
        scope = [q.team] if q.team in teams else list(teams)  # a team filter narrows the window
        size = search.COUNT_WINDOW
        while True:
            rows = self._conn.execute(
                sa.select(C.id, passes).where(C.team.in_(scope))
                .order_by(C.opened_at.desc(), C.id.desc()).limit(size)).all()
            full = len(rows) >= size
            found = [c for _, c in rows if c is not None]
            if len(found) >= want or not full or size >= search.CASE_WINDOW:
                return found, full
            size = search.CASE_WINDOW

    # --- cases ---------------------------------------------------------------------------------

    def cases(self, q: Query, teams: Sequence[str], now: datetime
              ) -> tuple[list[Case], int, bool]:
        """One page of matching cases, how many match, and whether more may (the count looks
        at the newest COUNT_WINDOW cases, or hits of the words)."""
        if not teams:
            return [], 0, False
        ids, full = self._walk(q, teams, now, q.offset + q.per_page, True)
        page = ids[q.offset:q.offset + q.per_page]
        found = {r.id: case_of_row(r) for r in self._conn.execute(
            sa.select(t.cases).where(C.id.in_(page)))} if page else {}
        return [found[i] for i in page if i in found], len(ids), full

    def case_ids(self, q: Query, teams: Sequence[str], now: datetime, cap: int) -> list[str]:
        """Every matching case id up to `cap`, in the page's order (a bulk action's
        "select all matching"); with words, among the newest SEARCH_WINDOW hits."""
        if not teams:
            return []
        if self._window(q, 1) is None:
            return [r[0] for r in self._conn.execute(
                sa.select(C.id).where(*self.case_filters(q, teams, now))
                .order_by(C.opened_at.desc(), C.id.desc()).limit(cap))]
        return self._walk(q, teams, now, cap, True)[0][:cap]

    # --- mentions ------------------------------------------------------------------------------

    def mentions(self, q: Query, teams: Sequence[str], now: datetime
                 ) -> tuple[list[dict[str, Any]], int, bool]:
        """One page of matching mentions (with their case's state and team), newest first;
        how many match, and whether more may."""
        if not teams:
            return [], 0, False
        if self._window(q, 1) is None:
            # No words: the mentions of the page's cases.
            cases, total, more = self.cases(replace(q, show="cases"), teams, now)
            ids = [r[0] for r in self._conn.execute(
                sa.select(M.id).where(M.case_id.in_([c["id"] for c in cases])))]
        else:
            ids, full = self._walk(q, teams, now, q.offset + q.per_page, False)
            total, more = len(ids), full
            ids = ids[q.offset:q.offset + q.per_page]
        rows = []
        if ids:
            sel = (sa.select(M.id, M.channel, M.source_id, M.case_id, M.author_handle,
                             M.created_at, M.body, M.signals, C.state, C.team, C.title)
                   .select_from(t.mentions.join(t.cases, C.id == M.case_id))
                   .where(M.id.in_(ids)).order_by(M.id.desc()))
            for r in self._conn.execute(sel).mappings():
                d = dict(r)
                d["created_at"] = utc(d["created_at"])
                rows.append(d)
        return rows, total, more

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


def _blocks(lo: int, hi: int) -> str:
    """A tsquery matching the ids of blocks `lo` to `hi` (each BLOCK_BITS wide): the block
    lexemes 0025_search_side puts in each mention's words, 'B n' for a whole group of
    2**GROUP_BITS blocks, 'b n' for a block at the edges, so a long range stays a short OR."""
    out = []
    while hi >= lo:
        if (hi + 1) % (1 << GROUP_BITS) == 0 and hi - (1 << GROUP_BITS) + 1 >= lo:
            out.append(f"'B {hi >> GROUP_BITS}'")
            hi -= 1 << GROUP_BITS
        else:
            out.append(f"'b {hi}'")
            hi -= 1
    return " | ".join(out)


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
