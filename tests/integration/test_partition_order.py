"""Order within a partition when a message fails (issue 20, order per conversation), on a real
nats-server of our own and PostgreSQL: a message whose transaction fails, for a transient
reason (the database away longer than the intake's own retries) or for good (a poison
message), holds its partition's later messages back until it is committed or dead-lettered;
a worker asked to stop meanwhile hands the partition back, and the next worker starts from
the failed message. Each test sends one author's posts (one partition) as one message each
and injects the failure on message K, below the real intake."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
import scale_kit
import sqlalchemy as sa

from escapevelocity.bench import natsd

pytestmark = pytest.mark.postgres
ACK_WAIT = 2.0  # the partition leases' TTL is this plus LEASE_MARGIN_S (1 s)
# a failed message is tried again after 0.05 s, doubling (0.25 s in production): five
# attempts of a poison message take 0.75 s here, not 3.75
RETRY_FIRST_S = 0.05
K = 3  # the failing message: posts 0..2 go before it, 4.. after it


@pytest.fixture(scope="module")
def nats_server() -> Iterator[natsd.NatsServer]:
    yield from scale_kit.nats_server()


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    """A throwaway database with the demo workspace, shared by this module's tests (each
    counts only its own mentions)."""
    yield from scale_kit.demo_database("ev_order", "order-test-password")


@pytest.fixture(autouse=True)
def short_ack_wait(monkeypatch) -> None:
    """Unacknowledged messages come back after 2 s, not 30 (consumers are made per test)."""
    monkeypatch.setattr("escapevelocity.adapters.bus.jetstream.ACK_WAIT_S", ACK_WAIT)


def _posts(tag: str, n: int) -> list:
    """One author's posts on one channel (so one partition), in the order they were sent."""
    from escapevelocity.demo.generator import generate

    base = next(iter(generate(1, seed=41, start=datetime.now(UTC) - timedelta(hours=1))))
    author = msgspec.structs.replace(base.author, handle=f"{tag}author")
    return [msgspec.structs.replace(base, source_id=f"{tag}-post-{i:02d}", author=author,
                                    text=f"{base.text} ({i})", in_reply_to=None,
                                    thread_id=None) for i in range(n)]


def _cut() -> Exception:
    """What psycopg raises when the connection is cut (the intake's retries having run out)."""
    import psycopg

    from escapevelocity.services.retry import transient

    exc = psycopg.OperationalError("consuming input failed: server closed the connection "
                                   "unexpectedly")
    assert transient(exc)
    return exc


class _Flaky:
    """The real intake, except that a transaction holding `bad` fails `times` times with
    `error` first. `seen` is what happened, in order: ("commit", source_id) for each mention
    a transaction stored, ("fail", source_id) for each failure of `bad` alone in its
    transaction, ("fail-batch", source_id) for one of a transaction holding it and others."""

    def __init__(self, intake, bad: str, error: Exception, times: int,
                 seen: list[tuple[str, str]], until: float = 0.0) -> None:
        self.intake, self.bad, self.error, self.times = intake, bad, error, times
        self.workspace, self.crisis = intake.workspace, intake.crisis
        self.seen, self.until = seen, until  # until: fails only before (monotonic), if set

    def take(self, mentions: list):
        if (self.times and (not self.until or time.monotonic() < self.until)
                and any(m.source_id == self.bad for m in mentions)):
            self.times -= 1
            self.seen.append(("fail" if len(mentions) == 1 else "fail-batch", self.bad))
            raise self.error
        report = self.intake.take(mentions)
        self.seen.extend(("commit", m.source_id) for m in mentions)
        return report


def _intake(url: str):
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.intake import Intake
    from escapevelocity.services.workspace import Workspace

    return Intake.open(Workspace.open(url, SystemClock(), migrate=False), crisis=False)


async def _publish(js, posts: list) -> None:
    for p in range(js.partitions):  # consumers made now, with the short ack wait
        await js.consumer(p)
    for post in posts:  # one message each, in order
        await js.publish([post])


async def _run_until(worker, done, timeout: float) -> None:
    task = asyncio.create_task(worker.run())
    deadline = time.monotonic() + timeout
    try:
        while not await done() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    finally:
        worker.stop.set()
        await task


def _logged_order(url: str, tag: str) -> list[str]:
    """The posts in the order the event log brought them in (seq is assigned at insert)."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT data::json->>'mention' FROM events "
                "WHERE kind IN ('opened', 'mention_added') AND data::json->>'mention' LIKE :p "
                "ORDER BY seq"), {"p": f"%:{tag}-%"}).scalars().all()
    finally:
        engine.dispose()
    return [key.split(":", 1)[1] for key in rows]


def _commits(seen: list[tuple[str, str]]) -> list[str]:
    return [sid for what, sid in seen if what == "commit"]


def test_a_transient_failure_holds_the_partitions_later_messages_back(nats_server, pg):
    from escapevelocity.adapters.bus.jetstream import JetStream
    from escapevelocity.services.triage_worker import TriageWorker

    tag = f"wt{uuid.uuid4().hex[:6]}"
    posts = _posts(tag, 10)
    ids = [p.source_id for p in posts]
    seen: list[tuple[str, str]] = []

    async def go() -> None:
        js = await JetStream(nats_server.url, tag).connect()
        try:
            await _publish(js, posts)
            intake = _Flaky(_intake(pg), ids[K], _cut(), times=3, seen=seen)
            worker = TriageWorker(intake, js, tick_seconds=None,
                                  retry_first_s=RETRY_FIRST_S)

            async def drained() -> bool:
                return await js.lag() == 0
            await _run_until(worker, drained, timeout=30)
            assert await js.lag() == 0, "not drained"
            assert js.holding() == []
            intake.intake.workspace.store.close()
        finally:
            await js.close()

    asyncio.run(go())
    # the round's transaction, then K alone twice
    assert [what for what, _ in seen if what != "commit"] == ["fail-batch", "fail", "fail"]
    assert _commits(seen) == ids, f"committed out of order: {_commits(seen)}"
    assert _logged_order(pg, tag) == ids


def test_a_poison_message_is_dead_lettered_then_its_partition_goes_on(nats_server, pg):
    from escapevelocity.adapters.bus.jetstream import MAX_DELIVER, JetStream
    from escapevelocity.services.triage_worker import TriageWorker

    tag = f"wp{uuid.uuid4().hex[:6]}"
    posts = _posts(tag, 8)
    ids = [p.source_id for p in posts]
    seen: list[tuple[str, str]] = []

    async def go() -> float:
        js = await JetStream(nats_server.url, tag).connect()
        try:
            await _publish(js, posts)
            intake = _Flaky(_intake(pg), ids[K], ValueError("a bug meets this mention"),
                            times=1000, seen=seen)
            worker = TriageWorker(intake, js, tick_seconds=None,
                                  retry_first_s=RETRY_FIRST_S)

            async def drained() -> bool:
                return await js.lag() == 0
            began = time.monotonic()
            await _run_until(worker, drained, timeout=40)
            took = time.monotonic() - began
            assert await js.lag() == 0, "not drained"
            dead = await js.dead()
            assert [d.mentions()[0].source_id for d in dead] == [ids[K]]
            assert "a bug meets this mention" in dead[0].reason
            intake.intake.workspace.store.close()
            return took
        finally:
            await js.close()

    took = asyncio.run(go())
    fails = [i for i, (what, _) in enumerate(seen) if what == "fail"]
    assert len(fails) == MAX_DELIVER, seen
    later = [i for i, (what, sid) in enumerate(seen) if what == "commit" and sid in ids[K + 1:]]
    assert max(fails) < min(later), f"a later post went before the poison one died: {seen}"
    assert _commits(seen) == ids[:K] + ids[K + 1:]
    assert _logged_order(pg, tag) == ids[:K] + ids[K + 1:]
    assert took < 20, f"the partition was held back {took:.1f} s"


def test_a_worker_stopped_while_a_message_fails_hands_the_partition_back_in_order(
        nats_server, pg):
    from escapevelocity.adapters.bus.jetstream import JetStream
    from escapevelocity.services.triage_worker import TriageWorker

    tag = f"ws{uuid.uuid4().hex[:6]}"
    posts = _posts(tag, 8)
    ids = [p.source_id for p in posts]
    first: list[tuple[str, str]] = []
    second: list[tuple[str, str]] = []

    async def go() -> float:
        one = await JetStream(nats_server.url, tag).connect()
        two = await JetStream(nats_server.url, tag).connect()
        try:
            await _publish(one, posts)
            # the database stays away for the first worker: it is stopped while it waits
            flaky = _Flaky(_intake(pg), ids[K], _cut(), times=1000, seen=first)

            async def failed_twice() -> bool:
                return [what for what, _ in first].count("fail") >= 2
            await _run_until(TriageWorker(flaky, one, tick_seconds=None,
                                          retry_first_s=RETRY_FIRST_S), failed_twice,
                             timeout=20)
            assert one.holding() == []  # handed back, not released: its lease runs out
            stopped = time.monotonic()
            healthy = _Flaky(_intake(pg), "", _cut(), times=0, seen=second)

            async def drained() -> bool:
                return await two.lag() == 0
            await _run_until(TriageWorker(healthy, two, tick_seconds=None,
                                          retry_first_s=RETRY_FIRST_S), drained,
                             timeout=30)
            assert await two.lag() == 0, "not drained"
            for intake in (flaky, healthy):
                intake.intake.workspace.store.close()
            return time.monotonic() - stopped
        finally:
            await one.close()
            await two.close()

    asyncio.run(go())
    assert _commits(first) == ids[:K], first
    assert _commits(second) == ids[K:], f"the second worker did not start at K: {second}"
    assert _logged_order(pg, tag) == ids


def test_a_long_outage_hands_the_partition_back_and_other_partitions_go_on(nats_server, pg):
    """The database refuses one partition's message for longer than the ack wait: the worker
    does not sit on its other partitions meanwhile (the round ends, the waiting partition is
    handed back), and when the message goes through, its partition follows in order."""
    import msgspec

    from escapevelocity.adapters.bus.jetstream import JetStream, partition_of
    from escapevelocity.services.triage_worker import TriageWorker

    tag = f"wl{uuid.uuid4().hex[:6]}"
    posts = _posts(tag, 6)
    ids = [p.source_id for p in posts]
    def by(n: int):
        author = msgspec.structs.replace(posts[0].author, handle=f"{tag}other{n}")
        return msgspec.structs.replace(posts[0], source_id=f"{tag}-other-{n}", author=author)
    other = next(m for m in map(by, range(100)) if partition_of(m) != partition_of(posts[0]))
    seen: list[tuple[str, str]] = []
    outage = 2 * ACK_WAIT

    async def go() -> None:
        js = await JetStream(nats_server.url, tag).connect()
        try:
            await _publish(js, posts)
            intake = _Flaky(_intake(pg), ids[K], _cut(), times=1000, seen=seen,
                            until=time.monotonic() + outage)
            worker = TriageWorker(intake, js, tick_seconds=None,
                                  retry_first_s=RETRY_FIRST_S)
            task = asyncio.create_task(worker.run())
            try:
                while ("fail", ids[K]) not in seen:
                    await asyncio.sleep(0.05)
                await js.publish([other])  # another author, another partition, a later round
                deadline = time.monotonic() + 30
                while await js.lag() and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
            finally:
                worker.stop.set()
                await task
            assert await js.lag() == 0, "not drained"
            intake.intake.workspace.store.close()
        finally:
            await js.close()

    asyncio.run(go())
    commits = _commits(seen)
    assert commits.index(other.source_id) < commits.index(ids[K]), \
        f"the other partition waited for the outage: {commits}"
    assert [c for c in commits if c != other.source_id] == ids
    assert [k for k in _logged_order(pg, tag) if k != other.source_id] == ids
