"""A real server and a real browser: uvicorn on 127.0.0.1 in a thread, Debian Chromium headless.

Browser tests skip locally without Chromium and fail when CI is set (`make test` installs it).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from needs import require  # one text of the CI rule

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"




def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, app, workspace) -> None:
        import uvicorn

        self.app, self.workspace = app, workspace
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning",
                                                    timeout_graceful_shutdown=2))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.token = workspace.new_api_token("browser-test")

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start in 15 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def post(self, mentions: list[dict]) -> dict:
        r = httpx.post(f"{self.url}/api/mentions", json=mentions,
                       headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        r.raise_for_status()
        return r.json()


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    from escapevelocity.config import Settings
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace
    from escapevelocity.web.app import create_app

    ws = Workspace.open(f"sqlite:///{tmp_path / 'ev.db'}", SystemClock())
    seed_demo(ws, password=PASSWORD)
    app = create_app(ws, Settings(database_url="unused", secret_key="b" * 32))
    with Server(app, ws) as srv:
        yield srv
    ws.store.close()


@pytest.fixture(scope="session")
def browser():
    require(CHROMIUM.exists(), "Chromium at /usr/bin/chromium (run `make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def log_in():
    return _log_in


def _log_in(browser, server: Server, member: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.fill("input[name=member]", member)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inbox")
    return page
