"""The unit of work: one transaction per command, and the repositories that work inside it.

    with store.begin() as tx:
        case = tx.cases.get(case_id, for_update=True)
        tx.events.append(events)
        tx.cases.update(new, case.version)

Everything a command reads and writes goes through one `Tx`, so the log and the projection
commit together or not at all, and nothing outside adapters/store/ holds a connection or
writes SQL. One implementation (SQLAlchemy Core) serves the SQLite file and PostgreSQL; the
same integration tests run against both. Repositories are created on first use: a command
that only reads the organisation pays for nothing else.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.auth import Auth
from escapevelocity.adapters.store.base import Binder, make_engine, migrate
from escapevelocity.adapters.store.cases import Cases
from escapevelocity.adapters.store.documents import Documents
from escapevelocity.adapters.store.events import Events
from escapevelocity.adapters.store.mentions import Mentions
from escapevelocity.adapters.store.org import Org
from escapevelocity.adapters.store.playbooks import Playbooks


class Bound:
    """A store module of functions over a Connection (`brand_versions`, `connections`,
    `signin`, `notifications`, `webhooks`), bound to one transaction:
    `tx.brand_versions.latest()` calls `brand_versions.latest(conn)`. Lets a feature keep its
    records in one small module while callers see only the `Tx`."""

    def __init__(self, module: Any, conn: Connection) -> None:
        self._module, self._conn = module, conn

    def __getattr__(self, name: str) -> Any:
        return functools.partial(getattr(self._module, name), self._conn)


class Tx:
    """One open transaction and its repositories (see the module docstring)."""

    def __init__(self, conn: Connection, binder: Binder) -> None:
        self.conn = conn  # for repositories only
        self.binder = binder
        self.appended = False  # events were appended (the store tells on_commit hooks)

    @functools.cached_property
    def cases(self) -> Cases:
        return Cases(self)

    @functools.cached_property
    def events(self) -> Events:
        return Events(self)

    @functools.cached_property
    def mentions(self) -> Mentions:
        return Mentions(self)

    @functools.cached_property
    def org(self) -> Org:
        return Org(self)

    @functools.cached_property
    def auth(self) -> Auth:
        return Auth(self)

    @functools.cached_property
    def documents(self) -> Documents:
        return Documents(self)

    @functools.cached_property
    def playbooks(self) -> Playbooks:
        return Playbooks(self)

    @functools.cached_property
    def brand_versions(self) -> Bound:
        """Brand profile versions (brand_versions.py)."""
        from escapevelocity.adapters.store import brand_versions
        return Bound(brand_versions, self.conn)

    @functools.cached_property
    def connections(self) -> Bound:
        """Channel connections and webhook deliveries (connections.py)."""
        from escapevelocity.adapters.store import connections
        return Bound(connections, self.conn)

    @functools.cached_property
    def signin(self) -> Bound:
        """Sessions, failed sign-ins and API tokens (signin.py)."""
        from escapevelocity.adapters.store import signin
        return Bound(signin, self.conn)

    @functools.cached_property
    def search(self) -> Any:
        """Search over cases and mentions, and saved views (search.py)."""
        from escapevelocity.adapters.store.search import Search
        return Search(self)

    @functools.cached_property
    def people(self) -> Any:
        """Linked author identities and what a profile reads (people.py)."""
        from escapevelocity.adapters.store.people import People
        return People(self)

    def lock_keys(self, keys: Iterable[str]) -> None:
        """Transaction-scoped locks on natural keys (mention keys, authors), taken in one
        sorted order so writers of overlapping batches queue instead of racing, and never
        deadlock among themselves. PostgreSQL advisory locks, released at commit or rollback;
        on SQLite `begin_write` already holds the one write lock."""
        if self.binder.name == "sqlite":
            return
        ids = sorted({int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(),
                                     "big", signed=True) for k in keys})
        if ids:
            self.conn.exec_driver_sql(
                "SELECT count(pg_advisory_xact_lock(k)) FROM "
                "(SELECT unnest(%(ids)s::bigint[]) AS k ORDER BY 1) AS sorted_keys",
                {"ids": ids})

    @functools.cached_property
    def notifications(self) -> Bound:
        """Notifications, deliveries, preferences and log cursors (notifications.py)."""
        from escapevelocity.adapters.store import notifications
        return Bound(notifications, self.conn)

    @functools.cached_property
    def webhooks(self) -> Bound:
        """The outgoing webhook outbox (webhooks.py)."""
        from escapevelocity.adapters.store import webhooks
        return Bound(webhooks, self.conn)

    @functools.cached_property
    def kpis(self) -> Bound:
        """The KPI rollups and the live reads of reports and the wall (kpis.py)."""
        from escapevelocity.adapters.store import kpis
        return Bound(kpis, self.conn)

    def count(self, table: str) -> int:
        """Rows in `table` (workspace status lines and tests)."""
        return self.conn.execute(sa.select(sa.func.count())
                                 .select_from(t.metadata.tables[table])).scalar_one()


class SqlStore:
    """A workspace's database: hands out transactions (`begin`), migrates, closes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._binder = Binder(self.engine.dialect)
        # Called after a transaction that appended events has committed: the scale-out
        # deployment tells other replicas' live views through NATS (adapters/bus/jetstream).
        self.on_commit: list[Callable[[], None]] = []

    @contextmanager
    def begin(self) -> Iterator[Tx]:
        """A transaction: committed when the block ends, rolled back if it raises."""
        with self.engine.begin() as conn:
            tx = Tx(conn, self._binder)
            yield tx
        if tx.appended:
            self._committed()

    def _committed(self) -> None:
        for hook in self.on_commit:
            with contextlib.suppress(Exception):  # a notice is best effort: the commit stands
                hook()

    @contextmanager
    def begin_write(self) -> Iterator[Tx]:
        """A transaction that will write. On SQLite it takes the write lock first (BEGIN
        IMMEDIATE): a deferred transaction that read and then writes after another writer
        committed fails at once (a stale snapshot; busy_timeout does not help), so concurrent
        ingests would fail instead of queueing. It is also the only SQLite transaction whose
        reads hold anything: in `begin` the driver starts the transaction at the first write,
        so a read meant to lock (FOR UPDATE on PostgreSQL: a log reader's watermark, the
        playbook versions) is not even in it. PostgreSQL: the same as `begin`."""
        if self.dialect != "sqlite":
            with self.begin() as tx:
                yield tx
            return
        with self.engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            tx = Tx(conn, self._binder)
            try:
                yield tx
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        if tx.appended:
            self._committed()

    def migrate(self) -> None:
        migrate(self.engine)

    def close(self) -> None:
        self.engine.dispose()
