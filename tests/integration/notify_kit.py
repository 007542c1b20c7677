"""Shared set-up for the notification tests: the demo organisation with email addresses, and
small local receivers (an SMTP server process via aiosmtpd, an HTTP server) on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files

import pytest
import yaml
from channel_kit import POLL_S


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpInbox:
    """What the local SMTP server received (aiosmtpd's handler)."""

    def __init__(self) -> None:
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


@contextmanager
def smtp_inbox() -> Iterator[tuple[SmtpInbox, int]]:
    """A real SMTP server process on 127.0.0.1 for the block: (what it received, its port)."""
    pytest.importorskip("aiosmtpd")
    from aiosmtpd.controller import Controller

    inbox, port = SmtpInbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def with_emails(ws, extra: list[dict] | None = None) -> None:
    org = yaml.safe_load(files("escapevelocity").joinpath("demo", "org.yaml").read_text())
    org["members"] += extra or []
    for m in org["members"]:
        m["email"] = f"{m['id']}@example.test"
    ws.apply_org(yaml.safe_dump(org))


class Receiver:
    """A local HTTP server that records POSTs and answers with the statuses it is given."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[tuple] = []  # (headers, body)
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((self.headers, body))  # case-insensitive
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                reply = receiver.reply if status == 200 else b"{}"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            do_GET = do_POST

            def log_message(self, *args) -> None:
                pass

        self.reply = b"{}"
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": POLL_S}, daemon=True)

    def json(self, i: int) -> dict:
        return json.loads(self.requests[i][1])

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
