"""Instants from a clock in another time zone are stored as UTC, so they compare and sort
correctly against UTC instants on SQLite (text) and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from escapevelocity.adapters.store import SqlStore, schema


def test_a_london_time_compares_as_the_same_instant(db_url):
    store = SqlStore(db_url)
    store.migrate()
    london = datetime(2026, 5, 22, 19, 0, tzinfo=ZoneInfo("Europe/London"))  # 18:00 UTC
    with store.begin() as tx:
        tx.documents.put("when", "x", london)
        d = schema.documents.c
        before = datetime(2026, 5, 22, 18, 30, tzinfo=UTC)
        found = tx.conn.execute(sa.select(d.name).where(d.updated_at < before)).all()
        stored = tx.conn.execute(sa.select(d.updated_at).where(d.name == "when")).scalar_one()
    assert [r[0] for r in found] == ["when"]
    assert stored.replace(tzinfo=stored.tzinfo or UTC) == london
    store.close()
