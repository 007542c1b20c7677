"""Shared fixtures: a real SQLite file and a real PostgreSQL database for every store test.

PostgreSQL tests skip locally when the server is absent, but fail loudly when CI is set.

Seeding the demo workspace (migrations, organisation, playbook compile, a password per member)
cost more than most tests' bodies, so it is done once per session and per database kind and
copied into each test: SQLite copies the seeded file, PostgreSQL (one database per session,
emptied per test) copies the seeded rows back from a snapshot schema. Passwords are hashed
with a tiny scrypt factor in tests only (`services.workspace.SCRYPT_N`; the hash records it).

The session's PostgreSQL database commits without waiting for the WAL flush
(synchronous_commit = off, set on the database for test connections only). What a test can see
is the same; only a crash of the server could lose the last commits of a throwaway database.
On this shared machine, copying the seeded rows back took 0.17-0.28 s with the flush and
0.07-0.10 s without, and every store command of a test commits.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from needs import IN_CI, require  # noqa: F401  (tests/ is on sys.path, as its conftest dir)
from web_kit import NOW, PASSWORD  # one text of both: test modules import them from web_kit

from escapevelocity.adapters.store import schema
from escapevelocity.domain.clock import FixedClock

PG_ADMIN_URL = os.environ.get("EV_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

SNAPSHOT = "ev_seeded"  # PostgreSQL schema holding the seeded rows

# pytest-xdist workers start with COLUMNS=80 in their environment, and a Rich console made at
# import (the CLI modules' `out`) keeps the width it sees then, so a CLI test's own COLUMNS
# (CliRunner env) was ignored and long paths wrapped in its output. Gone before the test
# modules import the CLI.
os.environ.pop("COLUMNS", None)

# One BLAS thread per test process. OpenBLAS starts a thread per core, and its threads spin
# while they wait for work: with two pytest-xdist workers on two cores, every numpy product (the
# MiniLM embedding in numpy, the learned models) had each worker's threads spinning against the
# other worker's, ~2.5x the CPU-s and ~2x the wall of one thread (tests/unit/
# test_signals_learning.py's batch test: 5.6-7.0 CPU-s, 2.5 with one thread). Set before
# anything imports numpy (OpenBLAS reads it once, at load; nothing imported above does); a
# value already set is kept.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def pytest_configure(config) -> None:
    from escapevelocity.services import workspace

    workspace.SCRYPT_N = 2**4  # tests only; production keeps 2**14 (see SCRYPT_N)


def pytest_sessionfinish(session, exitstatus) -> None:
    """The scaled-mode modules' databases are dropped in the background (scale_kit): all
    gone before the session ends."""
    scale_kit = sys.modules.get("scale_kit")
    if scale_kit is not None:
        scale_kit.finish_drops()


def pytest_collection_modifyitems(config, items) -> None:
    """Browser tests last: their session-wide Chromium keeps Playwright's event loop running
    in the main thread, where any later test's asyncio.run() (the NATS bus, say) would fail.

    With pytest-xdist (`make test JOBS=2`: --dist loadfile --no-loadscope-reorder) each file
    goes whole to one worker (its module fixtures, a nats-server or a drill, built once), in
    this order: every other file is handed out before the first browser file, so a worker
    that starts a browser file runs only browser files after it. (Not --dist loadgroup: with
    pytest 9, pytest-xdist 3.8 cannot rename the tests into their groups, and ignores them.)

    Within each of the two parts the longest files go first (HEAVY), so what is handed out last
    are short files and the two workers finish together: a long file handed out last would keep
    one worker busy for minutes while the other waits.
    """
    here = Path(__file__).parent
    rank = {here / name: n for n, name in enumerate(HEAVY)}

    def order(item) -> tuple[bool, int]:
        path = Path(str(item.fspath))
        return path.is_relative_to(here / "browser"), rank.get(path, len(HEAVY))

    items.sort(key=order)  # stable: each file's tests stay together and in their order


# The longest files, longest first: seconds of one file on one worker in a full `make test
# JOBS=2` (session 9, a machine at load ~15, so ~5x what an idle one takes). Re-measure with
# `--junitxml` when a file grows; a file missing here only runs later.
HEAVY = (
    "integration/test_web_permissions.py",  # 302 s
    "unit/test_hotpath.py",  # 207 s
    "unit/test_playbook_properties.py",  # 146 s
    "integration/test_access_routes.py",  # 142 s
    "unit/test_plans.py",  # 136 s
    "integration/test_reports.py",  # 125 s
    "unit/test_eval_cli.py",  # ~115 s (session 10: 196 s scaled by its CPU, 17 -> 10 s)
    "unit/test_signals_learning.py",  # 107 s
    "integration/test_drill_run.py",  # 104 s
    "integration/test_web_drill.py",  # ~65 s (session 10: 189 s scaled by its CPU, 12 -> 4.6 s)
    "browser/test_everywhere.py",  # ~165 s: every page through axe, two widths
    # session 10 (branch browserspeed) cut the browser files' waiting; their figures here are
    # the old ones scaled by what each file took alone before and after (median of runs)
    "browser/test_channel_request.py",  # ~47 s
    "browser/test_reports_wall.py",  # ~47 s (not measured before; ~2.2x its time alone)
    "browser/test_find_and_act.py",  # ~40 s
    "browser/test_live_inbox.py",  # ~38 s
)




@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = f"ev_test_{uuid.uuid4().hex[:8]}"
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        require(False, f"PostgreSQL at 127.0.0.1:5432 ({exc.__class__.__name__})")
        return
    with admin.connect() as conn:  # no WAL flush wait per commit (see the module docstring)
        conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    if url in _ENGINES:
        _ENGINES.pop(url).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


_ENGINES: dict[str, sa.Engine] = {}


def _engine(url: str) -> sa.Engine:
    """One engine per session database for the fixtures' own work (truncate, copy)."""
    if url not in _ENGINES:
        _ENGINES[url] = sa.create_engine(url)
    return _ENGINES[url]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ev.db'}"
    url = request.getfixturevalue("pg_url")
    _empty_pg(url)
    return url


def _empty_pg(url: str) -> None:
    """Every table of the schema emptied and its ids restarted, as TRUNCATE ... RESTART
    IDENTITY would, but by DELETE: TRUNCATE makes new files for each of ~50 tables and their
    indexes, ~0.3-0.8 s a test of file work, where deleting the few hundred rows a test leaves
    takes ~0.05 s. Foreign keys (and triggers) are off for the delete only, so order is free."""
    with _engine(url).begin() as conn:
        present = set(sa.inspect(conn).get_table_names())
        tables = [t.name for t in schema.metadata.sorted_tables if t.name in present]
        if not tables:
            return
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for table in reversed(tables):
            conn.execute(sa.text(f'DELETE FROM "{table}"'))
        conn.execute(sa.text(
            "SELECT setval(pg_get_serial_sequence(quote_ident(table_name), column_name), 1, false) "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "AND (column_default LIKE 'nextval%' OR is_identity = 'YES') "
            "AND table_name = ANY(:tables)"), {"tables": tables})


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A SQLite file with the schema at the migrations' heads and nothing in it, made once per
    session: running every migration on a new file costs ~0.15 CPU-s."""
    from escapevelocity.adapters.store import SqlStore

    path = tmp_path_factory.mktemp("migrated") / "ev.db"
    store = SqlStore(f"sqlite:///{path}")
    store.migrate()
    store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:  # all of it in the one file
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(scope="session")
def seeded_sqlite(tmp_path_factory, migrated_sqlite) -> Path:
    """A SQLite file with the demo workspace seeded at NOW, made once per session."""
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    path = tmp_path_factory.mktemp("seeded") / "ev.db"
    shutil.copyfile(migrated_sqlite, path)
    ws = Workspace.open(f"sqlite:///{path}", FixedClock(NOW))
    seed_demo(ws, password=PASSWORD)
    ws.store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:  # all of it in the one file
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def sqlite_copy(request) -> Callable[[Path, str], str]:
    """`sqlite_copy(path, "migrated" or "seeded")`: a copy of the session's empty migrated
    file, or of its demo workspace seeded at NOW (members' password PASSWORD), at `path`; its
    URL. For tests that make a database of their own where the fixtures' would not do."""
    def copy(path: Path, kind: str = "seeded") -> str:
        assert not path.exists(), path
        shutil.copyfile(request.getfixturevalue(f"{kind}_sqlite"), path)
        return f"sqlite:///{path}"
    return copy


def _restore_seeded_pg(url: str) -> bool:
    """Copy the snapshot's rows into the (just truncated) tables; False when there is none."""
    with _engine(url).begin() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM information_schema.schemata "
                                    "WHERE schema_name = :s"), {"s": SNAPSHOT}).first():
            return False
        for t in schema.metadata.sorted_tables:
            conn.execute(sa.text(f'INSERT INTO {t.name} SELECT * FROM {SNAPSHOT}."{t.name}"'))
        for table, column in conn.execute(sa.text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND (column_default LIKE 'nextval%' "
                "OR is_identity = 'YES')")).all():
            conn.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"))
    return True


def _snapshot_seeded_pg(url: str) -> None:
    with _engine(url).begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {SNAPSHOT} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {SNAPSHOT}"))
        for t in schema.metadata.sorted_tables:
            conn.execute(sa.text(f'CREATE TABLE {SNAPSHOT}."{t.name}" AS TABLE {t.name}'))


@pytest.fixture
def workspace(request, db_url, clock):
    """The demo workspace (members' password: PASSWORD) in a fresh database of each kind."""
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    ws = None
    if clock.now() == NOW:  # the seeded copy is only the same when the clock is
        if db_url.startswith("sqlite:///"):
            path = Path(db_url.removeprefix("sqlite:///"))
            if not path.exists():
                shutil.copyfile(request.getfixturevalue("seeded_sqlite"), path)
                ws = Workspace.open(db_url, clock, migrate=False)
        elif _restore_seeded_pg(db_url):
            ws = Workspace.open(db_url, clock, migrate=False)
    if ws is None:
        ws = Workspace.open(db_url, clock)
        seed_demo(ws, password=PASSWORD)
        if not db_url.startswith("sqlite") and clock.now() == NOW:
            _snapshot_seeded_pg(db_url)
    yield ws
    ws.store.close()


@pytest.fixture
def app(workspace):
    """The web app over the demo workspace, clock jobs off (tests move the clock themselves).
    Sign in with `web_kit.login(app, member)`. A module needing other settings overrides it."""
    from escapevelocity.config import Settings
    from escapevelocity.web.app import create_app

    settings = Settings(database_url="unused", secret_key="s" * 32, max_body_bytes=200_000,
                        max_batch=50)
    return create_app(workspace, settings, tick_seconds=None)

