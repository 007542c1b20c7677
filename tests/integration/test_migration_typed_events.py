"""Migration 0008_typed_events on a log written by the previous release: the `case_id` column
becomes `stream`, incident notes' `kind` key becomes `note_kind`, and every old row decodes
into its typed event; the downgrade puts the old shape back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.resources import files

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
OLD_ROWS = [  # (case_id, kind, actor, data) as the releases before 0008 stored them
    ("c0123456789ab", "opened", "system", {"mention": "twitter:1", "author": "kim",
                                           "channel": "twitter", "title": "help",
                                           "mention_at": "2026-11-20T13:59:00Z"}),
    ("c0123456789ab", "claimed", "ana", {"until": "2026-11-20T14:10:00+00:00"}),
    ("c0123456789ab", "replied", "ana", {"text": "sorry", "template": None,
                                         "visibility": "public", "dry_run": True}),
    ("incident:20261120-1400", "incident_note", "sam", {"text": "hold", "kind": "statement"}),
    ("playbook:2", "playbook_saved", "lee", {"name": "default", "note": ""}),
]


def _config() -> Config:
    here = files("escapevelocity") / "migrations"
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))
    return cfg


# The revision 0008 follows (the lead chains migrations in the order they land).
BEFORE = ScriptDirectory.from_config(_config()).get_revision("0008_typed_events").down_revision


def _alembic(store: SqlStore, verb: str, revision: str) -> None:
    cfg = _config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, verb)(cfg, revision)


def _columns(store: SqlStore) -> set[str]:
    return {c["name"] for c in sa.inspect(store.engine).get_columns("events")}


def test_0008_renames_the_stream_and_old_logs_decode(db_url):
    store = SqlStore(db_url)
    try:
        store.migrate()
        _alembic(store, "downgrade", BEFORE)
        assert "case_id" in _columns(store) and "stream" not in _columns(store)
        old = sa.table("events", sa.column("case_id"), sa.column("kind"), sa.column("at"),
                       sa.column("actor"), sa.column("data"))
        with store.engine.begin() as conn:
            conn.execute(old.insert(), [{"case_id": s, "kind": k, "at": T0, "actor": a,
                                         "data": json.dumps(d)} for s, k, a, d in OLD_ROWS])

        store.migrate()
        assert "stream" in _columns(store) and "case_id" not in _columns(store)
        with store.begin() as tx:
            opened, claimed, replied = tx.events.stream("c0123456789ab")
            [note] = tx.events.stream("incident:20261120-1400")
            [saved] = tx.events.stream("playbook:2")
            assert tx.events.case_streams() == ["c0123456789ab"]
        assert isinstance(opened, ev.Opened) and opened.author == "kim"
        assert opened.mention_at == datetime(2026, 11, 20, 13, 59, tzinfo=UTC)
        assert isinstance(claimed, ev.Claimed) and claimed.until == T0.replace(minute=10)
        assert isinstance(replied, ev.Replied) and replied.text == "sorry"
        assert isinstance(note, ev.IncidentNote) and note.note_kind == "statement"
        assert isinstance(saved, ev.PlaybookSaved) and saved.name == "default"
        assert ev.stream_kind(note.stream) == ev.INCIDENT

        _alembic(store, "downgrade", BEFORE)
        with store.engine.begin() as conn:
            rows = conn.execute(sa.select(old.c.case_id, old.c.kind, old.c.data)).all()
        back = {(s, k): json.loads(d) for s, k, d in rows}
        assert back[("incident:20261120-1400", "incident_note")] == {"text": "hold",
                                                                     "kind": "statement"}
        assert len(back) == len(OLD_ROWS)
    finally:
        store.migrate()  # leave the shared PostgreSQL database at the newest schema
        store.close()
