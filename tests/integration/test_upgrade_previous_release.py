"""An upgrade from the previous release's PostgreSQL schema with its data in it (issue 20).

tests/data/release_0008_pg.sql.gz holds the rows the previous release (head revision
0008_typed_events, commit 675c850) wrote: its own code seeded the demo workspace, triaged 400
generated mentions through its ingest path, made an API token and signed a member in; the rows
were then dumped with `pg_dump --data-only --column-inserts`. The test builds that schema with
the migrations up to 0008, loads the rows, upgrades to head and checks that nothing was lost
and that the new parts work on the old data: search finds old mentions by their words, the KPI
rollups agree with the log (as the migration built them and as `ev workspace rebuild` does),
every case still equals the replay of its events, and the old token still posts mentions.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from needs import require
from test_migration_typed_events import _config

pytestmark = pytest.mark.postgres
PG_ADMIN = os.environ.get("EV_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
DUMP = Path(__file__).parent.parent / "data" / "release_0008_pg.sql.gz"
WRITTEN_AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # the clock the old release ran on
OLD_TOKEN = "ev_lmWKgzHc1Xt9cemGJo_qYJtIYzYqQI8U"  # what it printed once, as it does
OLD_COUNTS = {"cases": 335, "events": 1070, "mentions": 398, "api_tokens": 1, "sessions": 1}


@pytest.fixture(scope="module")
def old_db() -> Iterator[str]:
    try:
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        name = f"ev_upgrade_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        require(False, f"PostgreSQL at 127.0.0.1:5432 ({exc.__class__.__name__})")
        return
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _alembic(url: str, revision: str) -> None:
    cfg = _config()  # the one alembic set-up of the migration tests
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def _counts(conn: sa.Connection) -> dict[str, int]:
    return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in OLD_COUNTS}


def test_upgrade_from_the_previous_release_keeps_everything(old_db):
    from fastapi.testclient import TestClient

    from escapevelocity.adapters.store import signin
    from escapevelocity.config import Settings
    from escapevelocity.domain import cases as projection
    from escapevelocity.domain import search
    from escapevelocity.domain.clock import FixedClock
    from escapevelocity.services.cases import rebuild_projection
    from escapevelocity.services.intake import Intake
    from escapevelocity.services.workspace import Workspace
    from escapevelocity.web.app import create_app

    _alembic(old_db, "0008_typed_events")  # the previous release's schema, exactly
    with psycopg.connect(old_db.replace("+psycopg", ""), autocommit=True) as raw:
        raw.execute(gzip.decompress(DUMP.read_bytes()).decode())  # its rows, as it wrote them
    engine = sa.create_engine(old_db)
    with engine.connect() as conn:
        assert _counts(conn) == OLD_COUNTS
        before = {
            "events": conn.execute(sa.text("SELECT seq, stream, kind, data FROM events "
                                           "ORDER BY seq")).all(),
            "mentions": conn.execute(sa.text("SELECT channel, source_id, case_id, body "
                                             "FROM mentions ORDER BY id")).all(),
            "cases": set(conn.execute(sa.text("SELECT id FROM cases")).scalars()),
        }

    ws = Workspace.open(old_db.replace("+psycopg", ""), FixedClock(WRITTEN_AT))  # to head
    with engine.connect() as conn:
        assert _counts(conn) == OLD_COUNTS  # every case, event, mention, token, session
        assert conn.execute(sa.text("SELECT seq, stream, kind, data FROM events "
                                    "ORDER BY seq")).all() == before["events"]
        assert conn.execute(sa.text("SELECT channel, source_id, case_id, body FROM mentions "
                                    "ORDER BY id")).all() == before["mentions"]
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        inspector = sa.inspect(conn)
        tables = set(inspector.get_table_names())
        mention_ix = {i["name"] for i in inspector.get_indexes("mentions")}
        case_ix = {i["name"] for i in inspector.get_indexes("cases")}
        token = conn.execute(sa.text("SELECT kind, scopes FROM api_tokens")).one()
    assert version == ScriptDirectory.from_config(_config()).get_current_head()
    assert {"kpi_cells", "kpi_counts", "saved_views", "author_links", "api_idempotency",
            "second_factors"} <= tables
    assert "ix_mentions_words" not in mention_ix  # 0024: the words moved to mention_terms
    assert "ix_mention_terms_words" in {i["name"] for i in sa.inspect(engine).get_indexes(
        "mention_terms")} and "mention_terms" in tables
    assert {"ix_cases_team_opened", "ix_cases_state_due", "ix_cases_opened"} <= case_ix
    assert tuple(token) == ("service", "ingest")  # a pre-scope token keeps its one power

    # search finds the old mentions by their words (the tsvector was filled for old rows)
    texts = {(c, s): json.loads(b).get("text", "") for c, s, _, b in before["mentions"]}
    word = "router"
    expected = {k for k, text in texts.items() if re.search(rf"\b{word}\b", text.lower())}
    assert expected, "the fixture has no mention with the word: the check would not check"
    with ws.store.begin() as tx:
        teams = [t.id for t in tx.org.load().teams]
        rows, _, _ = tx.search.mentions(search.Query(text=word, show="mentions",
                                                         per_page=500), teams, WRITTEN_AT)
    assert {(r["channel"], r["source_id"]) for r in rows} == expected

    # the rollups the migration built from the old cases agree with the log, and with what
    # `ev workspace rebuild` makes of it
    def kpis() -> tuple[list, list]:
        with engine.connect() as conn:
            return (conn.execute(sa.text("SELECT * FROM kpi_cells ORDER BY 1,2,3,4,5,6,7"))
                    .all(), conn.execute(sa.text("SELECT * FROM kpi_counts ORDER BY 1,2,3"))
                    .all())

    migrated = kpis()
    with ws.store.begin() as tx:
        streams = tx.events.case_streams()
        logged = tx.events.streams(streams)
        current = tx.cases.get_many(streams)
    assert set(streams) == before["cases"]
    for case_id in streams:  # every old case equals the replay of its old events
        assert projection.replay(case_id, logged[case_id]) == current[case_id], case_id
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT sum(cases) FROM kpi_cells")).scalar() == len(streams)
    assert rebuild_projection(ws.store) == len(streams)
    assert kpis() == migrated

    # the old token still posts mentions; the old session is still a session
    app = create_app(ws, Settings(database_url=ws.store.url, secret_key="u" * 32),
                     tick_seconds=None, intake=Intake(ws))
    with TestClient(app) as client:
        r = client.post("/api/mentions", headers={"Authorization": f"Bearer {OLD_TOKEN}"},
                        json=[{"channel": "twitter", "source_id": "after-upgrade-1",
                               "author": {"handle": "kim"},
                               "text": "@Orbit the router is down again",
                               "created_at": "2026-12-01T08:59:00Z"}])
        assert r.status_code == 202, r.text
        assert client.post("/api/mentions", headers={"Authorization": "Bearer ev_wrong"},
                           json=[]).status_code == 401
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM mentions WHERE source_id = "
                                    "'after-upgrade-1'")).scalar() == 1
        [session] = conn.execute(sa.text("SELECT id_hash FROM sessions")).scalars()
        assert signin.live_session(conn, session, WRITTEN_AT) is not None
    ws.store.close()
    engine.dispose()
