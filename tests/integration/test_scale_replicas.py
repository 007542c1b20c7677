"""A web replica stopped during a live (SSE) session (issue 20), on real PostgreSQL, a
nats-server of our own and two `ev serve` processes over the same database: the page that
followed the stream on replica A reconnects to replica B (as a load balancer sends it) with
the last event id it saw, and after recovery it has been told of every change in the log.

Counts: events in (the log, for the cases the test's mentions made) against changes out (what
the client was sent on A and then on B), and mentions in against cases out (scale_kit).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import msgspec
import pytest
import sqlalchemy as sa
from needs import require
from test_scale_out import _assert_exact, _mentions, _stored, nats_server, pg  # noqa: F401
from web_kit import csrf_of

from escapevelocity.bench import natsd

pytestmark = pytest.mark.postgres


def _ev(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    ev = Path(sys.executable).with_name("ev")
    return subprocess.Popen([str(ev), *args], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """One client for the whole wait: httpx.get made a client a poll, each loading the CA
    bundle into a new TLS context (~38 ms of CPU a poll, 3.8 CPU-s a run of this file)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=1) as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                if http.get(f"{url}/readyz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    raise AssertionError(f"{url} not ready: {log.read_text()[-2000:]}")


class Follower:
    """A page's live stream: reads A until it fails, then B from the last event id it saw
    (what EventSource does after `retry:`), recording every change it was told of."""

    def __init__(self, cookies: httpx.Cookies, replicas: list[str], after: int) -> None:
        self.cookies = cookies
        self.replicas = replicas
        self.after = after
        self.last_id: int | None = None
        self.seen: dict[int, str] = {}  # seq -> case
        self.on: list[str] = []  # the replicas it read from, in order
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self._response: httpx.Response | None = None

    def close(self) -> None:
        """The page goes away: its stream is closed (a replica stopping with a stream open
        waits seconds for it to end), and the reading thread ends."""
        self.stop.set()
        if self._response is not None:  # a blocked read ends only when its socket does
            stream = self._response.extensions["network_stream"]
            with contextlib.suppress(OSError):
                stream.get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        self.thread.join(5)

    def _run(self) -> None:
        for url in self.replicas:
            headers = {"Last-Event-ID": str(self.last_id)} if self.last_id else {}
            params = {} if self.last_id else {"after": self.after}
            try:
                with httpx.Client(base_url=url, cookies=self.cookies, timeout=None) as client, \
                        client.stream("GET", "/live", params=params, headers=headers) as r:
                    assert r.status_code == 200
                    self.on.append(url)
                    self._response = r
                    self._read(r)
            except Exception as exc:
                if self.stop.is_set():
                    return  # closed by the test
                if not isinstance(exc, httpx.HTTPError | OSError):
                    raise
                continue  # the replica went away: the load balancer sends us to the next
            if self.stop.is_set():
                return

    def _read(self, r: httpx.Response) -> None:
        event_id, kind = None, None
        for line in r.iter_lines():
            if self.stop.is_set():
                return
            if line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "changes":
                for change in json.loads(line[6:]):
                    self.seen[change["seq"]] = change["case"]
            elif line == "":
                if event_id is not None and kind == "changes":
                    self.last_id = event_id
                event_id, kind = None, None


def test_a_web_replica_stopped_mid_stream_loses_no_change(nats_server, pg, tmp_path):  # noqa: F811
    require(natsd.available(), "nats-server")
    prefix = f"v{uuid.uuid4().hex[:8]}"
    sent = _mentions(prefix, 1200, seed=37)
    env = {**os.environ, "EV_DATABASE_URL": pg, "EV_BUS": nats_server.url,
           "EV_NATS_PREFIX": prefix, "EV_SECRET_KEY": "r" * 32, "EV_VAR_DIR": str(tmp_path),
           "EV_NATS_FETCH": "20", "EV_LOG_FORMAT": "text"}
    ports = [natsd.free_port(), natsd.free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    procs: list[subprocess.Popen] = []
    try:
        for i, port in enumerate(ports):
            procs.append(_ev(["serve", "--no-channels", "--port", str(port)], env,
                             tmp_path / f"web{i}.log"))
        for i in range(2):  # two workers: their batches commit concurrently
            procs.append(_ev(["worker", "--tick-seconds", "0"], env, tmp_path / f"w{i}.log"))
        for i, url in enumerate(urls):
            _wait_ready(url, procs[i], tmp_path / f"web{i}.log")
        engine = sa.create_engine(pg.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            start = conn.execute(sa.text("SELECT coalesce(max(seq), 0) FROM events")).scalar()

        with httpx.Client(base_url=urls[0]) as web:  # sam sees every team
            csrf = csrf_of(web.get("/login").text)
            r = web.post("/login", data={"member": "sam", "password": "scale-test-password",
                                         "csrf": csrf, "next": "/inbox"})
            assert r.status_code in (200, 303), r.text[:300]
            cookies = web.cookies
        from escapevelocity.domain.clock import SystemClock
        from escapevelocity.services.workspace import Workspace
        ws = Workspace.open(pg, SystemClock(), migrate=False)
        token = ws.new_api_token(f"api-{prefix}")
        ws.store.close()
        auth = {"Authorization": f"Bearer {token}"}

        follower = Follower(cookies, urls, start)
        follower.thread.start()

        api = httpx.Client(headers=auth, timeout=30)  # one for every batch (see _wait_ready)

        def post(url: str, batch: list) -> None:
            body = [msgspec.to_builtins(m) for m in batch]
            r = api.post(f"{url}/api/mentions", json=body)
            assert r.status_code == 202, r.text

        half = len(sent) // 2
        for i in range(0, half, 100):  # through B, the replica that stays
            post(urls[1], sent[i:i + 100])
        deadline = time.monotonic() + 30
        while len(follower.seen) < 50 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert follower.seen, "the stream on A told nothing"
        told_on_a = len(follower.seen)
        procs[0].send_signal(signal.SIGKILL)  # replica A goes away mid-stream
        procs[0].wait()
        for i in range(half, len(sent), 100):  # the load goes on while the page reconnects
            post(urls[1], sent[i:i + 100])
        api.close()

        unique = len({m.key for m in sent})
        deadline = time.monotonic() + 40
        while _stored(pg, prefix) < unique and time.monotonic() < deadline:
            time.sleep(0.2)
        with engine.connect() as conn:  # every event on the test's cases, once all stored
            logged = dict(conn.execute(sa.text(
                "SELECT e.seq, e.stream FROM events e WHERE e.seq > :s AND e.stream IN "
                "(SELECT case_id FROM mentions WHERE source_id LIKE :p)"),
                {"s": start, "p": f"{prefix}-%"}).all())
        engine.dispose()
        deadline = time.monotonic() + 15
        while not set(logged) <= set(follower.seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        follower.close()
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    assert follower.on == urls, f"the page did not move from A to B: {follower.on}"
    assert told_on_a < len(logged), "A was stopped after the last change: the test did not test"
    missing = set(logged) - set(follower.seen)
    assert not missing, f"{len(missing)} of {len(logged)} changes never reached the page"
    assert {follower.seen[s] for s in logged} == set(logged.values())
    print(f"changes: {len(logged)} in the log, {told_on_a} told on A before it stopped, "
          f"{len(set(logged) & set(follower.seen))} told in all")
    _assert_exact(pg, sent)
