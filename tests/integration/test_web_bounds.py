"""One request must not freeze the server (issue 15.1): the playbook check runs off the event
loop, bounded in size, aliases, depth, rules and time, against a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from web_kit import PASSWORD  # the seeded copy's

from escapevelocity.config import Settings
from escapevelocity.web.app import create_app
from tests.unit.test_yamlsafe import alias_bomb


def many_rules(n: int) -> str:
    return ("name: big\ntracks: {t: {team: care, sla: {first_response: 60}}}\nrules:\n"
            + "".join(f"  - {{id: r{i}, when: {{any: [{{keywords: [w{i}]}}, "
                      f"{{keywords: [v{i}]}}]}}, then: {{track: t}}}}\n" for i in range(n))
            + "default: {track: t}\n")


@pytest.fixture
def live(tmp_path, clock, sqlite_copy) -> Iterator[str]:
    import uvicorn

    from escapevelocity.services.workspace import Workspace

    # the session's demo workspace, seeded at the clock's time with PASSWORD, copied
    ws = Workspace.open(sqlite_copy(tmp_path / "ev.db"), clock, migrate=False)
    app = create_app(ws, Settings(database_url="unused", secret_key="s" * 32),
                     tick_seconds=None)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    ws.store.close()


@contextmanager
def _member(url: str, member: str = "ana") -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        r = client.post("/login", data={"member": member, "password": PASSWORD, "csrf": csrf})
        assert r.status_code in (200, 303)
        yield client


def test_an_alias_bomb_is_refused_quickly_with_the_reason(live):
    with _member(live) as client:
        start = time.perf_counter()
        r = client.post("/api/playbook/check", content=alias_bomb(6, 9).encode(), timeout=5)
        took = time.perf_counter() - start
    assert r.status_code == 422 and took < 2.0
    assert any("refused" in f["message"] for f in r.json()["findings"])


def test_healthz_answers_while_a_large_playbook_is_checked(live):
    """A 1,000-rule playbook (the most allowed) takes seconds to check; meanwhile the server
    answers /healthz at once, and one rule more is refused without checking."""
    with _member(live) as client:
        answer: dict[str, httpx.Response] = {}
        checking = threading.Thread(target=lambda: answer.update(r=client.post(
            "/api/playbook/check", content=many_rules(1_000).encode())))
        start = time.perf_counter()
        checking.start()
        waits = []
        with httpx.Client(base_url=live, timeout=30) as other:
            while checking.is_alive():
                t = time.perf_counter()
                assert other.get("/healthz").status_code == 200
                waits.append(time.perf_counter() - t)
                time.sleep(0.05)
        checking.join()
        took = time.perf_counter() - start
        assert answer["r"].status_code in (200, 422), answer["r"].text
        # On the event loop the first /healthz waited for the whole check; off it, it answers
        # again and again meanwhile (the bound is loose: this machine is shared and loaded).
        assert len(waits) >= 2, f"the check took {took:.2f} s: too short to prove anything"
        assert max(waits) < max(1.0, took / 2), \
            f"/healthz waited {max(waits):.2f} s during a {took:.1f} s check"
        r = client.post("/api/playbook/check", content=many_rules(1_001).encode())
        assert r.status_code == 422 and "1,001 rules" in r.text
