"""What the scaled-mode tests share: a nats-server of their own and a throwaway PostgreSQL
database with the demo workspace. Each module keeps its own module-scoped fixtures (their
names and lifetimes are the module's), built from these generators."""

from __future__ import annotations

import importlib.util
import os
import threading
import uuid
from collections.abc import Iterator

import sqlalchemy as sa
from needs import require

from escapevelocity.bench import natsd

PG_ADMIN = os.environ.get("EV_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def nats_server() -> Iterator[natsd.NatsServer]:
    """A nats-server on its own port and store directory (never the machine's shared one)."""
    require(natsd.available(), f"nats-server at {natsd.NATS_SERVER}")
    require(importlib.util.find_spec("nats") is not None, "the scale extra (nats-py)")
    server = natsd.NatsServer().start()
    yield server
    server.close()


def demo_database(prefix: str, password: str) -> Iterator[str]:
    """A new database `<prefix>_<hex>` seeded with the demo workspace; its URL; dropped after."""
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    try:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        require(False, f"PostgreSQL at 127.0.0.1:5432 ({exc.__class__.__name__})")
        return
    url = PG_ADMIN.rsplit("/", 1)[0].replace("+psycopg", "") + f"/{name}"
    ws = Workspace.open(url, SystemClock())
    seed_demo(ws, password=password)
    ws.store.close()
    yield url
    _drop_later(admin, name)


_DROPS: list[threading.Thread] = []


def _drop_later(admin: sa.Engine, name: str) -> None:
    """Drop a module's database in the background: dropping a seeded database took 1-3 s of
    PostgreSQL's I/O on this machine, which the next test file need not wait for. Every drop
    is waited for at the session's end (`finish_drops`, from tests/conftest.py)."""
    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    thread = threading.Thread(target=drop, name=f"drop {name}", daemon=True)
    thread.start()
    _DROPS.append(thread)


def finish_drops(timeout_s: float = 120.0) -> None:
    for thread in _DROPS:
        thread.join(timeout_s)
    _DROPS.clear()
