"""The store: one SQLAlchemy Core implementation for the SQLite file and for PostgreSQL.

Everything the services need from the database goes through `SqlStore`; the same contract
tests run against both dialects. Transactions are owned by the caller (`with store.begin() as
conn:`), so a handler writes the log and the projection atomically or not at all.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from escapevelocity.adapters.store import rollups as rollup_store
from escapevelocity.adapters.store import schema as t
from escapevelocity.domain import authors, rollups, yamlsafe
from escapevelocity.domain import cases as projection
from escapevelocity.domain.authors import AuthorHistory
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import Member, Organisation, Team

_encode = msgspec.json.encode
_decode = msgspec.json.decode
CASE_COLUMNS = tuple(c.name for c in t.cases.columns)
DT_COLUMNS = tuple(c.name for c in t.cases.columns
                   if isinstance(c.type, (sa.DateTime, t.UtcDateTime)))
DT_SET = frozenset(DT_COLUMNS)
# The partial index ix_mentions_provisional is declared WHERE provisional; SQLite uses it only
# for a query that says the same words ("provisional = 1", what SQLAlchemy writes for the
# column, scanned every mention: 0.45 s a count at 176k cases, and every refine tick).
_PROVISIONAL = sa.text("provisional")


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable at every checkpoint; WAL keeps commits
    cur.execute("PRAGMA busy_timeout=10000")
    # Ingest writes in big batches: a 64 MiB page cache keeps the index pages it touches in
    # memory, and checkpointing every ~40 MiB of WAL instead of 4 MiB halves the fsyncs.
    # Neither changes durability (WAL + synchronous=NORMAL: a committed batch survives a
    # killed process).
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.close()


def make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url, pool_pre_ping=True)


def migrate(engine: sa.Engine) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    from alembic import command
    from alembic.config import Config

    here = files("escapevelocity") / "migrations"
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")  # feature branches may add their own heads


class ClaimTaken(Exception):
    def __init__(self, holder: str | None, until: datetime | None) -> None:
        self.holder, self.until = holder, until
        super().__init__(f"claimed by {holder} until {until:%H:%M}" if holder and until
                         else "case is not open")


class SqlStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        # Bulk paths (ingest) go straight to the DBAPI cursor with executemany: SQLAlchemy's
        # per-row parameter processing cost more than the database work. Values are bound
        # exactly as SQLAlchemy binds them (its own DateTime processor), so rows written
        # either way read back the same.
        d = self.engine.dialect
        self._p = "?" if d.paramstyle == "qmark" else "%s"
        to_db = sa.DateTime(timezone=True).dialect_impl(d).bind_processor(d) or _same
        self._dt = lambda v: to_db(v.astimezone(UTC) if getattr(v, "tzinfo", None) else v)

    def _cursor(self, conn: Connection) -> Any:
        """A DBAPI cursor inside the caller's transaction (same connection, same commit)."""
        return conn.connection.driver_connection.cursor()

    def _marks(self, n: int) -> str:
        return ",".join([self._p] * n)

    def migrate(self) -> None:
        migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _insert_ignore(self, table: sa.Table) -> Any:
        if self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert
        return insert(table).on_conflict_do_nothing()

    # --- organisation --------------------------------------------------------------------------

    def save_org(self, conn: Connection, org: Organisation) -> None:
        conn.execute(sa.delete(t.teams))
        if org.teams:
            conn.execute(t.teams.insert(), [
                {"id": x.id, "name": x.name, "kind": x.kind, "hub": x.hub,
                 "strategy": x.strategy, "overflow": x.overflow} for x in org.teams])
        known = {r.id for r in conn.execute(sa.select(t.members.c.id))}
        for m in org.members:
            row = {"name": m.name, "body": _encode(m).decode()}
            if m.id in known:
                conn.execute(t.members.update().where(t.members.c.id == m.id).values(**row))
            else:
                conn.execute(t.members.insert().values(id=m.id, presence="offline", **row))

    def load_org(self, conn: Connection) -> Organisation:
        source = self.document(conn, "org")
        if source:  # the applied YAML is the whole record (overflows, ladders); tables serve joins
            return _org_from_yaml(source)
        teams = [Team(id=r.id, name=r.name, kind=r.kind, hub=r.hub, strategy=r.strategy,
                      overflow=r.overflow) for r in conn.execute(sa.select(t.teams))]
        members = [_decode(r.body, type=Member)
                   for r in conn.execute(sa.select(t.members.c.body).order_by(t.members.c.id))]
        return Organisation(teams=teams, members=members)

    def set_password(self, conn: Connection, member: str, password_hash: str) -> None:
        conn.execute(t.members.update().where(t.members.c.id == member)
                     .values(password_hash=password_hash))

    def password_hash(self, conn: Connection, member: str) -> str | None:
        return conn.execute(sa.select(t.members.c.password_hash)
                            .where(t.members.c.id == member)).scalar()

    def set_presence(self, conn: Connection, member: str, presence: str, at: datetime) -> None:
        conn.execute(t.members.update().where(t.members.c.id == member)
                     .values(presence=presence, last_seen=at))

    def presence(self, conn: Connection) -> dict[str, str]:
        return {r.id: r.presence for r in conn.execute(sa.select(t.members.c.id,
                                                                 t.members.c.presence))}

    def presence_seen(self, conn: Connection) -> dict[str, tuple[str, datetime | None]]:
        """Declared presence and last activity per member (routing derives auto-away)."""
        q = sa.select(t.members.c.id, t.members.c.presence, t.members.c.last_seen)
        return {r.id: (r.presence, _utc(r.last_seen)) for r in conn.execute(q)}

    def queue_summary(self, conn: Connection) -> dict[str, tuple[int, datetime | None]]:
        """Per team: how many cases wait in the queue, and the earliest SLA due among them."""
        c = t.cases.c
        q = (sa.select(c.team, sa.func.count(), sa.func.min(c.sla_due))
             .where(c.state == "queued").group_by(c.team))
        return {team: (n, _dt_out(due) if due is not None else None)
                for team, n, due in conn.execute(q)}

    def has_queue(self, conn: Connection, team: str) -> bool:
        """Whether cases that need an answer wait in `team`'s queue (an index seek)."""
        c = t.cases.c
        q = sa.select(c.id).where(c.team == team, c.state == "queued", c.respond).limit(1)
        return conn.execute(q).first() is not None

    def touch(self, conn: Connection, member: str, at: datetime) -> None:
        """Record activity (a claim, a reply) without changing declared presence (auto-away)."""
        conn.execute(t.members.update().where(t.members.c.id == member).values(last_seen=at))

    def open_loads(self, conn: Connection) -> dict[str, int]:
        q = (sa.select(t.cases.c.assignee, sa.func.count())
             .where(t.cases.c.assignee.is_not(None), t.cases.c.state.in_(projection.OPEN_STATES))
             .group_by(t.cases.c.assignee))
        return {a: n for a, n in conn.execute(q)}

    # --- documents and tokens ------------------------------------------------------------------

    def put_document(self, conn: Connection, name: str, body: str, at: datetime) -> None:
        conn.execute(sa.delete(t.documents).where(t.documents.c.name == name))
        conn.execute(t.documents.insert().values(name=name, body=body, updated_at=at))

    def document(self, conn: Connection, name: str) -> str | None:
        return conn.execute(sa.select(t.documents.c.body)
                            .where(t.documents.c.name == name)).scalar()

    # --- playbooks -----------------------------------------------------------------------------

    def save_playbook(self, conn: Connection, *, name: str, source: str, author: str, note: str,
                      at: datetime, activate: bool) -> int:
        version = conn.execute(t.playbooks.insert().values(
            name=name, source=source, author=author, note=note, created_at=at, active=False)
        ).inserted_primary_key[0]
        if activate:
            conn.execute(t.playbooks.update().values(active=t.playbooks.c.version == version))
        return int(version)

    def active_playbook(self, conn: Connection) -> tuple[int, str] | None:
        row = conn.execute(sa.select(t.playbooks.c.version, t.playbooks.c.source)
                           .where(t.playbooks.c.active.is_(True))).first()
        return (int(row.version), row.source) if row else None

    def playbook_versions(self, conn: Connection, *, lock: bool = False
                          ) -> list[dict[str, Any]]:
        """Every version without its source, oldest first; `lock` serialises the version
        workflow (FOR UPDATE on PostgreSQL; SQLite has one writer anyway)."""
        p = t.playbooks.c
        q = sa.select(p.version, p.name, p.author, p.note, p.created_at, p.active
                      ).order_by(p.version)
        if lock and self.dialect != "sqlite":
            q = q.with_for_update()
        return [{**r._mapping, "version": int(r.version), "created_at": _utc(r.created_at)}
                for r in conn.execute(q)]

    def playbook_source(self, conn: Connection, version: int) -> str | None:
        return conn.execute(sa.select(t.playbooks.c.source)
                            .where(t.playbooks.c.version == version)).scalar()

    def activate_playbook(self, conn: Connection, version: int) -> None:
        conn.execute(t.playbooks.update().values(active=t.playbooks.c.version == version))

    # --- mentions ------------------------------------------------------------------------------

    def existing_keys(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> set[str]:
        """Which (channel, source_id) pairs are already stored, as 'channel:source_id'."""
        return set(self.mention_cases(conn, keys))

    def case_ids_for(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[str, str]:
        return self.mention_cases(conn, keys)

    def mention_cases(self, conn: Connection, keys: Iterable[tuple[str, str]]) -> dict[str, str]:
        """'channel:source_id' -> case id for the stored ones among `keys`.

        One query per channel so the (channel, source_id) unique index is used: filtering on
        source_id alone scans the whole table, which made ingest quadratic.
        """
        by_channel: dict[str, set[str]] = defaultdict(set)
        for channel, source_id in keys:
            by_channel[channel].add(source_id)
        out: dict[str, str] = {}
        if not by_channel:
            return out
        cur = self._cursor(conn)
        try:
            for channel, ids in by_channel.items():
                for chunk in _chunks(list(ids), 500):
                    cur.execute("SELECT source_id, case_id FROM mentions WHERE channel = "
                                f"{self._p} AND source_id IN ({self._marks(len(chunk))})",
                                [channel, *chunk])
                    for source_id, case_id in cur.fetchall():
                        out[f"{channel}:{source_id}"] = case_id
        finally:
            cur.close()
        return out

    MENTION_COLUMNS = ("channel", "source_id", "case_id", "author_handle", "created_at",
                       "received_at", "body", "signals", "provisional")

    def insert_mentions(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        self.insert_mention_rows(conn, [(*(r[k] for k in self.MENTION_COLUMNS[:-1]),
                                         r.get("provisional", False)) for r in rows])

    def insert_mention_rows(self, conn: Connection, rows: list[tuple]) -> None:
        """Rows are tuples in MENTION_COLUMNS order; body and signals are JSON text."""
        if not rows:
            return
        dt = self._dt_memo()
        cur = self._cursor(conn)
        try:
            cur.executemany(
                f"INSERT INTO mentions ({', '.join(self.MENTION_COLUMNS)}) "
                f"VALUES ({self._marks(len(self.MENTION_COLUMNS))})",
                [(c, s, case, a, dt(created), dt(received), body, sig, bool(provisional))
                 for c, s, case, a, created, received, body, sig, provisional in rows])
        finally:
            cur.close()

    def provisional_mentions(self, conn: Connection, limit: int) -> list[sa.Row]:
        """Mentions whose signals wait for a learned model's sentence vectors, oldest first.
        A flag, not a cursor: on PostgreSQL ids are handed out before commits, which may land
        in any order, so a cursor could pass a row that commits later."""
        m = t.mentions.c
        return list(conn.execute(sa.select(m.id, m.channel, m.source_id, m.case_id, m.body,
                                           m.signals).where(_PROVISIONAL)
                                 .order_by(m.id).limit(limit)))

    def first_mention_ids(self, conn: Connection, case_ids: Iterable[str]) -> dict[str, int]:
        """Each case's first mention row (what its title and projection's signals come from)."""
        m = t.mentions.c
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        return dict(conn.execute(sa.select(m.case_id, sa.func.min(m.id))
                                 .where(m.case_id.in_(ids)).group_by(m.case_id)).all())

    def last_mention_id(self, conn: Connection) -> int:
        return conn.execute(sa.select(sa.func.max(t.mentions.c.id))).scalar() or 0

    def recent_signals(self, conn: Connection, limit: int) -> list[str]:
        """The stored signals (JSON) of the newest `limit` mentions, newest first."""
        m = t.mentions.c
        return [r[0] for r in conn.execute(sa.select(m.signals).order_by(m.id.desc())
                                           .limit(limit))]

    def provisional_count(self, conn: Connection) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(t.mentions)
                            .where(_PROVISIONAL)).scalar_one()

    def settle_mention_signals(self, conn: Connection, row_id: int, signals: str) -> bool:
        """Replace a provisional mention's signals with the full answer; False when another
        pass settled it first (so only one pass records the revision)."""
        m = t.mentions.c
        done = conn.execute(sa.update(t.mentions).where(m.id == row_id, _PROVISIONAL)
                            .values(signals=signals, provisional=False))
        return bool(done.rowcount)

    def case_mentions(self, conn: Connection, case_id: str) -> list[sa.Row]:
        return list(conn.execute(sa.select(t.mentions).where(t.mentions.c.case_id == case_id)
                                 .order_by(t.mentions.c.created_at, t.mentions.c.id)))

    def count(self, conn: Connection, table: str) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(t.metadata.tables[table])
                            ).scalar_one()

    # --- events and the case projection --------------------------------------------------------

    def append(self, conn: Connection, events: Iterable[Event]) -> None:
        events = list(events)
        dt = self._dt_memo()
        rows = [(e.case_id, e.kind, dt(e.at), e.actor, _encode(e.data).decode()) for e in events]
        if rows:
            cur = self._cursor(conn)
            try:
                cur.executemany("INSERT INTO events (case_id, kind, at, actor, data) "
                                f"VALUES ({self._marks(5)})", rows)
            finally:
                cur.close()
            rollup_store.add(conn, events)  # counters move in the same transaction as the log

    def rollup(self, conn: Connection, name: str) -> dict[str, int]:
        """A rollup's counters by key (domain/rollups.py names them)."""
        return rollup_store.read(conn, name)

    def rebuild_rollups(self, conn: Connection) -> None:
        """Every rollup counter recomputed from the log alone."""
        q = (sa.select(t.events).where(t.events.c.kind.in_(sorted(rollups.KINDS)))
             .order_by(t.events.c.seq).execution_options(yield_per=2000))
        rollup_store.rebuild(conn, (_event(r) for r in conn.execute(q)))

    def events_of_kind(self, conn: Connection, kind: str, *, after: int = 0,
                       limit: int = 2000) -> list[Event]:
        """Events of one kind in log order after `after` (a range of ix_events_kind)."""
        q = (sa.select(t.events).where(t.events.c.kind == kind, t.events.c.seq > after)
             .order_by(t.events.c.seq).limit(limit))
        return [_event(r) for r in conn.execute(q)]

    def case_events(self, conn: Connection, case_id: str) -> list[Event]:
        q = sa.select(t.events).where(t.events.c.case_id == case_id).order_by(t.events.c.seq)
        return [_event(r) for r in conn.execute(q)]

    def events_for_cases(self, conn: Connection, ids: Iterable[str]) -> dict[str, list[Event]]:
        """Each case's events in log order, for many cases in a few queries."""
        out: dict[str, list[Event]] = {}
        for chunk in _chunks(sorted(set(ids)), 500):
            q = (sa.select(t.events).where(t.events.c.case_id.in_(chunk))
                 .order_by(t.events.c.case_id, t.events.c.seq))
            for r in conn.execute(q):
                out.setdefault(r.case_id, []).append(_event(r))
        return out

    def events_since(self, conn: Connection, seq: int, limit: int = 500) -> list[Event]:
        q = sa.select(t.events).where(t.events.c.seq > seq).order_by(t.events.c.seq).limit(limit)
        return [_event(r) for r in conn.execute(q)]

    def last_seq(self, conn: Connection) -> int:
        return conn.execute(sa.select(sa.func.max(t.events.c.seq))).scalar() or 0

    def insert_cases(self, conn: Connection, cases: list[dict[str, Any]]) -> None:
        if cases:
            cur = self._cursor(conn)
            try:
                dt = self._dt_memo()
                cur.executemany(f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) "
                                f"VALUES ({self._marks(len(CASE_COLUMNS))})",
                                [self._case_values(c, CASE_COLUMNS, dt) for c in cases])
            finally:
                cur.close()

    def _case_values(self, case: dict[str, Any], columns: Sequence[str],
                     dt: Any = None) -> tuple:
        dt = dt or self._dt
        return tuple([dt(v) if v is not None and k in DT_SET else v
                      for k, v in zip(columns, [case[k] for k in columns], strict=True)])

    def _dt_memo(self) -> Any:
        """The DateTime bind conversion, memoised for one bulk write (a batch shares `now`,
        SLA due times repeat)."""
        memo: dict[Any, Any] = {}
        dt = self._dt

        def convert(value: Any) -> Any:
            key = (value, getattr(value, "tzinfo", None))  # equal instants, other zones differ
            out = memo.get(key)
            if out is None:
                out = memo[key] = dt(value)
            return out
        return convert

    def update_cases(self, conn: Connection, updates: list[tuple[dict[str, Any], int]]) -> bool:
        """Optimistic writes of many cases (case, expected version) in one executemany; False
        (and the caller rolls back) if any of them changed since it was read."""
        if not updates:
            return True
        columns = [k for k in CASE_COLUMNS if k != "id"]
        dt = self._dt_memo()
        cur = self._cursor(conn)
        try:
            cur.executemany(
                f"UPDATE cases SET {', '.join(f'{k} = {self._p}' for k in columns)} "
                f"WHERE id = {self._p} AND version = {self._p}",
                [(*self._case_values(c, columns, dt), c["id"], v) for c, v in updates])
            return cur.rowcount == len(updates)
        finally:
            cur.close()

    def update_case(self, conn: Connection, case: dict[str, Any], expect_version: int) -> bool:
        """Optimistic write: fails (False) if someone changed the case since it was read."""
        values = {k: case[k] for k in CASE_COLUMNS if k != "id"}
        res = conn.execute(t.cases.update().where(t.cases.c.id == case["id"],
                                                  t.cases.c.version == expect_version)
                           .values(**values))
        return res.rowcount == 1

    def get_case(self, conn: Connection, case_id: str, *, for_update: bool = False
                 ) -> dict[str, Any] | None:
        q = sa.select(t.cases).where(t.cases.c.id == case_id)
        if for_update and self.dialect != "sqlite":
            q = q.with_for_update()
        row = conn.execute(q).first()
        return _case(row) if row else None

    def get_cases(self, conn: Connection, ids: Iterable[str], *, for_update: bool = False
                  ) -> dict[str, dict[str, Any]]:
        out = {}
        for chunk in _chunks(sorted(set(ids)), 500):
            q = sa.select(t.cases).where(t.cases.c.id.in_(chunk)).order_by(t.cases.c.id)
            if for_update and self.dialect != "sqlite":
                q = q.with_for_update()
            for row in conn.execute(q):
                out[row.id] = _case(row)
        return out

    def open_cases_by_author(self, conn: Connection, pairs: Iterable[tuple[str, str]],
                             since: datetime) -> dict[tuple[str, str], str]:
        """The newest open case per (channel, author) touched since `since`."""
        return self.author_cases(conn, pairs, since)[0]

    def author_cases(self, conn: Connection, pairs: Iterable[tuple[str, str]],
                     since: datetime | None
                     ) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], AuthorHistory]]:
        """What ingest needs to know of a batch's authors, in one query per channel (the
        (channel, author_handle) index of cases): per (channel, author), the newest open case
        touched since `since` (the one a new post joins), and the author's history."""
        newest: dict[tuple[str, str], tuple[datetime, str]] = {}
        found: dict[tuple[str, str], list[int]] = {}
        open_states = frozenset(projection.OPEN_STATES)
        cur = self._cursor(conn)
        try:
            for channel, chunk in _handles_by_channel(pairs):
                cur.execute(
                    "SELECT id, author_handle, state, last_mention_at, mention_count, tags, "
                    f"flags FROM cases WHERE channel = {self._p} AND author_handle IN "
                    f"({self._marks(len(chunk))})", [channel, *chunk])
                for case_id, handle, state, last, count, tags, flags in cur.fetchall():
                    key = (channel, handle)
                    row = found.setdefault(key, [0, 0, 0])
                    row[0] += 1
                    row[1] += count or 0
                    row[2] += authors.abusive(tags or "", flags or "")
                    if since is None or state not in open_states or last is None:
                        continue
                    at = _dt_out(last)
                    if at >= since and (key not in newest or at > newest[key][0]):
                        newest[key] = (at, case_id)
        finally:
            cur.close()
        return ({k: v[1] for k, v in newest.items()},
                {k: AuthorHistory(cases=v[0], mentions=v[1], abusive=v[2])
                 for k, v in found.items()})

    def try_claim(self, conn: Connection, case_id: str, member: str, until: datetime,
                  now: datetime) -> bool:
        """Atomic lease: one conditional UPDATE, so of two racing members exactly one wins."""
        c = t.cases.c
        res = conn.execute(t.cases.update().where(
            c.id == case_id, c.state != "resolved",
            sa.or_(c.claimed_by.is_(None), c.claim_until < now, c.claimed_by == member),
        ).values(claimed_by=member, claim_until=until))
        return res.rowcount == 1

    def inbox(self, conn: Connection, *, teams: Sequence[str] | None = None,
              states: Sequence[str] = projection.OPEN_STATES, assignee: str | None = None,
              limit: int = 200) -> list[dict[str, Any]]:
        c = t.cases.c
        q = sa.select(t.cases).where(c.state.in_(states))
        if teams is not None:
            q = q.where(c.team.in_(teams))
        if assignee:
            q = q.where(c.assignee == assignee)
        if tuple(states) == ("resolved",):  # the resolved view: the latest first
            q = q.order_by(c.resolved_at.desc(), c.id).limit(limit)
            return [_case(r) for r in conn.execute(q)]
        # Soonest SLA first, then the cases with no SLA, oldest first: two reads in the order of
        # ix_cases_due that stop at `limit`, where one ORDER BY on "sla_due IS NULL" sorted every
        # open case (1.4 s at 176k cases).
        rows = [_case(r) for r in conn.execute(
            q.where(c.sla_due.is_not(None)).order_by(c.sla_due, c.opened_at).limit(limit))]
        if len(rows) < limit:
            rows += [_case(r) for r in conn.execute(
                q.where(c.sla_due.is_(None)).order_by(c.opened_at).limit(limit - len(rows)))]
        return rows

    def case_count(self, conn: Connection) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(t.cases)).scalar_one()

    def case_ids(self, conn: Connection) -> list[str]:
        """Every case id, from the projection (the log's case streams, without a DISTINCT)."""
        return [r[0] for r in conn.execute(sa.select(t.cases.c.id).order_by(t.cases.c.id))]

    def case_ids_after(self, conn: Connection, seq: int) -> list[str]:
        """The cases with events after log position `seq` (a range of the primary key)."""
        c = t.events.c
        return [r[0] for r in conn.execute(sa.select(c.case_id).distinct().where(
            c.seq > seq, ~c.case_id.like("incident:%"), ~c.case_id.like("playbook:%")))]

    def all_case_ids(self, conn: Connection) -> list[str]:
        # Incident and playbook streams ("incident:<id>", "playbook:<n>") share the log but
        # are not cases.
        c = t.events.c.case_id
        return [r[0] for r in conn.execute(sa.select(c).distinct().where(
            ~c.like("incident:%"), ~c.like("playbook:%")))]

    def replace_projection(self, conn: Connection, cases: list[dict[str, Any]]) -> None:
        conn.execute(sa.delete(t.cases))
        for chunk in _chunks(cases, 1000):
            self.insert_cases(conn, chunk)

    # --- engagement (issue 6): member lookup, work that falls due, events by kind -------------

    def member(self, conn: Connection, member_id: str) -> Member | None:
        body = conn.execute(sa.select(t.members.c.body).where(t.members.c.id == member_id)
                            ).scalar()
        return _decode(body, type=Member) if body else None

    def cases_due(self, conn: Connection, due: str, state: str, value: str, now: datetime,
                  limit: int = 500) -> list[str]:
        """Ids of cases whose `state` column equals `value` and whose `due` column has passed."""
        c = t.cases.c
        q = (sa.select(c.id).where(c[state] == value, c[due].is_not(None), c[due] <= now)
             .order_by(c[due]).limit(limit))
        return [r[0] for r in conn.execute(q)]

    def cases_where(self, conn: Connection, column: str, value: Any,
                    limit: int = 200) -> list[dict[str, Any]]:
        q = (sa.select(t.cases).where(t.cases.c[column] == value)
             .order_by(t.cases.c.updated_at.desc()).limit(limit))
        return [_case(r) for r in conn.execute(q)]

    def events_of_kinds(self, conn: Connection, kinds: Sequence[str], *,
                        since: datetime | None = None, limit: int = 500) -> list[Event]:
        """Newest first."""
        q = sa.select(t.events).where(t.events.c.kind.in_(kinds))
        if since is not None:
            q = q.where(t.events.c.at >= since)
        q = q.order_by(t.events.c.seq.desc()).limit(limit)
        return [_event(r) for r in conn.execute(q)]

    def events_after(self, conn: Connection, seq: int, kinds: Sequence[str],
                     limit: int = 20_000) -> list[Event]:
        """Events of `kinds` after `seq`, the newest `limit` of them, oldest first (a range scan
        of the primary key: cheap to poll)."""
        q = (sa.select(t.events).where(t.events.c.seq > seq, t.events.c.kind.in_(kinds))
             .order_by(t.events.c.seq.desc()).limit(limit))
        return [_event(r) for r in reversed(conn.execute(q).all())]

    # --- plans and deadlines (issue 14.2, 15.3): insert-or-ignore, what the clock jobs read ---

    @contextmanager
    def begin_write(self) -> Iterator[Connection]:
        """A transaction that will write. On SQLite it takes the write lock first (BEGIN
        IMMEDIATE): a deferred transaction that read and then writes after another writer
        committed fails at once (a stale snapshot; busy_timeout does not help), so concurrent
        ingests would fail instead of queueing. PostgreSQL: the same as `begin`."""
        if self.dialect != "sqlite":
            with self.begin() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def lock_keys(self, conn: Connection, keys: Iterable[str]) -> None:
        """Transaction-scoped locks on natural keys (mention keys, authors), taken in one
        sorted order so writers of overlapping batches queue instead of racing, and never
        deadlock among themselves. PostgreSQL advisory locks, released at commit or rollback;
        on SQLite `begin_write` already holds the one write lock."""
        if self.dialect == "sqlite":
            return
        ids = sorted({int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(),
                                     "big", signed=True) for k in keys})
        if ids:
            conn.exec_driver_sql(
                "SELECT count(pg_advisory_xact_lock(k)) FROM "
                "(SELECT unnest(%(ids)s::bigint[]) AS k ORDER BY 1) AS sorted_keys",
                {"ids": ids})

    def insert_mention_rows_ignoring(self, conn: Connection, rows: list[tuple]) -> int:
        """Insert-or-ignore on the natural key (channel, source_id); returns how many rows
        were written. Fewer than given means a concurrent writer stored some first (the
        caller replans): the insert itself never fails on a duplicate, on either database.
        Ingest locks the keys first (`lock_keys`), so concurrent writers never deadlock here."""
        if not rows:
            return 0
        dt = self._dt_memo()
        cur = self._cursor(conn)
        try:
            cur.executemany(
                f"INSERT INTO mentions ({', '.join(self.MENTION_COLUMNS)}) "
                f"VALUES ({self._marks(len(self.MENTION_COLUMNS))}) "
                "ON CONFLICT (channel, source_id) DO NOTHING",
                [(c, s, case, a, dt(created), dt(received), body, sig, bool(provisional))
                 for c, s, case, a, created, received, body, sig, provisional in rows])
            return cur.rowcount
        finally:
            cur.close()

    def cases_due_for_sla(self, conn: Connection, now: datetime, limit: int
                          ) -> list[dict[str, Any]]:
        """Open cases whose next deadline has passed, earliest first (ix_cases_next_deadline)."""
        c = t.cases.c
        q = (sa.select(t.cases).where(c.next_deadline.is_not(None), c.next_deadline <= now,
                                      c.state.in_(projection.OPEN_STATES))
             .order_by(c.next_deadline).limit(limit))
        return [_case(r) for r in conn.execute(q)]

    def cases_held_by(self, conn: Connection, offline: Sequence[str], now: datetime,
                      limit: int = 2_000) -> dict[str, dict[str, Any]]:
        """Claims whose lease ran out (ix_cases_claims) and cases assigned to members who are
        offline (ix_cases_assignee): what the tick may release or requeue."""
        c = t.cases.c
        out = {}
        q = (sa.select(t.cases).where(c.state == "claimed", c.claim_until < now)
             .order_by(c.id).limit(limit))
        out.update({r.id: _case(r) for r in conn.execute(q)})
        for chunk in _chunks(list(offline), 500):
            q = (sa.select(t.cases).where(c.assignee.in_(chunk), c.state == "assigned")
                 .order_by(c.id).limit(limit))
            out.update({r.id: _case(r) for r in conn.execute(q)})
        return out

    def queue_heads(self, conn: Connection, teams: Sequence[str], limit: int
                    ) -> dict[str, dict[str, Any]]:
        """Per team, the `limit` queued cases that need an answer, earliest due first (the
        inbox index): all the drain can hand out when members have that much room."""
        c = t.cases.c
        out = {}
        for team in teams:
            q = (sa.select(t.cases).where(c.team == team, c.state == "queued", c.respond)
                 .order_by(c.sla_due.is_(None), c.sla_due, c.opened_at).limit(limit))
            out.update({r.id: _case(r) for r in conn.execute(q)})
        return out

    def routing_needs(self, conn: Connection, ids: Iterable[str]
                      ) -> dict[str, tuple[str, tuple[str, ...], str]]:
        """(track, topics, language) of each case's latest decision, for routing."""
        e = t.events.c
        out = {}
        for chunk in _chunks(sorted(set(ids)), 500):
            q = (sa.select(e.case_id, e.data).where(e.case_id.in_(chunk), e.kind == "decided")
                 .order_by(e.case_id, e.seq))
            for case_id, data in conn.execute(q):
                d = _decode(data)
                sig = d.get("signals", {})
                out[case_id] = (d["decision"]["track"], tuple(sig.get("topics", ())),
                                sig.get("language", "und"))
        return out

    def corrections_after(self, conn: Connection, seq: int, kind: str) -> tuple[int, int]:
        """(how many events of `kind` after `seq`, the last seq): a cursor's step over the
        log (ix_events_kind), so a per-pass check reads only what is new."""
        e = t.events.c
        n = conn.execute(sa.select(sa.func.count()).where(e.kind == kind, e.seq > seq)
                         ).scalar_one()
        return n, self.last_seq(conn)


def _same(value: Any) -> Any:
    return value


def _dt_out(value: Any) -> datetime:
    """A DateTime column read through the DBAPI: SQLite gives text, PostgreSQL a datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return _utc(value)


@functools.lru_cache(maxsize=8)
def _org_from_yaml(source: str) -> Organisation:
    """Parsed once per text: every command authorizes against the org, and YAML is slow."""

    from escapevelocity.domain.org import load_org
    return load_org(yamlsafe.load(source))


def _event(r: sa.Row) -> Event:
    return Event(case_id=r.case_id, kind=r.kind, at=_utc(r.at), actor=r.actor,
                 data=_decode(r.data), seq=r.seq)


def _case(row: sa.Row) -> dict[str, Any]:
    d = dict(row._mapping)
    for k in DT_COLUMNS:
        d[k] = _utc(d[k])
    return d


def _handles_by_channel(pairs: Iterable[tuple[str, str]]
                        ) -> Iterator[tuple[str, list[str]]]:
    """(channel, up to 500 handles) for (channel, handle) pairs: one IN list per query, so the
    (channel, author_handle) index of cases is used."""
    by_channel: dict[str, set[str]] = defaultdict(set)
    for channel, handle in pairs:
        by_channel[channel].add(handle)
    for channel, handles in by_channel.items():
        for chunk in _chunks(sorted(handles), 500):
            yield channel, chunk


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
