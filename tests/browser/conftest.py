"""A real server and a real browser: uvicorn on 127.0.0.1 in a thread, Debian Chromium headless.

Browser tests skip locally without Chromium and fail when CI is set (`make test` installs it).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from needs import require  # one text of the CI rule
from web_kit import csrf_of

from escapevelocity.web.live import Pace

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
PASSWORD = "correct horse battery"
# One TLS context for every HTTP client here: httpx builds one per client, reading the CA
# bundle each time (52 ms of CPU, for a client that only speaks plain HTTP to 127.0.0.1), and
# these files made ~130 (each sign-in, each post of mentions).
TLS = httpx.create_ssl_context()


# The live pages' pace here (web/live.py Pace): the same code asking 5-10x as often as the
# product does. Nearly every step of a live test waits for one of these (a presence beat, a
# gathered refresh, a drill panel read), and at the product's pace those waits were most of
# the browser files' time. A test that times one of them reads it from `server.pace`.
FAST = Pace(poll_seconds=0.1, gather_ms=100, beat_ms=500, retry_ms=1000, reconnect_ms=500,
            drill_panel_ms=250)


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
        self.pace = app.state.pace  # what the pages wait between asks (web/live.py)

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
                       headers={"Authorization": f"Bearer {self.token}"}, timeout=30,
                       verify=TLS)
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="session")
def migrated(tmp_path_factory) -> Path:
    """An empty SQLite database at the newest schema, made once per session: each server's
    workspace starts as a copy of it (demo_workspace). Migrating afresh cost each test
    0.3-0.5 s; the migrations write no rows that depend on the clock, so a copy is the same."""
    import sqlite3

    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.workspace import Workspace

    path = tmp_path_factory.mktemp("migrated") / "ev.db"
    Workspace.open(f"sqlite:///{path}", SystemClock()).store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:  # all of it in the one file
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def demo_workspace(migrated: Path, folder: Path):
    """The demo workspace on the real clock, seeded now (its members online, their password
    PASSWORD) in a copy of the migrated database."""
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    shutil.copyfile(migrated, folder / "ev.db")
    ws = Workspace.open(f"sqlite:///{folder / 'ev.db'}", SystemClock(), migrate=False)
    seed_demo(ws, password=PASSWORD)
    return ws


@pytest.fixture
def server(tmp_path, migrated) -> Iterator[Server]:
    from escapevelocity.config import Settings
    from escapevelocity.web.app import create_app

    ws = demo_workspace(migrated, tmp_path)
    app = create_app(ws, Settings(database_url="unused", secret_key="b" * 32), pace=FAST)
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


def _log_in(browser, server: Server, member: str, *, width: int = 1400, height: int = 900,
            color_scheme: str | None = None, path: str = "/inbox"):
    """A page of a new browser context (`width` x `height`, `color_scheme` as the system's
    preference when given), `member` signed in, at `path` (the inbox unless told): a test
    that starts elsewhere is taken there at once, not through the inbox (a first page load in
    a new context, its scripts and styles fetched cold, cost 0.3-1 s). Signed in through
    the real form over HTTP (web_kit.login's steps: the page's CSRF token, the POST, its
    redirect), its session cookie handed to the browser: loading and filling the login page
    in the browser cost ~0.4 s of each of the ~60 sign-ins of these files. The form in the
    browser is still used, by the page sweep (test_everywhere) and the keyboard and sign-in
    tests."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  **({"color_scheme": color_scheme} if color_scheme else {}))
    with httpx.Client(base_url=server.url, timeout=30, verify=TLS) as client:
        csrf = csrf_of(client.get("/login").text)
        r = client.post("/login", data={"member": member, "password": PASSWORD, "csrf": csrf,
                                        "next": "/inbox"})
        assert r.status_code == 303 and r.headers["location"] == "/inbox", r.text[:300]
        context.add_cookies([{"name": c.name, "value": c.value, "url": server.url,
                              "httpOnly": True, "sameSite": "Lax"} for c in client.cookies.jar])
    page = context.new_page()
    page.goto(f"{server.url}{path}")
    assert page.url == f"{server.url}{path}", page.url  # signed in: not sent to the login page
    return page
