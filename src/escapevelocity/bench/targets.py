"""The databases a benchmark runs on: a SQLite file, and PostgreSQL when it is reachable.

The pages, reports and search benchmarks each time the same thing on both; this is where the
list is made, and where a PostgreSQL database made for one run is dropped again.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

PG_ADMIN = os.environ.get("EV_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@contextmanager
def targets(directory: str | Path, file: str, pg: bool | None, keep: str = ""
            ) -> Iterator[list[tuple[str, str]]]:
    """[("sqlite", url of `directory`/`file`), ("postgresql", url)]: the second only when `pg`
    is not False and the server answers. The PostgreSQL database is a new one, dropped on
    leaving, or with `keep` the database of that name, made when missing and kept (a cached
    fixture)."""
    out = [("sqlite", f"sqlite:///{Path(directory) / file}")]
    url = _database(keep or f"ev_bench_{Path(file).stem}_{os.getpid()}", fresh=not keep
                    ) if pg is not False else None
    if url:
        out.append(("postgresql", url))
    try:
        yield out
    finally:
        if url and not keep:
            _drop(url)


def _database(name: str, fresh: bool) -> str | None:
    """The URL of database `name` (made anew when `fresh`, else made only when missing), or
    None when PostgreSQL is not reachable."""
    try:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if fresh:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            if fresh or conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                     {"n": name}).first() is None:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception as exc:
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}): SQLite only")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def _drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
