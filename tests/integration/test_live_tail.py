"""The live stream's cursor never skips a change that commits late (adapters/bus/feed.py
`Tail`). On PostgreSQL seq is handed out at insert, not at commit: with two writers (two
workers, a worker and a member's reply on a replica) a higher seq can become visible first."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from escapevelocity.adapters.bus import Change, LogTailFeed, Tail
from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _reply(stream: str):
    return ev.make(stream, ev.REPLIED, T0, "ana", {"text": "on it", "visibility": "public"})


@pytest.mark.postgres
def test_a_change_committed_late_with_a_lower_seq_is_still_told(pg_url):
    store = SqlStore(pg_url)
    store.migrate()
    with store.begin() as tx:
        start = tx.events.last_seq()
    tail, naive = Tail(LogTailFeed(store), start), LogTailFeed(store)
    told: list[str] = []
    with store.begin() as slow:  # a worker's batch: its seq is taken, its commit comes later
        slow.events.append([_reply("c-late-slow")])
        with store.begin() as fast:
            fast.events.append([_reply("c-late-fast")])
        told += [c.stream for c in tail.poll()]
        seen_by_naive = naive.after(start)
        assert tail.cursor == start  # the page may not resume past the missing seq
    told += [c.stream for c in tail.poll()]
    assert sorted(told) == ["c-late-fast", "c-late-slow"]  # each told once
    # the cursor that only moves forward would have missed the slow one for good
    assert [c.stream for c in naive.after(seen_by_naive[-1].seq)] == []
    assert tail.cursor == seen_by_naive[-1].seq
    store.close()


class ListFeed:
    def __init__(self) -> None:
        self.changes: list[Change] = []

    def after(self, seq: int, limit: int = 2000) -> list[Change]:
        return [c for c in self.changes if c.seq > seq][:limit]


def test_a_seq_that_never_commits_holds_the_cursor_only_for_a_while():
    feed, now = ListFeed(), [0.0]
    tail = Tail(feed, 10, clock=lambda: now[0])
    feed.changes = [Change(s, f"c{s}", "replied", "care") for s in (11, 13, 14)]  # 12 rolled back
    assert [c.seq for c in tail.poll()] == [11, 13, 14] and tail.cursor == 11
    assert tail.poll() == [] and tail.cursor == 11  # read again, told nothing twice
    now[0] = Tail.GAP_SECONDS + 1
    feed.changes.append(Change(15, "c15", "replied", "care"))
    assert [c.seq for c in tail.poll()] == [15] and tail.cursor == 15


def test_a_wide_hole_is_passed_over_and_new_changes_flow_past_an_open_one():
    feed, now = ListFeed(), [0.0]
    tail = Tail(feed, 0, clock=lambda: now[0])
    feed.changes = [Change(1, "c1", "replied", "care"), Change(3, "c3", "replied", "care")]
    assert [c.seq for c in tail.poll(limit=2)] == [1, 3] and tail.cursor == 1  # 2 is open
    feed.changes += [Change(s, f"c{s}", "replied", "care") for s in range(4, 10)]
    assert [c.seq for c in tail.poll(limit=2)] == [4, 5]  # not held back by the hole at 2
    far = 5 + Tail.MAX_SPAN + 10
    feed.changes = [c for c in feed.changes if c.seq != 2 and c.seq <= 9]
    feed.changes.append(Change(far, "cfar", "replied", "care"))
    assert [c.seq for c in tail.poll()] == [6, 7, 8, 9, far]
    now[0] = Tail.GAP_SECONDS + 1
    assert tail.poll() == [] and tail.cursor == far
