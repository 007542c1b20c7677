"""Shared fixtures: a real SQLite file and a real PostgreSQL database for every store test.

PostgreSQL tests skip locally when the server is absent, but fail loudly when CI is set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from escapevelocity.adapters.store import schema
from escapevelocity.domain.clock import FixedClock

PG_ADMIN_URL = os.environ.get("EV_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IN_CI = bool(os.environ.get("CI"))


def require(condition: bool, what: str) -> None:
    """Skip locally, fail in CI: service-backed tests must run there."""
    if not condition:
        if IN_CI:
            pytest.fail(f"{what} is required when CI is set", pytrace=False)
        pytest.skip(f"{what} not available")


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
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 11, 20, 14, 0, tzinfo=UTC))  # a Friday afternoon


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ev.db'}"
    url = request.getfixturevalue("pg_url")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        tables = [t for t in schema.metadata.sorted_tables if sa.inspect(conn).has_table(t.name)]
        if tables:
            conn.execute(sa.text("TRUNCATE " + ", ".join(t.name for t in tables)
                                 + " RESTART IDENTITY"))
    engine.dispose()
    return url


@pytest.fixture
def workspace(db_url, clock):
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    ws = Workspace.open(db_url, clock)
    seed_demo(ws, password="correct horse battery")
    yield ws
    ws.store.close()
