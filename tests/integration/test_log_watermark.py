"""Notifications and the CRM webhook outbox do not lose an event that commits late, and handle
nothing twice (services/logreader.py, domain/watermark.py).

On PostgreSQL seq comes from a sequence at insert, not at commit: a worker's transaction that
took seq n and commits after another took and committed n+1 must still be read. The readers'
persisted cursor is the low watermark; the events above it already handled are not handled
again; a hole whose transaction rolled back is given up after logreader.GAP_SECONDS."""

from __future__ import annotations

import pytest
from engage_kit import open_case, with_admin
from notify_kit import Receiver

from escapevelocity.domain import events as ev
from escapevelocity.domain import watermark
from escapevelocity.services import logreader
from escapevelocity.services.notify import READER as NOTIFY
from escapevelocity.services.notify import Notifier
from escapevelocity.services.webhooks import READER as HOOKS
from escapevelocity.services.webhooks import Webhooks

SECRET = "s" * 32


@pytest.fixture
def ws(workspace):
    with_admin(workspace)
    return workspace


def note_and_resolve(case_id: str, who: str, at) -> list[ev.Event]:
    """A note that tells `who` (a notification) and a resolution (a `case.resolved` webhook):
    neither kind moves a rollup counter, so two open writers do not wait on each other."""
    return [ev.make(case_id, ev.NOTE_ADDED, at, "ana", {"text": f"@{who} look",
                                                        "mentions": [who]}),
            ev.make(case_id, ev.RESOLVED, at, "ana", {"note": ""})]


def mentions_of(ws, member: str) -> list[str]:
    with ws.store.begin() as tx:
        return [n["stream"] for n in tx.notifications.latest(member, 500)
                if n["kind"] == "mention"]


def resolved(hook: Receiver) -> list[str]:
    return [hook.json(i)["case"]["id"] for i in range(len(hook.requests))
            if hook.json(i)["topic"] == "case.resolved"]


def marks(ws) -> dict[str, tuple[int, int]]:
    with ws.store.begin() as tx:
        return {r: (m.low, m.high) for r in (NOTIFY, HOOKS)
                for m in [tx.notifications.watermark(r)]}


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_an_event_committed_after_a_higher_seq_is_handled_once_by_both_readers(ws, clock):
    with Receiver() as hook:
        notifier = Notifier(ws.store, clock, {})
        hooks = Webhooks(ws.store, clock, hook.url, SECRET)
        slow_case, fast_case = open_case(ws, clock), open_case(ws, clock)
        notifier.sweep(), hooks.sweep()  # both readers past the set-up
        hooks.deliver()
        posted = len(hook.requests)
        with ws.store.begin() as slow:  # a worker's batch: seqs taken now, committed later
            slow.events.append(note_and_resolve(slow_case, "priya", clock.now()))
            with ws.store.begin() as fast:
                fast.events.append(note_and_resolve(fast_case, "omar", clock.now()))
            first = notifier.sweep(), hooks.sweep()
            hooks.deliver()
            assert first == (1, 1)  # the fast writer's events only: the slow ones are not visible
            assert mentions_of(ws, "omar") == [fast_case] and mentions_of(ws, "priya") == []
            held = marks(ws)
            # the persisted cursor stays below the slow writer's seqs, the fast ones are handled
            assert all(low < high for low, high in held.values()), held
            assert notifier.sweep() == 0 and hooks.sweep() == 0  # read again: nothing twice
        second = notifier.sweep(), hooks.sweep()
        hooks.deliver()
        assert second == (1, 1)  # the late events are handled now
        assert notifier.sweep() == 0 and hooks.sweep() == 0
        hooks.deliver()
    assert mentions_of(ws, "priya") == [slow_case] and mentions_of(ws, "omar") == [fast_case]
    assert sorted(resolved(hook)[-2:]) == sorted([slow_case, fast_case])
    assert len(hook.requests) == posted + 2  # each resolution posted exactly once
    assert all(low == high for low, high in marks(ws).values())  # no hole left


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_seq_that_never_commits_holds_the_cursor_only_for_the_gap(ws, clock):
    notifier = Notifier(ws.store, clock, {})
    cid = open_case(ws, clock)
    notifier.sweep()
    with pytest.raises(RuntimeError), ws.store.begin() as tx:  # seqs taken, then rolled back
        tx.events.append(note_and_resolve(cid, "priya", clock.now()))
        raise RuntimeError("the worker's batch failed")
    with ws.store.begin() as tx:
        tx.events.append(note_and_resolve(cid, "omar", clock.now()))
    assert notifier.sweep() == 1 and mentions_of(ws, "priya") == []
    low, high = marks(ws)[NOTIFY]
    assert high - low == 4  # the rolled-back pair and the two after it
    clock.advance(seconds=logreader.GAP_SECONDS - 1)
    assert notifier.sweep() == 0 and marks(ws)[NOTIFY] == (low, high)
    clock.advance(seconds=1)
    assert notifier.sweep() == 0 and marks(ws)[NOTIFY] == (high, high)  # given up


def test_a_reader_resumes_from_its_watermark_in_a_new_process(ws, clock):
    """SQLite and PostgreSQL: the watermark is in the store, not in the Notifier object."""
    cid = open_case(ws, clock)
    Notifier(ws.store, clock, {}).sweep()  # the case's assignment, say
    with ws.store.begin() as tx:
        tx.events.append(note_and_resolve(cid, "priya", clock.now()))
    assert Notifier(ws.store, clock, {}).sweep() == 1
    assert Notifier(ws.store, clock, {}).sweep() == 0
    assert mentions_of(ws, "priya") == [cid]
    low, high = marks(ws)[NOTIFY]
    assert low == high


def test_the_stored_watermark_keeps_its_holes_and_when_each_was_missed(ws):
    """A rolled-back batch is one run in the row, read back seq by seq (SQLite and PostgreSQL)."""
    from types import MappingProxyType

    missing = {**dict.fromkeys(range(101, 1101), 5.0), 1200: 7.5}
    mark = watermark.Watermark(100, 1300, MappingProxyType(missing))
    with ws.store.begin() as tx:
        tx.notifications.watermark("test-reader", start=50)
        tx.notifications.set_watermark("test-reader", mark)
    with ws.store.begin() as tx:
        assert tx.notifications.watermark("test-reader", lock=True) == mark
        tx.notifications.set_cursor("test-reader", 1300)  # an operator's reset: no hole left
    with ws.store.begin() as tx:
        assert tx.notifications.watermark("test-reader") == watermark.Watermark.at(1300)


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_two_processes_starting_a_reader_at_once_make_one_row(ws):
    """A replica's live stream and a worker may both be the first to run a reader."""
    import threading
    import time

    got: list = []

    def second() -> None:
        with ws.store.begin() as tx:  # waits on the first one's uncommitted row, then reads it
            got.append(tx.notifications.watermark("new-reader", lock=True, start=9))

    with ws.store.begin() as tx:
        first = tx.notifications.watermark("new-reader", lock=True, start=5)
        other = threading.Thread(target=second)
        other.start()
        time.sleep(0.5)
    other.join(10)
    assert first == watermark.Watermark.at(5) and got == [first]
