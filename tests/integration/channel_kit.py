"""Fakes for the channel tests: a scriptable HTTP server on 127.0.0.1 that serves recorded
payload shapes and misbehaves on purpose, plus the runner wiring.

`FakeHttp(app)` runs `app(method, path, query, headers, body) -> (status, headers, body)` in a
thread on an ephemeral port. `faults` is a queue of misbehaviours consumed one per request:
"timeout" (answers after the client gave up), "429" (Retry-After 7 s; "429-long": an hour),
"500", "503",
"malformed" (a 200 whose body is cut in half), "garbage" (a 200 with an HTML error page),
"401", or None (behave). `restart()` stops and starts the server on the same port; `stop()`
leaves it down (connection refused).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

App = Callable[[str, str, dict, dict, bytes], tuple[int, dict, bytes]]


# How often a fake server's loop looks for a stop: `shutdown()` waits for the loop to look,
# and the standard 0.5 s cost ~0.3 s at every fixture's teardown and restart.
POLL_S = 0.05


class FakeHttp:
    def __init__(self, app: App, *, hang: float = 1.5) -> None:
        self.app = app
        self.hang = hang
        self.faults: deque[str | None] = deque()
        self.requests: list[tuple[str, str]] = []  # (fault or "ok", path)
        self.port = 0
        self.server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def handle_one(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                fault = fake.faults.popleft() if fake.faults else None
                fake.requests.append((fault or "ok", parts.path))
                if fault == "timeout":
                    time.sleep(fake.hang)
                    status, headers, out = 504, {}, b""
                elif fault in ("429", "429-long"):
                    status = 429
                    headers = {"Retry-After": "7" if fault == "429" else "3600"}
                    out = b'{"error":"Too many requests"}'
                elif fault in ("500", "503"):
                    status, headers, out = int(fault), {}, b"<html>upstream sad</html>"
                elif fault == "401":
                    status, headers, out = 401, {}, b'{"error":"The access token is invalid"}'
                else:
                    status, headers, out = fake.app(method, parts.path, parse_qs(parts.query),
                                                    dict(self.headers), body)
                    if fault == "malformed":
                        out = out[: max(1, len(out) // 2)]  # a truncated body
                    elif fault == "garbage":  # a proxy's page where the document should be
                        status, headers, out = 200, {"Content-Type": "text/html"}, (
                            b"<html><body>Service temporarily unavailable</body></html>")
                try:
                    self.send_response(status)
                    headers = {"Content-Type": "application/json", **headers}
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(out)))
                    # One request a connection: a client that reused a kept-alive connection
                    # the server thread was closing met RemoteDisconnected, an extra transient
                    # error the tests' exact retry counts did not plan for (seen under load).
                    self.send_header("Connection", "close")
                    self.close_connection = True
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                self.handle_one("GET")

            def do_POST(self) -> None:
                self.handle_one("POST")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.server.allow_reuse_address = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": POLL_S},
                         daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def count(self, fault: str) -> int:
        return sum(1 for f, _ in self.requests if f == fault)


def json_response(obj, status: int = 200, headers: dict | None = None) -> tuple[int, dict, bytes]:
    return status, headers or {}, json.dumps(obj).encode()


class Sleeps:
    """The runner's injected sleep: records the backoff instead of waiting it."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def runner_for(workspace, *, crisis: bool = False, attempts: int = 4):
    from escapevelocity.adapters.secrets import Sealer
    from escapevelocity.channels.runner import Runner
    from escapevelocity.services.intake import Intake

    sleeps = Sleeps()
    sealer = Sealer("test-workspace-secret-0123456789")
    return Runner(Intake.open(workspace, crisis=crisis), sealer, sleep=sleeps,
                  attempts=attempts), sleeps, sealer


def add_connection(workspace, sealer, name: str, channel: str, settings: dict,
                   secrets: dict | None = None, query: str = "") -> None:
    from escapevelocity.adapters.store import connections as repo

    with workspace.store.begin() as tx:
        tx.connections.add(repo.StoredConnection(name=name, channel=channel, settings=settings,
                                             query=query, sealed=sealer.seal(secrets or {})),
                 workspace.clock.now())


def stored(workspace, channel: str) -> list[str]:
    import sqlalchemy as sa

    from escapevelocity.adapters.store import schema as t

    with workspace.store.begin() as tx:
        return [r[0] for r in tx.conn.execute(sa.select(t.mentions.c.source_id).where(
            t.mentions.c.channel == channel).order_by(t.mentions.c.source_id))]


def connection(workspace, name: str):

    with workspace.store.begin() as tx:
        return tx.connections.get(name)
