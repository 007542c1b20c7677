"""The server as `ev serve` runs it (uvicorn on 127.0.0.1 in a thread): proxy headers from a
local peer are not believed, a stop during a worker pass is prompt (issue 15.7, 15.8), and
error responses carry the security headers."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from escapevelocity.cli.serve import server_config
from escapevelocity.config import Settings
from escapevelocity.services import signin
from escapevelocity.web.app import create_app

PASSWORD = "correct horse battery"


class Running:
    def __init__(self, app) -> None:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.server = uvicorn.Server(server_config(app, "127.0.0.1", port))
        self.server.install_signal_handlers = lambda: None  # not the main thread
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Running:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        return self

    def stop(self) -> float:
        start = time.perf_counter()
        self.server.should_exit = True  # what uvicorn's SIGTERM handler does
        self.thread.join(timeout=60)
        return time.perf_counter() - start

    def __exit__(self, *exc) -> None:
        if self.thread.is_alive():
            self.stop()


@pytest.fixture
def sqlite_ws(tmp_path, clock):
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    ws = Workspace.open(f"sqlite:///{tmp_path / 'ev.db'}", clock)
    seed_demo(ws, password=PASSWORD)
    yield ws
    ws.store.close()


def _attempt(client: httpx.Client, member: str, password: str, forwarded: str) -> int:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"member": member, "password": password, "csrf": csrf},
                       headers={"X-Forwarded-For": forwarded}).status_code


def test_a_local_peer_cannot_choose_its_address_with_x_forwarded_for(sqlite_ws):
    app = create_app(sqlite_ws, Settings(database_url="unused", secret_key="s" * 32),
                     tick_seconds=None)
    with Running(app) as server, httpx.Client(base_url=server.url) as client:
        for i in range(signin.CLIENT_LIMIT):
            _attempt(client, f"nobody{i}", "x", f"198.51.100.{i}")
        assert _attempt(client, "sam", PASSWORD, "192.0.2.1") == 401


def test_stopping_during_a_worker_pass_takes_seconds_not_the_pass(sqlite_ws, monkeypatch):
    from escapevelocity.services import approvals, sla

    in_pass = threading.Event()

    def slow_sla(*_a, **_k):
        in_pass.set()
        time.sleep(1.0)  # one job in hand
        return 0

    def slower(*_a, **_k):
        time.sleep(30)  # the rest of a long pass at scale
        return 0

    monkeypatch.setattr(sla, "tick", slow_sla)
    monkeypatch.setattr(approvals, "tick", slower)
    app = create_app(sqlite_ws, Settings(database_url="unused", secret_key="s" * 32),
                     tick_seconds=0.1)
    with Running(app) as server:
        assert in_pass.wait(10)
        took = server.stop()
    assert took < 5.0, f"the server took {took:.1f} s to stop"


def test_a_500_carries_the_security_headers_and_hsts_when_set(sqlite_ws):
    app = create_app(sqlite_ws, Settings(database_url="unused", secret_key="s" * 32,
                                         hsts_seconds=31_536_000), tick_seconds=None)

    @app.get("/boom")
    def boom():
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom")
        assert r.status_code == 500
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        assert "strict-transport-security" in client.get("/login").headers
    plain = create_app(sqlite_ws, Settings(database_url="unused", secret_key="s" * 32),
                       tick_seconds=None)
    with TestClient(plain) as client:
        assert "strict-transport-security" not in client.get("/login").headers
