"""What every repository shares: the engine set-up, the transaction's connection, and the
bulk-write helpers.

Repositories are small classes over one `Tx` (uow.py); they hold no state of their own, so a
command's reads and writes through any of them share one transaction and commit together.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.resources import files
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from escapevelocity.adapters.store.uow import Tx


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
    """Bring the schema to the newest Alembic revision (idempotent).

    Every `ev serve`, `ev worker` and `ev ingest` starts here. A database already at the
    scripts' heads is left as Alembic would leave it, without Alembic: importing it and loading
    every migration script cost ~0.1-0.2 CPU-s a start (issue 14). Anything else (a new or
    older database, a script this cannot read) goes through `alembic upgrade heads`."""
    heads = script_heads()
    if heads is not None and heads == _applied(engine):
        return
    from alembic import command
    from alembic.config import Config

    here = files("escapevelocity") / "migrations"
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")  # feature branches may add their own heads


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=\n]*)?=\s*(.+?)\s*(?:#.*)?$",
                       re.MULTILINE)


def script_heads(folder: Any = None) -> frozenset[str] | None:
    """The head revisions of migrations/versions, read from each script's `revision` and
    `down_revision` lines (the heads are the revisions no script names as its down revision);
    None when a script does not say both as plain literals, for Alembic to read instead."""
    revisions: set[str] = set()
    downs: set[str] = set()
    folder = folder or files("escapevelocity") / "migrations" / "versions"
    for script in folder.iterdir():
        name = script.name
        if not name.endswith(".py") or name.startswith(("__", ".#")):
            continue
        found: dict[str, object] = {}
        for key, value in _REVISION.findall(script.read_text(encoding="utf-8")):
            if key in found:
                return None
            try:
                found[key] = ast.literal_eval(value)
            except (ValueError, SyntaxError):
                return None
        revision, down = found.get("revision"), found.get("down_revision", ...)
        if not isinstance(revision, str) or down is ...:
            return None
        down = (down,) if isinstance(down, str) else () if down is None else down
        if not isinstance(down, tuple | list) or not all(isinstance(d, str) for d in down):
            return None
        revisions.add(revision)
        downs.update(down)
    return frozenset(revisions - downs) or None


def _applied(engine: sa.Engine) -> frozenset[str] | None:
    """The revisions recorded in the database's alembic_version table (None: no table). A
    database that cannot be reached fails here as it would in Alembic."""
    with engine.connect() as conn:
        try:
            rows = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except sa.exc.DBAPIError:
            return None
    return frozenset(r[0] for r in rows)


class Binder:
    """How this dialect binds values on the raw DBAPI path.

    Bulk paths (ingest) go straight to the DBAPI cursor with executemany: SQLAlchemy's
    per-row parameter processing cost more than the database work. Values are bound exactly
    as SQLAlchemy binds them (its own DateTime processor), so rows written either way read
    back the same."""

    def __init__(self, dialect: sa.Dialect) -> None:
        self.name = dialect.name
        self.mark = "?" if dialect.paramstyle == "qmark" else "%s"
        to_db = sa.DateTime(timezone=True).dialect_impl(dialect).bind_processor(dialect) or _same
        self.dt = lambda v: to_db(v.astimezone(UTC) if getattr(v, "tzinfo", None) else v)

    def marks(self, n: int) -> str:
        return ",".join([self.mark] * n)

    def dt_memo(self) -> Any:
        """The DateTime bind conversion, memoised for one bulk write (a batch shares `now`,
        SLA due times repeat)."""
        memo: dict[Any, Any] = {}
        dt = self.dt

        def convert(value: Any) -> Any:
            key = (value, getattr(value, "tzinfo", None))  # equal instants, other zones differ
            out = memo.get(key)
            if out is None:
                out = memo[key] = dt(value)
            return out
        return convert


class Repo:
    """A repository: a view of one aggregate's tables inside the caller's transaction."""

    def __init__(self, tx: Tx) -> None:
        self._tx = tx
        self._conn: Connection = tx.conn
        self._b: Binder = tx.binder

    def _cursor(self) -> Any:
        """A DBAPI cursor inside the transaction (same connection, same commit)."""
        return self._conn.connection.driver_connection.cursor()

    @property
    def _sqlite(self) -> bool:
        return self._b.name == "sqlite"


def _same(value: Any) -> Any:
    return value


def insert_for(dialect: str) -> Any:
    """The dialect's own `insert` (the one with `on_conflict_do_*`): an upsert is written once
    for both databases, picked by the connection's `dialect.name`."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def utc(value: datetime | None) -> datetime | None:
    """Naive datetimes read back from SQLite are UTC (schema.UtcDateTime stores them so)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def dt_out(value: Any) -> datetime:
    """A DateTime column read through the DBAPI: SQLite gives text, PostgreSQL a datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return utc(value)


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
