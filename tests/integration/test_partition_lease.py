"""One partition, one worker at a time (issue 20, order per conversation), on a real
nats-server of our own: the consumer's `max_ack_pending` counts messages, so without the
partition lease a second worker fetches an author's later posts while the first still holds
the earlier ones. Two bus connections stand for two workers on one partition."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import scale_kit

from escapevelocity.bench import natsd

ACK_WAIT = 1.0  # the lease's TTL is this plus LEASE_MARGIN_S (1 s)


@pytest.fixture(scope="module")
def nats_server() -> Iterator[natsd.NatsServer]:
    yield from scale_kit.nats_server()


@pytest.fixture(autouse=True)
def short_ack_wait(monkeypatch) -> None:
    monkeypatch.setattr("escapevelocity.adapters.bus.jetstream.ACK_WAIT_S", ACK_WAIT)


async def _two(url: str):
    from escapevelocity.adapters.bus.jetstream import JetStream

    prefix = f"o{uuid.uuid4().hex[:8]}"
    one = await JetStream(url, prefix).connect()
    two = await JetStream(url, prefix).connect()
    return one, two


async def _post(js, *bodies: bytes) -> None:
    for body in bodies:
        await js.publish_raw(0, body)


def test_a_partition_is_worked_by_one_worker_until_it_acknowledges(nats_server):
    async def go() -> None:
        one, two = await _two(nats_server.url)
        try:
            await _post(one, b"a1", b"a2")
            first = await one.fetch(0, batch=10)  # partial: fewer waiting than the batch
            assert [m.data for m in first] == [b"a1", b"a2"]
            await _post(one, b"a3", b"a4")  # the author's later posts
            assert await two.fetch(0, batch=10) == []  # one holds the partition
            assert await one.fetch(1, batch=10) == [] and 1 not in one.holding()
            for m in first:
                await m.ack()
            await one.release(0)
            later = await two.fetch(0, batch=10)
            assert [m.data for m in later] == [b"a3", b"a4"]
            assert await one.fetch(0, batch=10) == []  # now two holds it
            for m in later:
                await m.ack()
            await two.release(0)
            assert await one.fetch(0, batch=10, timeout=0.1) == []  # empty: lease let go
            assert await two.fetch(0, batch=10, timeout=0.1) == []
        finally:
            await one.close()
            await two.close()

    asyncio.run(go())


def test_a_busy_partition_is_kept_then_let_go_to_spread_the_work(nats_server, monkeypatch):
    async def go() -> None:
        one, two = await _two(nats_server.url)
        try:
            await _post(one, b"d1", b"d2")
            for m in await one.fetch(0, batch=1):
                await m.ack()
            await one.finished(0)  # busy, held less than HOLD_S: kept for the next round
            assert one.holding() == [0] and await two.fetch(0, batch=1, timeout=0.1) == []
            monkeypatch.setattr("escapevelocity.adapters.bus.jetstream.HOLD_S", 0.0)
            for m in await one.fetch(0, batch=1):
                await m.ack()
            await _post(one, b"d3")
            await one.finished(0)  # held long enough: let go, and rested from
            assert one.holding() == []
            assert await one.fetch(0, batch=1, timeout=0.1) == []  # resting: not retaken
            assert [m.data for m in await two.fetch(0, batch=1)] == [b"d3"]
        finally:
            await one.close()
            await two.close()

    asyncio.run(go())


def test_a_lease_is_renewed_while_its_holder_works(nats_server):
    async def go() -> None:
        one, two = await _two(nats_server.url)
        try:
            await _post(one, b"b1")
            held = await one.fetch(0, batch=10)
            assert len(held) == 1
            await _post(one, b"b2")
            until = time.monotonic() + 2 * (ACK_WAIT + 1.0)  # twice the lease's TTL
            while time.monotonic() < until:
                await held[0].in_progress()  # a long transaction
                assert await two.fetch(0, batch=10, timeout=0.1) == []
                await asyncio.sleep(0.3)
            await held[0].ack()
            await one.release(0)
            assert [m.data for m in await two.fetch(0, batch=10)] == [b"b2"]
        finally:
            await one.close()
            await two.close()

    asyncio.run(go())


def test_a_crashed_holders_partition_is_taken_over_in_order(nats_server):
    async def go() -> tuple[float, list[bytes], list[int]]:
        one, two = await _two(nats_server.url)
        try:
            await _post(one, b"c1", b"c2")
            assert len(await one.fetch(0, batch=10)) == 2
            await _post(one, b"c3")
            crashed = time.monotonic()
            await one.nc.close()  # dies: no ack, no release, no more renewals
            got: list = []
            while not got and time.monotonic() - crashed < 15:
                got = await two.fetch(0, batch=10, timeout=0.2)
            waited = time.monotonic() - crashed
            for m in got:
                await m.ack()
            await two.release(0)
            return waited, [m.data for m in got], [m.metadata.num_delivered for m in got]
        finally:
            await one.close()
            await two.close()

    waited, data, deliveries = asyncio.run(go())
    # not before the dead holder's lease ran out (ack wait + margin), then the held ones first
    assert waited >= ACK_WAIT, waited
    assert data[:2] == [b"c1", b"c2"] and deliveries[:2] == [2, 2]
    assert data == [b"c1", b"c2", b"c3"] or data == [b"c1", b"c2"]


class _Recorder:
    """An intake that only notes what was committed, in commit order (across both workers:
    the order of the shared list is the order the database would have seen)."""

    def __init__(self, committed: list[str]) -> None:
        self.committed = committed

    def take(self, mentions: list) -> None:
        time.sleep(0.03)  # a transaction's time: the other worker's round runs meanwhile
        self.committed.extend(m.source_id for m in mentions)


def test_two_workers_commit_an_authors_posts_in_order(nats_server, monkeypatch):
    import msgspec

    from escapevelocity.demo.generator import generate
    from escapevelocity.services.triage_worker import TriageWorker

    base = next(iter(generate(1, seed=7, start=datetime.now(UTC))))
    posts = [msgspec.structs.replace(base, source_id=f"post-{i:03d}", in_reply_to=None,
                                     thread_id=None) for i in range(120)]
    committed: list[str] = []
    # the lease changes hands several times in the run (every 0.1 s of holding)
    monkeypatch.setattr("escapevelocity.adapters.bus.jetstream.HOLD_S", 0.1)

    async def go() -> None:
        one, two = await _two(nats_server.url)
        workers = [TriageWorker(_Recorder(committed), js, tick_seconds=None)
                   for js in (one, two)]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        try:
            for post in posts:  # one at a time: each fetch is a partial batch
                await one.publish([post])
                await asyncio.sleep(0.005)
            deadline = time.monotonic() + 30
            while len(committed) < len(posts) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            for w in workers:
                w.stop.set()
            await asyncio.gather(*tasks)
            held = one.holding() + two.holding()
            await one.close()
            await two.close()
        assert held == []  # every round let its partitions go
        assert all(w.processed for w in workers), "one worker did all: the test did not test"

    asyncio.run(go())
    assert committed == [p.source_id for p in posts]
