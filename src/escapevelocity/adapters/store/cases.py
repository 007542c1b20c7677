"""The case projection: one row per case, folded from its events by `domain/cases.apply`.

Written in the same transaction as the events it folds, with an optimistic `version` check,
so the inbox never shows a state the log does not hold; `replace_all` is the rebuild.
The row mapping (a row to a `Case`, datetime columns back to aware UTC; a `Case` to column
values) lives here, not in the domain.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
import sqlalchemy as sa

from escapevelocity.adapters.store import bulk_pg
from escapevelocity.adapters.store import kpis as kpi_store
from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import Repo, chunks, dt_out, utc
from escapevelocity.domain import authors
from escapevelocity.domain import cases as projection
from escapevelocity.domain.authors import AuthorHistory
from escapevelocity.domain.cases import Case

COLUMNS = tuple(c.name for c in t.cases.columns)
DT_COLUMNS = tuple(c.name for c in t.cases.columns
                   if isinstance(c.type, (sa.DateTime, t.UtcDateTime)))
DT_SET = frozenset(DT_COLUMNS)
_DT_INDEX = tuple(i for i, k in enumerate(COLUMNS) if k in DT_SET)
# A Case is built from a row, and written as one, by position.
assert COLUMNS == projection.FIELDS, "the cases table and domain/cases.Case differ"
C = t.cases.c
_PG_UPDATE_TYPES = (*(bulk_pg.pg_type(C[k]) for k in COLUMNS if k != "id"), "text", "integer")
# One optimistic UPDATE of a whole row, built once: built per call (.values() of ~50 columns,
# then its cache key walked per execution) it was most of Cases.update's CPU, and Cases.update
# a quarter of a drill's. The same statement and types; only its parameters change.
_UPDATE = (t.cases.update()
           .where(C.id == sa.bindparam("_id"), C.version == sa.bindparam("_expect"))
           .values({k: sa.bindparam(f"_{k}", type_=C[k].type) for k in COLUMNS[1:]}))
# Likewise the reads every case command and clock job makes (see _UPDATE).
_GET = sa.select(t.cases).where(C.id == sa.bindparam("id"))
_GET_FOR_UPDATE = _GET.with_for_update()
_WORKABLE = (sa.select(C.id, C.assignee, C.priority)
             .where(C.team.in_(sa.bindparam("teams", expanding=True)),
                    C.state.in_(("queued", "assigned")), C.respond.is_(True),
                    C.claimed_by.is_(None), C.approval_state != "pending")
             .order_by(C.priority, C.sla_due).limit(sa.bindparam("limit")))


class Cases(Repo):
    def __init__(self, tx: Any) -> None:
        super().__init__(tx)
        # The rows this transaction read or wrote, by id: what a write moves the KPI rollups
        # from (domain/kpis.py), without reading the row again (every writer reads first).
        self._known: dict[str, Case] = {}
        self._calendars: list = []  # the active playbook's calendars, once read (kpi_store)

    def _old(self, expect: dict[str, int]) -> dict[str, Case]:
        """The rows as they are now of the cases about to be written at these versions."""
        missing = [i for i, v in expect.items()
                   if i not in self._known or self._known[i].version != v]
        for chunk in chunks(sorted(set(missing)), 500):
            q = sa.select(t.cases).where(C.id.in_(chunk))
            for row in self._conn.execute(q):
                self._known[row.id] = case_of_row(row)
        return self._known

    # --- reads ---------------------------------------------------------------------------------

    def get(self, case_id: str, *, for_update: bool = False) -> Case | None:
        """`for_update` locks the row on PostgreSQL (SQLite has one writer anyway)."""
        q = _GET_FOR_UPDATE if for_update and not self._sqlite else _GET
        row = self._conn.execute(q, {"id": case_id}).first()
        if row is None:
            return None
        case = self._known[case_id] = case_of_row(row)
        return case

    def get_many(self, ids: Iterable[str], *, for_update: bool = False
                 ) -> dict[str, Case]:
        """Locked in id order, as every writer locks them: no deadlock between two batches."""
        out = {}
        for chunk in chunks(sorted(set(ids)), 500):
            q = sa.select(t.cases).where(C.id.in_(chunk)).order_by(C.id)
            if for_update and not self._sqlite:
                q = q.with_for_update()
            for row in self._conn.execute(q):
                out[row.id] = self._known[row.id] = case_of_row(row)
        return out

    def inbox(self, *, teams: Sequence[str] | None = None,
              states: Sequence[str] = projection.OPEN_STATES, assignee: str | None = None,
              limit: int = 200) -> list[Case]:
        q = sa.select(t.cases).where(C.state.in_(states))
        if teams is not None:
            q = q.where(C.team.in_(teams))
        if assignee:
            q = q.where(C.assignee == assignee)
        if tuple(states) == ("resolved",):  # the resolved view: the latest first
            q = q.order_by(C.resolved_at.desc(), C.id).limit(limit)
            return [case_of_row(r) for r in self._conn.execute(q)]
        # Soonest SLA first, then the cases with no SLA, oldest first: two reads in the order of
        # ix_cases_due that stop at `limit`, where one ORDER BY on "sla_due IS NULL" sorted every
        # open case (1.4 s at 176k cases).
        rows = [case_of_row(r) for r in self._conn.execute(
            q.where(C.sla_due.is_not(None)).order_by(C.sla_due, C.opened_at).limit(limit))]
        if len(rows) < limit:
            rows += [case_of_row(r) for r in self._conn.execute(
                q.where(C.sla_due.is_(None)).order_by(C.opened_at).limit(limit - len(rows)))]
        return rows

    def page(self, *, teams: Sequence[str], member: str, states: Sequence[str] | None = None,
             assignee: str | None = None, filters: dict[str, str] | None = None,
             search: str = "", after: str = "", limit: int = 50) -> list[Case]:
        """A page of cases for the API, by id after `after` (a stable cursor): those of
        `teams` or assigned to `member`, narrowed by `states`, `assignee`, exact `filters`
        (team, priority, track, channel, situation) and `search` in the title."""
        q = sa.select(t.cases).where(sa.or_(C.team.in_(list(teams)), C.assignee == member))
        if states:
            q = q.where(C.state.in_(list(states)))
        if assignee:
            q = q.where(C.assignee == assignee)
        for column, value in (filters or {}).items():
            q = q.where(C[column] == value)
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            q = q.where(sa.func.lower(C.title).like(pattern.lower(), escape="\\"))
        if after:
            q = q.where(C.id > after)
        return [case_of_row(r) for r in self._conn.execute(q.order_by(C.id).limit(limit))]

    def count_where(self, teams: Sequence[str], states: Sequence[str],
                    assignee: str | None = None) -> int:
        """How many cases of `teams` are in `states` (the inbox's "N cases"; ix_cases_inbox)."""
        q = sa.select(sa.func.count()).select_from(t.cases).where(
            C.team.in_(list(teams)), C.state.in_(list(states)))
        if assignee:
            q = q.where(C.assignee == assignee)
        return self._conn.execute(q).scalar_one()

    def count(self) -> int:
        return self._conn.execute(sa.select(sa.func.count()).select_from(t.cases)).scalar_one()

    def ids(self) -> list[str]:
        """Every case id, from the projection (the log's case streams, without a DISTINCT)."""
        return [r[0] for r in self._conn.execute(sa.select(C.id).order_by(C.id))]

    def where(self, column: str, value: Any, limit: int = 200) -> list[Case]:
        """Newest first."""
        q = (sa.select(t.cases).where(C[column] == value)
             .order_by(C.updated_at.desc()).limit(limit))
        return [case_of_row(r) for r in self._conn.execute(q)]

    def due(self, due: str, state: str, value: str, now: datetime,
            limit: int = 500) -> list[str]:
        """Ids of cases whose `state` column equals `value` and whose `due` column has passed."""
        q = (sa.select(C.id).where(C[state] == value, C[due].is_not(None), C[due] <= now)
             .order_by(C[due]).limit(limit))
        return [r[0] for r in self._conn.execute(q)]

    def queue_summary(self) -> dict[str, tuple[int, datetime | None]]:
        """Per team: how many cases wait in the queue, and the earliest SLA due among them."""
        q = (sa.select(C.team, sa.func.count(), sa.func.min(C.sla_due))
             .where(C.state == "queued").group_by(C.team))
        return {team: (n, dt_out(due) if due is not None else None)
                for team, n, due in self._conn.execute(q)}

    def opened_by_team(self, since: datetime, until: datetime) -> dict[str | None, int]:
        """Cases opened in [since, until) per owning team (the maturity assessment's share of
        cases handled by spokes)."""
        q = (sa.select(C.team, sa.func.count()).where(C.opened_at >= since,
                                                      C.opened_at < until)
             .group_by(C.team))
        return {team: n for team, n in self._conn.execute(q)}

    def has_queue(self, team: str) -> bool:
        """Whether cases that need an answer wait in `team`'s queue (an index seek)."""
        q = sa.select(C.id).where(C.team == team, C.state == "queued", C.respond).limit(1)
        return self._conn.execute(q).first() is not None

    def open_loads(self) -> dict[str, int]:
        """Open cases per assignee (routing's load)."""
        q = (sa.select(C.assignee, sa.func.count())
             .where(C.assignee.is_not(None), C.state.in_(projection.OPEN_STATES))
             .group_by(C.assignee))
        return {a: n for a, n in self._conn.execute(q)}

    def teams_of(self, ids: Iterable[str]) -> dict[str, str | None]:
        """Case id -> team, for the live feed's fan-out."""
        out: dict[str, str | None] = {}
        for chunk in chunks(sorted(set(ids)), 500):
            out.update(self._conn.execute(sa.select(C.id, C.team).where(C.id.in_(chunk))).all())
        return out

    def count_by_author(self, channel: str, handle: str, *, exclude: str | None = None) -> int:
        """How many cases this author has opened on `channel` (besides `exclude`)."""
        q = sa.select(sa.func.count()).select_from(t.cases).where(
            C.author_handle == handle, C.channel == channel)
        if exclude is not None:
            q = q.where(C.id != exclude)
        return self._conn.execute(q).scalar_one()

    def backlog(self) -> int:
        """Open cases that need an answer (the crisis detector's operations signal)."""
        return self._conn.execute(sa.select(sa.func.count()).select_from(t.cases).where(
            C.state.in_(projection.OPEN_STATES), C.respond.is_(True))).scalar_one()

    def due_between(self, start: datetime, end: datetime
                    ) -> list[tuple[datetime, datetime | None]]:
        """(sla_due, first_response_at) of cases that need an answer, due in [start, end)."""
        q = sa.select(C.sla_due, C.first_response_at).where(
            C.respond.is_(True), C.sla_due >= start, C.sla_due < end)
        return [(utc(due), utc(first)) for due, first in self._conn.execute(q)]

    def opened_between(self, start: datetime, end: datetime | None = None,
                       limit: int = 5_000) -> list[Case]:
        """Cases opened in [start, end), oldest first, at most `limit` (ix_cases_opened): the
        incident page's affected cases and the after-action report's."""
        q = sa.select(t.cases).where(C.opened_at >= start)
        if end is not None:
            q = q.where(C.opened_at < end)
        return [case_of_row(r) for r in self._conn.execute(q.order_by(C.opened_at).limit(limit))]

    def awaiting_approval(self, approver: str | None = None, limit: int = 200
                          ) -> list[Case]:
        """Cases whose draft waits for a decision (on `approver`, when given), most urgent
        first: read in the order of ix_cases_approval_due and stopped at `limit`."""
        q = sa.select(t.cases).where(C.approval_state == "pending")
        if approver is not None:
            q = q.where(C.approver == approver)
        q = q.order_by(C.approval_due, C.id).limit(limit)
        return [case_of_row(r) for r in self._conn.execute(q)]

    def pending_approvals(self, approvers: Sequence[str]) -> list[tuple[str, str, str]]:
        """(case id, approver, draft) of drafts waiting on `approvers`, most urgent first."""
        q = (sa.select(C.id, C.approver, C.approval_draft)
             .where(C.approval_state == "pending", C.approver.in_(approvers))
             .order_by(C.approval_due))
        return [tuple(r) for r in self._conn.execute(q)]

    def workable(self, teams: Sequence[str], limit: int) -> list[sa.Row]:
        """Unclaimed cases that need an answer in `teams`' queues, by priority then SLA
        (id, assignee, priority): what a simulated responder picks from."""
        return list(self._conn.execute(_WORKABLE, {"teams": list(teams), "limit": limit}))

    def outcomes(self) -> list[dict[str, Any]]:
        """What a drill's scorecard reads of every case (a dict of these columns: a scan of
        every case, where building whole Cases would cost for nothing)."""
        q = sa.select(C.id, C.track, C.rule_id, C.team, C.respond, C.priority, C.approval,
                      C.opened_at, C.first_response_at, C.sla_due, C.sla_minutes, C.state)
        return [dict(r) for r in self._conn.execute(q).mappings()]

    def author_cases(self, pairs: Iterable[tuple[str, str]], since: datetime | None
                     ) -> tuple[dict[tuple[str, str], str],
                                dict[tuple[str, str], AuthorHistory]]:
        """What ingest needs to know of a batch's authors, in one query per channel (the
        (channel, author_handle) index of cases): per (channel, author), the newest open case
        touched since `since` (the one a new post joins), and the author's history."""
        newest: dict[tuple[str, str], tuple[datetime, str]] = {}
        found: dict[tuple[str, str], list[int]] = {}
        open_states = frozenset(projection.OPEN_STATES)
        p = self._b.mark
        cur = self._cursor()
        try:
            for channel, found_rows in self._author_rows(cur, p, pairs):
                for case_id, handle, state, last, count, tags, flags in found_rows:
                    key = (channel, handle)
                    row = found.setdefault(key, [0, 0, 0])
                    row[0] += 1
                    row[1] += count or 0
                    row[2] += authors.abusive(tags or "", flags or "")
                    if since is None or state not in open_states or last is None:
                        continue
                    at = dt_out(last)
                    if at >= since and (key not in newest or at > newest[key][0]):
                        newest[key] = (at, case_id)
        finally:
            cur.close()
        return ({k: v[1] for k, v in newest.items()},
                {k: AuthorHistory(cases=v[0], mentions=v[1], abusive=v[2])
                 for k, v in found.items()})

    def at_risk(self, now: datetime, within: timedelta) -> int:
        """Open cases that need an answer, not yet answered, due before now + `within` (the
        SLA-at-risk gauge of /metrics)."""
        q = sa.select(sa.func.count()).select_from(t.cases).where(
            C.state.in_(projection.OPEN_STATES), C.respond.is_(True),
            C.first_response_at.is_(None), C.sla_due.is_not(None), C.sla_due < now + within)
        return self._conn.execute(q).scalar_one()

    def _author_rows(self, cur: Any, p: str, pairs: Iterable[tuple[str, str]]
                     ) -> Iterator[tuple[str, list[tuple]]]:
        """(channel, its cases' rows) for author_cases: one query per channel and 500
        handles on SQLite, one query for the whole batch on PostgreSQL (bulk_pg)."""
        cols = "id, author_handle, state, last_mention_at, mention_count, tags, flags"
        if not self._sqlite:
            keys = sorted(set(pairs))
            if not keys:
                return
            cur.execute(f"SELECT c.channel, {', '.join('c.' + c for c in cols.split(', '))} "
                        f"FROM {bulk_pg.unnest(('text', 'text'))} AS k(channel, handle) "
                        "JOIN cases c ON c.channel = k.channel AND c.author_handle = k.handle",
                        bulk_pg.columns_of(keys, 2))
            by_channel: dict[str, list[tuple]] = defaultdict(list)
            for channel, *row in cur.fetchall():
                by_channel[channel].append(tuple(row))
            yield from by_channel.items()
            return
        for channel, chunk in _handles_by_channel(pairs):
            cur.execute(f"SELECT {cols} FROM cases WHERE channel = {p} AND author_handle IN "
                        f"({self._b.marks(len(chunk))})", [channel, *chunk])
            yield channel, cur.fetchall()

    # --- what the clock jobs read (issue 14.2): only what is due, by index -----------------------

    def due_for_sla(self, now: datetime, limit: int) -> list[Case]:
        """Open cases whose next deadline has passed, earliest first (ix_cases_next_deadline)."""
        q = (sa.select(t.cases).where(C.next_deadline.is_not(None), C.next_deadline <= now,
                                      C.state.in_(projection.OPEN_STATES))
             .order_by(C.next_deadline).limit(limit))
        return [case_of_row(r) for r in self._conn.execute(q)]

    def held_by(self, offline: Sequence[str], now: datetime, limit: int = 2_000
                ) -> dict[str, Case]:
        """Claims whose lease ran out (ix_cases_claims) and cases assigned to members who are
        offline (ix_cases_assignee): what the tick may release or requeue."""
        out = {}
        q = (sa.select(t.cases).where(C.state == "claimed", C.claim_until < now)
             .order_by(C.id).limit(limit))
        out.update({r.id: case_of_row(r) for r in self._conn.execute(q)})
        for chunk in chunks(list(offline), 500):
            q = (sa.select(t.cases).where(C.assignee.in_(chunk), C.state == "assigned")
                 .order_by(C.id).limit(limit))
            out.update({r.id: case_of_row(r) for r in self._conn.execute(q)})
        return out

    def queue_heads(self, teams: Sequence[str], limit: int) -> dict[str, Case]:
        """Per team, the `limit` queued cases that need an answer, earliest due first (the
        inbox index): all the drain can hand out when members have that much room."""
        out = {}
        for team in teams:
            q = (sa.select(t.cases).where(C.team == team, C.state == "queued", C.respond)
                 .order_by(C.sla_due.is_(None), C.sla_due, C.opened_at).limit(limit))
            out.update({r.id: case_of_row(r) for r in self._conn.execute(q)})
        return out

    # --- writes --------------------------------------------------------------------------------

    def insert(self, cases: list[Case]) -> None:
        if cases:
            cases = kpi_store.with_business_times(cases, self._conn, self._calendars)
            self._insert_rows(cases)
            kpi_store.apply(self._conn, ((None, c) for c in cases))
            self._known.update((c.id, c) for c in cases)

    def _insert_rows(self, cases: list[Case]) -> None:
        if cases:
            cur = self._cursor()
            try:
                if not self._sqlite:  # new cases only: COPY (adapters/store/bulk_pg)
                    bulk_pg.copy_rows(cur, "cases", COLUMNS, (astuple(c) for c in cases))
                    return
                dt = self._b.dt_memo()
                cur.executemany(f"INSERT INTO cases ({', '.join(COLUMNS)}) "
                                f"VALUES ({self._b.marks(len(COLUMNS))})",
                                [_values(c, dt) for c in cases])
            finally:
                cur.close()

    def update(self, case: Case, expect_version: int) -> bool:
        """Optimistic write: fails (False) if someone changed the case since it was read."""
        old = self._old({case.id: expect_version}).get(case.id)
        [case] = kpi_store.with_business_times([case], self._conn, self._calendars)
        values = {f"_{k}": v for k, v in zip(COLUMNS[1:], astuple(case)[1:], strict=True)}
        res = self._conn.execute(_UPDATE, {**values, "_id": case.id, "_expect": expect_version})
        if res.rowcount == 1:
            kpi_store.apply(self._conn, [(old, case)])
            self._known[case.id] = case
        return res.rowcount == 1

    def update_many(self, updates: list[tuple[Case, int]]) -> bool:
        """Optimistic writes of many cases (case, expected version) in one executemany; False
        (and the caller rolls back) if any of them changed since it was read."""
        if not updates:
            return True
        old = self._old({c.id: v for c, v in updates})
        timed = kpi_store.with_business_times([c for c, _ in updates], self._conn,
                                              self._calendars)
        updates = [(c, v) for c, (_, v) in zip(timed, updates, strict=True)]
        kpi_store.apply(self._conn, [(old.get(c.id), c) for c, _ in updates])
        self._known.update((c.id, c) for c, _ in updates)
        columns = [k for k in COLUMNS if k != "id"]
        dt = self._b.dt_memo()
        p = self._b.mark
        cur = self._cursor()
        try:
            if not self._sqlite:  # one UPDATE … FROM unnest (adapters/store/bulk_pg)
                rows = [(*_values(c, dt)[1:], c.id, v) for c, v in updates]
                names = [*columns, "id", "expect_version"]
                cur.execute(
                    f"UPDATE cases SET {', '.join(f'{k} = v.{k}' for k in columns)} "
                    f"FROM {bulk_pg.unnest(_PG_UPDATE_TYPES)} AS v({', '.join(names)}) "
                    "WHERE cases.id = v.id AND cases.version = v.expect_version",
                    bulk_pg.columns_of(rows, len(names)))
                return cur.rowcount == len(updates)
            cur.executemany(
                f"UPDATE cases SET {', '.join(f'{k} = {p}' for k in columns)} "
                f"WHERE id = {p} AND version = {p}",
                [(*_values(c, dt)[1:], c.id, v) for c, v in updates])
            return cur.rowcount == len(updates)
        finally:
            cur.close()

    def try_claim(self, case_id: str, member: str, until: datetime, now: datetime) -> bool:
        """Atomic lease: one conditional UPDATE, so of two racing members exactly one wins."""
        res = self._conn.execute(t.cases.update().where(
            C.id == case_id, C.state != "resolved",
            sa.or_(C.claimed_by.is_(None), C.claim_until < now, C.claimed_by == member),
        ).values(claimed_by=member, claim_until=until))
        return res.rowcount == 1

    def replace_all(self, cases: list[Case]) -> None:
        """The rebuild: the projection becomes exactly `cases`."""
        self._conn.execute(sa.delete(t.cases))
        self._known.clear()
        cases = kpi_store.with_business_times(cases, self._conn, self._calendars)
        for chunk in chunks(cases, 1000):
            self._insert_rows(chunk)
        kpi_store.rebuild(self._conn, cases)
        self._known.clear()


astuple = msgspec.structs.astuple  # a Case's column values, in COLUMNS order


def _values(case: Case, dt: Any) -> tuple:
    """The row of `case` for the DBAPI (its datetimes as the driver takes them)."""
    v = astuple(case)
    return tuple([dt(x) if x is not None and k in DT_SET else x
                  for k, x in zip(COLUMNS, v, strict=True)])


def case_of_row(row: sa.Row) -> Case:
    """A row of `SELECT cases.*` as a Case (by position), its instants aware UTC."""
    v = list(row)
    for i in _DT_INDEX:
        v[i] = utc(v[i])
    return Case(*v)


def _handles_by_channel(pairs: Iterable[tuple[str, str]]
                        ) -> Iterator[tuple[str, list[str]]]:
    """(channel, up to 500 handles) for (channel, handle) pairs: one IN list per query, so the
    (channel, author_handle) index of cases is used."""
    by_channel: dict[str, set[str]] = defaultdict(set)
    for channel, handle in pairs:
        by_channel[channel].add(handle)
    for channel, handles in by_channel.items():
        for chunk in chunks(sorted(handles), 500):
            yield channel, chunk

