"""PostgreSQL's bulk path writes new events and cases through COPY's text format
(adapters/store/bulk_pg.py): hostile text (tabs, newlines, backslashes, COPY's own markers)
must come back exactly as sent, on both databases."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from escapevelocity.domain import cases as projection
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services.ingest import ingest_batch

NASTY = ("tab\there\nnew line\r\nback\\slash \\N \\. \\\\N end\\\n\\.\n"
         "\"quotes\" 'single' é 漢字 🔥 \u2028 <script>x</script>")


def test_hostile_text_comes_back_exactly_through_the_bulk_path(workspace, clock):
    m = Mention(source_id="hostile-1", channel="twitter", text=NASTY,
                author=Author(handle="\\N"), created_at=clock.now() - timedelta(minutes=1))
    reply = Mention(source_id="hostile-2", channel="twitter", text="again\t\\N",
                    author=Author(handle="\\N"), created_at=clock.now(),
                    in_reply_to="hostile-1")
    report = ingest_batch(workspace.store, workspace.triager(), clock.now(), [m])
    ingest_batch(workspace.store, workspace.triager(), clock.now(), [reply])
    case_id = report.case_ids[0]
    with workspace.store.begin() as tx:
        case = tx.cases.get(case_id)
        events = tx.events.stream(case_id)
        rows = tx.mentions.of_case(case_id)
    assert case.title == NASTY[:projection.TITLE_CHARS]
    assert case.author_handle == "\\N" and case.mention_count == 2
    assert events[0].title == NASTY[:projection.TITLE_CHARS]
    assert [msgspec.json.decode(r.body, type=Mention).text for r in rows] == [NASTY,
                                                                              "again\t\\N"]
    assert projection.replay(case_id, events) == case


def test_a_key_stored_behind_the_plans_back_is_replanned_not_doubled(workspace, clock,
                                                                     monkeypatch):
    """Ingest writes the mentions it found not stored without a per-row conflict check (COPY
    on PostgreSQL). When a writer outside the key locks stored one of them first (here: the
    first read of the batch misses a stored key), the unique index refuses the batch, it
    rolls back and is planned again: counted as a duplicate, never a second case."""
    from escapevelocity.adapters.store.mentions import Mentions

    first = Mention(source_id="dup-1", channel="twitter", text="my order never came",
                    author=Author(handle="ana_b"), created_at=clock.now())
    other = Mention(source_id="dup-2", channel="twitter", text="still waiting on support",
                    author=Author(handle="bo_c"), created_at=clock.now())
    ingest_batch(workspace.store, workspace.triager(), clock.now(), [first])
    real = Mentions.case_ids
    reads: list[int] = []

    def stale_once(self, keys):
        found = real(self, keys)
        reads.append(len(found))
        return {} if len(reads) == 1 else found

    monkeypatch.setattr(Mentions, "case_ids", stale_once)
    report = ingest_batch(workspace.store, workspace.triager(), clock.now(), [first, other])
    assert reads[0] == 1 and len(reads) == 2  # the stale plan failed, the second one held
    assert (report.duplicates, report.opened) == (1, 1)
    with workspace.store.begin() as tx:
        assert tx.count("mentions") == 2 and tx.count("cases") == 2
        assert tx.conn.exec_driver_sql(
            "SELECT count(*) FROM events WHERE kind = 'opened'").scalar_one() == 2
