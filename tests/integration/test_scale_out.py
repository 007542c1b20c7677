"""Scale-out faults (issue 20), on real PostgreSQL and a real nats-server of our own (its own
port and store directory; never the machine's shared one): mentions in, cases out.

Each test sends its own mentions (source ids tagged with the test's name) through its own
stream prefix, breaks something while workers triage them, and then counts: every sent
mention stored once, exactly one log event that brought it in (opened or mention_added),
and every case touched equal to the replay of its events (the inbox agrees with the log).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest
import scale_kit
import sqlalchemy as sa

from escapevelocity.bench import natsd

pytestmark = pytest.mark.postgres
PG_ADMIN = scale_kit.PG_ADMIN


@pytest.fixture(scope="module")
def nats_server() -> Iterator[natsd.NatsServer]:
    yield from scale_kit.nats_server()


@pytest.fixture(scope="module")
def pg() -> Iterator[str]:
    """A throwaway database with the demo workspace, shared by this module's tests (each
    counts only its own mentions)."""
    yield from scale_kit.demo_database("ev_scale", "scale-test-password")


ACK_WAIT = 4.0  # the partition leases' TTL is this plus LEASE_MARGIN_S (1 s)


@pytest.fixture(autouse=True)
def short_ack_wait(monkeypatch) -> None:
    """Unacknowledged messages come back after 4 s, not 30 (consumers are made per test).
    Not shorter for all: a database cut for longer than the ack wait hands the partition
    back, and the dropped-connections test then waits out the lease."""
    monkeypatch.setattr("escapevelocity.adapters.bus.jetstream.ACK_WAIT_S", ACK_WAIT)


def _mentions(tag: str, n: int, seed: int) -> list:
    """Generated mentions of the last hour, ids (and reply links) made unique to the test."""
    from escapevelocity.demo.generator import generate

    out = []
    for m in generate(n, seed=seed, start=datetime.now(UTC) - timedelta(hours=1),
                      mean_gap_seconds=1):
        out.append(msgspec.structs.replace(
            m, source_id=f"{tag}-{m.source_id}",
            in_reply_to=f"{tag}-{m.in_reply_to}" if m.in_reply_to else None,
            thread_id=f"{tag}-{m.thread_id}" if m.thread_id else None))
    return out


def _workspace(url: str):
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.workspace import Workspace

    return Workspace.open(url, SystemClock(), migrate=False)


def _stored(url: str, tag: str) -> int:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM mentions WHERE source_id LIKE :p"),
                                {"p": f"{tag}-%"}).scalar_one()
    finally:
        engine.dispose()


def _assert_exact(url: str, sent: list) -> None:
    """Zero lost, zero duplicated, the inbox consistent with the event log."""
    from escapevelocity.domain import cases as projection

    keys = {m.key for m in sent}
    tag = sent[0].source_id.split("-", 1)[0]
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    ws = _workspace(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT channel, source_id, case_id FROM mentions WHERE source_id LIKE :p"),
                {"p": f"{tag}-%"}).all()
            brought = conn.execute(sa.text(
                "SELECT data::json->>'mention' AS k, count(*) FROM events "
                "WHERE kind IN ('opened', 'mention_added') AND data::json->>'mention' LIKE :p "
                "GROUP BY 1"), {"p": f"%:{tag}-%"}).all()
        stored = [f"{c}:{s}" for c, s, _ in rows]
        assert len(stored) == len(set(stored)) == len(keys), "lost or duplicated mentions"
        assert set(stored) == keys
        assert {k for k, _ in brought} == keys, "a mention without its event"
        assert max(n for _, n in brought) == 1, "a mention brought in twice"
        case_ids = {case for _, _, case in rows}
        with ws.store.begin() as tx:
            current = tx.cases.get_many(case_ids)
            logged = tx.events.streams(case_ids)
        assert set(current) == case_ids, "a mention's case missing from the inbox"
        for case_id in case_ids:
            assert projection.replay(case_id, logged[case_id]) == current[case_id]
    finally:
        ws.store.close()
        engine.dispose()


async def _drain(js, worker, timeout: float = 40.0) -> None:
    """Run `worker` until the stream holds nothing (every message acknowledged)."""
    task = asyncio.create_task(worker.run())
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                if await js.lag() == 0:
                    return
            except Exception:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"not drained in {timeout} s: {await js.lag()} messages left")
    finally:
        worker.stop.set()
        await task


async def _unacknowledged(url: str, prefix: str) -> int:
    """Messages handed out and not yet acknowledged, over the partitions' consumers."""
    import nats

    from escapevelocity.adapters.bus.jetstream import PARTITIONS

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        return sum([(await js.consumer_info(f"{prefix.upper()}_MENTIONS",
                                            f"triage-{p}")).num_ack_pending
                    for p in range(PARTITIONS)])
    finally:
        await nc.close()


def _worker(url: str, js):
    from escapevelocity.services.intake import Intake
    from escapevelocity.services.triage_worker import TriageWorker

    return TriageWorker(Intake.open(_workspace(url)), js, tick_seconds=None)


async def _publish_all(js, sent: list, size: int = 100) -> None:
    for i in range(0, len(sent), size):
        await js.publish(sent[i:i + size])


def test_worker_killed_mid_batch_loses_and_doubles_nothing(nats_server, pg, tmp_path, monkeypatch):
    from escapevelocity.adapters.bus.jetstream import JetStream

    prefix = f"k{uuid.uuid4().hex[:8]}"
    sent = _mentions(prefix, 1500, seed=31)
    sent += sent[:200]  # a client's resend: the same mentions again
    # two messages a partition in flight: a round is ~200 mentions, so the kill lands mid-run
    monkeypatch.setattr("escapevelocity.adapters.bus.jetstream.FETCH", 2)
    # the dead worker's batch comes back after 2 s (its leases run out after 3 s)
    ack_wait = 2.0
    monkeypatch.setattr("escapevelocity.adapters.bus.jetstream.ACK_WAIT_S", ack_wait)

    async def publish() -> None:
        js = await JetStream(nats_server.url, prefix).connect()
        for p in range(js.partitions):  # consumers made here, with the short ack wait
            await js.consumer(p)
        await _publish_all(js, sent)
        await js.close()

    asyncio.run(publish())
    env = {**os.environ, "EV_DATABASE_URL": pg, "EV_BUS": nats_server.url,
           "EV_NATS_PREFIX": prefix, "EV_SECRET_KEY": "k" * 32, "EV_VAR_DIR": str(tmp_path),
           "EV_NATS_ACK_WAIT": str(ack_wait), "EV_NATS_FETCH": "2"}
    ev = Path(sys.executable).with_name("ev")
    log = (tmp_path / "worker.log").open("wb")
    proc = subprocess.Popen([str(ev), "worker", "--tick-seconds", "0"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    in_hand = 0
    try:
        # Mid-run, with a batch in hand: once something is stored, the worker is frozen and
        # killed only if the consumers then show messages it holds unacknowledged (else it
        # goes on, and is tried again). Killing at the first commit alone landed in the pause
        # after a round (its partitions let go), with nothing in hand to deliver again.
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-2000:]
            if _stored(pg, prefix):
                proc.send_signal(signal.SIGSTOP)
                time.sleep(0.05)  # acknowledgements already sent reach the server
                in_hand = asyncio.run(_unacknowledged(nats_server.url, prefix))
                if in_hand:
                    break
                proc.send_signal(signal.SIGCONT)
            time.sleep(0.02)
        at_kill = _stored(pg, prefix)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    unique = len({m.key for m in sent})
    assert 0 < at_kill < unique, f"the kill came at {at_kill} of {unique} stored"
    assert in_hand, "the worker never held a batch when looked at: the test did not test"

    async def recover() -> None:
        js = await JetStream(nats_server.url, prefix).connect()
        assert await js.lag() > 0
        # the dead worker's batch is still out; drained means it came again after the ack
        # wait (to the only worker left) and was acknowledged
        assert await _unacknowledged(nats_server.url, prefix) == in_hand
        await _drain(js, _worker(pg, js))
        await js.close()

    asyncio.run(recover())
    _assert_exact(pg, sent)


def test_nats_restart_mid_load(nats_server, pg):
    from escapevelocity.adapters.bus.jetstream import JetStream

    prefix = f"r{uuid.uuid4().hex[:8]}"
    sent = _mentions(prefix, 1200, seed=32)

    async def go() -> tuple[int, int, int]:
        js = await JetStream(nats_server.url, prefix).connect()
        worker = _worker(pg, js)
        task = asyncio.create_task(worker.run())
        restart = None
        before = after = 0  # batches acknowledged before the restart began / after it ended
        for i in range(0, len(sent), 50):
            if i == 600:  # halfway: the server goes away and comes back
                restart = asyncio.create_task(asyncio.to_thread(nats_server.restart))
            while True:  # as an HTTP client does on 503: send the batch again
                try:
                    await js.publish(sent[i:i + 50])
                    break
                except Exception:
                    await asyncio.sleep(0.1)
            if restart is None:
                before += 1
            elif restart.done():
                after += 1
            else:  # a client's pace: the rest of the load must outlast the restart
                await asyncio.sleep(0.05)
        await restart
        stored_before_drain = worker.processed
        worker.stop.set()
        await task
        await _drain(js, _worker(pg, js))
        await js.close()
        return before, after, stored_before_drain

    before, after, _ = asyncio.run(go())
    assert before > 0 and after > 0, "the restart did not fall mid-load: the test did not test"
    _assert_exact(pg, sent)


def test_every_postgres_connection_dropped_mid_load(nats_server, pg):
    from escapevelocity.adapters.bus.jetstream import JetStream

    prefix = f"d{uuid.uuid4().hex[:8]}"
    sent = _mentions(prefix, 1500, seed=33)
    name = pg.rsplit("/", 1)[1]
    killed: list[int] = []
    stop = threading.Event()

    def killer() -> None:  # every connection of the database, every 0.4 s, for a while
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for _ in range(8):
                if stop.wait(0.4):
                    break
                killed.append(conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": name}).scalar())
        admin.dispose()

    async def go() -> None:
        js = await JetStream(nats_server.url, prefix).connect()
        await _publish_all(js, sent)
        thread = threading.Thread(target=killer)
        thread.start()
        try:
            await _drain(js, _worker(pg, js), timeout=50)
        finally:
            stop.set()
            thread.join()
        await js.close()

    asyncio.run(go())
    assert sum(killed) > 0, "no connection was ever cut: the test did not test"
    _assert_exact(pg, sent)


def test_poison_goes_to_dead_letters_and_replays(nats_server, pg, monkeypatch):
    from escapevelocity.adapters.bus.jetstream import JetStream, encode

    prefix = f"p{uuid.uuid4().hex[:8]}"
    sent = _mentions(prefix, 40, seed=34)

    async def go() -> None:
        js = await JetStream(nats_server.url, prefix).connect()
        await js.publish_raw(0, b"{not json")
        await js.publish(sent[:20])
        # published by something that skipped the web's checks: a NUL (PostgreSQL refuses it)
        # beside a good mention; the bad one dies alone, the good one is stored
        nul = msgspec.structs.replace(sent[0], source_id=f"{prefix}-nul", text="a\x00b")
        await js.publish_raw(2, encode([nul, sent[0]]))
        # a good message that died earlier (say, while a bug was live): kept, then replayed
        await js.js.publish(js.dead_subject, encode(sent[20:]),
                            headers={"Ev-Subject": js.subject(1), "Ev-Reason": "test",
                                     "Ev-Deliveries": "5"})
        await _drain(js, _worker(pg, js))
        dead = await js.dead()
        assert sorted(d.mentions() is None for d in dead) == [False, False, True]
        assert any("does not decode" in d.reason for d in dead)
        assert [d.mentions()[0].key for d in dead if "NUL" in d.reason] == [nul.key]
        replay = [d.seq for d in dead if d.reason == "test" or "does not decode" in d.reason]
        assert await js.replay(replay) == 1  # the undecodable one stays
        await _drain(js, _worker(pg, js))
        assert sorted(str(d.mentions()) for d in await js.dead())[0] == "None"
        assert len(await js.dead()) == 2  # the undecodable and the NUL one
        await js.close()

    asyncio.run(go())
    _assert_exact(pg, sent)
    monkeypatch.setenv("EV_NATS_PREFIX", prefix)  # the page lists what is still dead
    app, ws = _app(pg, nats_server.url)
    from fastapi.testclient import TestClient
    from web_kit import login

    with TestClient(app) as client:
        login(client, "sam", "scale-test-password")
        page = client.get("/admin/dead")
        assert page.status_code == 200 and "bytes that do not decode" in page.text
        assert "does not decode" in page.text and page.text.count("data-seq=") == 2
    ana, _ = login(app, "ana", "scale-test-password")  # a community manager
    assert ana.get("/admin/dead").status_code == 404  # not for who may not configure
    ws.store.close()


def test_clock_tick_runs_once_across_workers(nats_server):
    from escapevelocity.adapters.bus.jetstream import JetStream

    prefix = f"t{uuid.uuid4().hex[:8]}"

    async def go() -> list[bool]:
        a = await JetStream(nats_server.url, prefix).connect()
        b = await JetStream(nats_server.url, prefix).connect()
        won = await asyncio.gather(*(js.take_tick(s, n, 5.0) for s in (100, 101)
                                     for js, n in ((a, "a"), (b, "b"))))
        await a.close()
        await b.close()
        return won

    won = asyncio.run(go())
    assert won.count(True) == 2 and won[0] != won[1] and won[2] != won[3]


def _app(url: str, bus: str):
    from escapevelocity.config import Settings
    from escapevelocity.services.intake import Intake
    from escapevelocity.web.app import create_app

    ws = _workspace(url)
    settings = Settings(database_url=url, secret_key="s" * 32, bus=bus)
    return create_app(ws, settings, tick_seconds=None, intake=Intake(ws)), ws


def test_http_accepts_into_the_stream_and_workers_make_the_cases(nats_server, pg, monkeypatch):
    from fastapi.testclient import TestClient

    from escapevelocity.adapters.bus.jetstream import JetStream

    prefix = f"h{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EV_NATS_PREFIX", prefix)
    sent = _mentions(prefix, 300, seed=35)
    app, ws = _app(pg, nats_server.url)
    token = ws.new_api_token(f"api-{prefix}", scopes="ingest metrics")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        assert client.get("/readyz").json() == {"ready": True,
                                                "checks": {"database": "ok", "nats": "ok"}}
        for i in range(0, 300, 100):
            body = [msgspec.to_builtins(m) for m in sent[i:i + 100]]
            r = client.post("/api/mentions", json=[*body, {"text": "no id"}], headers=auth)
            assert r.status_code == 202, r.text
            assert r.json()["accepted"] == 100 and len(r.json()["refused"]) == 1
        assert _stored(pg, prefix) == 0  # accepted means in the stream, not yet triaged
        metrics = client.get("/metrics", headers=auth).text
        assert "ev_mentions_accepted_total" in metrics and "ev_sla_at_risk" in metrics
        lag = [line for line in metrics.splitlines()
               if line.startswith("ev_queue_lag_messages ")]
        assert lag and float(lag[0].split()[1]) > 0  # the backlog, waiting for workers

    async def drain() -> None:
        js = await JetStream(nats_server.url, prefix).connect()
        assert await js.lag() > 0
        await _drain(js, _worker(pg, js))
        await js.close()

    asyncio.run(drain())
    ws.store.close()
    _assert_exact(pg, sent)


def test_logout_on_one_replica_ends_the_session_on_every_replica(pg):
    """Sessions live in the database (adapters/store/signin.py), not in the cookie alone: a
    replica behind the load balancer honours another's sign-out at once."""
    from fastapi.testclient import TestClient
    from web_kit import csrf_of, login

    a, ws_a = _app(pg, "inline")
    b, ws_b = _app(pg, "inline")
    ana, _ = login(a, "ana", "scale-test-password")
    on_b = TestClient(b, cookies=dict(ana.cookies))
    assert on_b.get("/inbox", follow_redirects=False).status_code == 200
    assert on_b.post("/logout", data={"csrf": csrf_of(on_b.get("/inbox").text)},
                     follow_redirects=False).status_code == 303
    assert ana.get("/inbox", follow_redirects=False).status_code in (303, 307)
    ws_a.store.close()
    ws_b.store.close()


def test_a_commit_anywhere_wakes_live_views_on_every_replica(nats_server, pg, monkeypatch):
    """Live views in the scale-out mode wait on NATS change notices: a worker's commit (here
    an ingest through a store with the worker's hook) wakes the views of a web replica."""
    from fastapi.testclient import TestClient

    from escapevelocity.adapters.bus.jetstream import JetStream
    from escapevelocity.services.ingest import ingest_batch

    prefix = f"n{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EV_NATS_PREFIX", prefix)
    app, ws = _app(pg, nats_server.url)
    with TestClient(app):
        nudge = app.state.nudge
        before = nudge.generation

        async def commit_elsewhere() -> None:
            js = await JetStream(nats_server.url, prefix).connect()
            other = _workspace(pg)  # the worker's own store and connection
            other.store.on_commit.append(js.commit_hook(asyncio.get_running_loop()))
            batch = _mentions(prefix, 5, seed=36)
            await asyncio.to_thread(ingest_batch, other.store, other.triager(),
                                    other.clock.now(), batch)
            deadline = time.monotonic() + 5
            while nudge.generation == before and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            other.store.close()
            await js.close()

        asyncio.run(commit_elsewhere())
        assert nudge.generation > before
    ws.store.close()


def test_two_workers_never_run_the_same_tick(nats_server, pg):
    from escapevelocity.adapters.bus.jetstream import JetStream
    from escapevelocity.services.intake import Intake
    from escapevelocity.services.triage_worker import TriageWorker

    prefix = f"w{uuid.uuid4().hex[:8]}"

    async def go() -> tuple[list[int], list[int]]:
        js = [await JetStream(nats_server.url, prefix).connect() for _ in range(2)]
        workers = [TriageWorker(Intake.open(_workspace(pg), crisis=False), j,
                                tick_seconds=0.5, name=f"w{i}") for i, j in enumerate(js)]
        tasks = [asyncio.create_task(w.run()) for w in workers]
        deadline = time.monotonic() + 20
        while sum(len(w.ticked) for w in workers) < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        for w in workers:
            w.stop.set()
        await asyncio.gather(*tasks)
        for j in js:
            await j.close()
        return workers[0].ticked, workers[1].ticked

    a, b = asyncio.run(go())
    assert len(a) + len(b) >= 4, "the clock jobs did not run"
    assert not set(a) & set(b), "a tick ran on two workers"
