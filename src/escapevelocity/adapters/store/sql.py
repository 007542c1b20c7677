"""The store: one SQLAlchemy Core implementation for the SQLite file and for PostgreSQL.

Everything the services need from the database goes through `SqlStore`; the same contract
tests run against both dialects. Transactions are owned by the caller (`with store.begin() as
conn:`), so a handler writes the log and the projection atomically or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from escapevelocity.adapters.store import schema as t
from escapevelocity.domain import cases as projection
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import Member, Organisation, Team

_encode = msgspec.json.encode
_decode = msgspec.json.decode
CASE_COLUMNS = tuple(c.name for c in t.cases.columns)
DT_COLUMNS = tuple(c.name for c in t.cases.columns if isinstance(c.type, sa.DateTime))


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # durable at every checkpoint; WAL keeps commits
    cur.execute("PRAGMA busy_timeout=10000")
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

    def add_api_token(self, conn: Connection, token_hash: str, name: str, at: datetime) -> None:
        conn.execute(t.api_tokens.insert().values(token_hash=token_hash, name=name, created_at=at))

    def api_token_name(self, conn: Connection, token_hash: str) -> str | None:
        return conn.execute(sa.select(t.api_tokens.c.name)
                            .where(t.api_tokens.c.token_hash == token_hash)).scalar()

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

    # --- mentions ------------------------------------------------------------------------------

    def existing_keys(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> set[str]:
        """Which (channel, source_id) pairs are already stored, as 'channel:source_id'."""
        found: set[str] = set()
        for chunk in _chunks(list(keys), 500):
            ids = [s for _, s in chunk]
            q = sa.select(t.mentions.c.channel, t.mentions.c.source_id, t.mentions.c.case_id
                          ).where(t.mentions.c.source_id.in_(ids))
            wanted = set(chunk)
            found |= {f"{c}:{s}" for c, s, _ in conn.execute(q) if (c, s) in wanted}
        return found

    def case_ids_for(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in _chunks(list(keys), 500):
            q = sa.select(t.mentions.c.channel, t.mentions.c.source_id, t.mentions.c.case_id
                          ).where(t.mentions.c.source_id.in_([s for _, s in chunk]))
            wanted = set(chunk)
            out |= {f"{c}:{s}": case for c, s, case in conn.execute(q) if (c, s) in wanted}
        return out

    def insert_mentions(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        if rows:
            conn.execute(t.mentions.insert(), rows)

    def case_mentions(self, conn: Connection, case_id: str) -> list[sa.Row]:
        return list(conn.execute(sa.select(t.mentions).where(t.mentions.c.case_id == case_id)
                                 .order_by(t.mentions.c.created_at, t.mentions.c.id)))

    def count(self, conn: Connection, table: str) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(t.metadata.tables[table])
                            ).scalar_one()

    # --- events and the case projection --------------------------------------------------------

    def append(self, conn: Connection, events: Iterable[Event]) -> None:
        rows = [{"case_id": e.case_id, "kind": e.kind, "at": e.at, "actor": e.actor,
                 "data": _encode(e.data).decode()} for e in events]
        if rows:
            conn.execute(t.events.insert(), rows)

    def case_events(self, conn: Connection, case_id: str) -> list[Event]:
        q = sa.select(t.events).where(t.events.c.case_id == case_id).order_by(t.events.c.seq)
        return [_event(r) for r in conn.execute(q)]

    def events_since(self, conn: Connection, seq: int, limit: int = 500) -> list[Event]:
        q = sa.select(t.events).where(t.events.c.seq > seq).order_by(t.events.c.seq).limit(limit)
        return [_event(r) for r in conn.execute(q)]

    def last_seq(self, conn: Connection) -> int:
        return conn.execute(sa.select(sa.func.max(t.events.c.seq))).scalar() or 0

    def insert_cases(self, conn: Connection, cases: list[dict[str, Any]]) -> None:
        if cases:
            conn.execute(t.cases.insert(), [{k: c[k] for k in CASE_COLUMNS} for c in cases])

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
        out: dict[tuple[str, str], tuple[datetime, str]] = {}
        pairs = set(pairs)
        for chunk in _chunks(sorted({h for _, h in pairs}), 500):
            q = sa.select(t.cases.c.id, t.cases.c.channel, t.cases.c.author_handle,
                          t.cases.c.last_mention_at).where(
                t.cases.c.author_handle.in_(chunk),
                t.cases.c.state.in_(projection.OPEN_STATES),
                t.cases.c.last_mention_at >= since)
            for r in conn.execute(q):
                key = (r.channel, r.author_handle)
                at = _utc(r.last_mention_at)
                if key in pairs and (key not in out or at > out[key][0]):
                    out[key] = (at, r.id)
        return {k: v[1] for k, v in out.items()}

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
        q = q.order_by(c.sla_due.is_(None), c.sla_due, c.opened_at).limit(limit)
        return [_case(r) for r in conn.execute(q)]

    def all_case_ids(self, conn: Connection) -> list[str]:
        # Incident streams ("incident:<id>") share the log but are not cases.
        return [r[0] for r in conn.execute(sa.select(t.events.c.case_id).distinct()
                                           .where(~t.events.c.case_id.like("incident:%")))]

    def replace_projection(self, conn: Connection, cases: list[dict[str, Any]]) -> None:
        conn.execute(sa.delete(t.cases))
        for chunk in _chunks(cases, 1000):
            self.insert_cases(conn, chunk)


def _event(r: sa.Row) -> Event:
    return Event(case_id=r.case_id, kind=r.kind, at=_utc(r.at), actor=r.actor,
                 data=_decode(r.data), seq=r.seq)


def _case(row: sa.Row) -> dict[str, Any]:
    d = dict(row._mapping)
    for k in DT_COLUMNS:
        d[k] = _utc(d[k])
    return d


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
