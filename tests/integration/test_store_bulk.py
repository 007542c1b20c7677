"""The store's bulk paths (DBAPI executemany) read back exactly as SQLAlchemy wrote before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import cases as projection
from escapevelocity.domain import events as ev

T0 = datetime(2026, 11, 20, 13, 0, 0, 123456, tzinfo=UTC)


def _case(case_id: str, handle: str, channel: str = "twitter") -> dict:
    opened = ev.make(case_id, ev.OPENED, T0, ev.SYSTEM,
                   {"mention": f"{channel}:{case_id}", "author": handle, "channel": channel,
                    "title": "hello", "mention_at": T0 - timedelta(minutes=3)})
    decided = ev.make(case_id, ev.DECIDED, T0, ev.SYSTEM, {
        "decision": {"track": "support", "team": "care", "priority": "p2", "respond": True,
                     "sla_minutes": 30, "rule_id": "r", "playbook_version": "v"},
        "signals": {"situation": "complaint", "sentiment_label": "negative"}})
    return projection.replay(case_id, [opened, decided])


def test_bulk_cases_mentions_and_optimistic_updates(db_url):
    store = SqlStore(db_url)
    store.migrate()
    try:
        a, b = _case("ca", "kim"), _case("cb", "lee", channel="facebook")
        with store.begin() as tx:
            tx.cases.insert([a, b])
            tx.mentions.insert_rows_ignoring([
                ("twitter", "1", "ca", "kim", T0, T0, "{}", "{}", False),
                ("facebook", "1", "cb", "lee", T0, T0, "{}", "{}", False)])
            tx.events.append([ev.make("ca", ev.NOTE_ADDED, T0, "ana", {"text": "x"})])
        with store.begin() as tx:
            got = tx.cases.get_many(["ca", "cb"])
            assert got["ca"] == a and got["cb"] == b  # datetimes, booleans, None round-trip
            assert tx.mentions.case_ids([("twitter", "1"), ("facebook", "1"),
                                              ("twitter", "2")]) == {
                "twitter:1": "ca", "facebook:1": "cb"}
            assert set(tx.mentions.case_ids([("twitter", "1"), ("email", "1")])) == {
                "twitter:1"}
            assert tx.cases.author_cases(
                {("twitter", "kim"), ("twitter", "lee"), ("facebook", "lee")},
                T0 - timedelta(hours=1))[0] == {("twitter", "kim"): "ca", ("facebook", "lee"): "cb"}
            assert tx.cases.author_cases({("twitter", "kim")}, T0)[0] == {}
            [note] = tx.events.stream("ca")
            assert note.at == T0 and isinstance(note, ev.NoteAdded) and note.text == "x"
        bumped = projection.replace(got["ca"], version=got["ca"].version + 1, mention_count=2)
        with store.begin() as tx:
            assert tx.cases.update_many([(bumped, got["ca"].version)])
        stale = projection.replace(got["cb"], version=9)
        with store.begin() as tx:  # one stale version: the whole write reports failure
            assert not tx.cases.update_many([(stale, 99)])
        with store.begin() as tx:
            assert tx.cases.get_many(["ca"])["ca"].mention_count == 2
    finally:
        store.close()
