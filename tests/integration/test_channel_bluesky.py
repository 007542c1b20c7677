"""Bluesky end to end: the Jetstream connector (websockets) against a fake Jetstream on
127.0.0.1 that replays the recorded event shapes (channels/bluesky/fixtures) from a cursor,
drops the connection mid-stream, refuses with 429 and sends garbage."""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections import deque
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from channel_kit import add_connection, connection, runner_for, stored

pytest.importorskip("websockets")

FIXTURES = Path(__file__).resolve().parents[2] / "src/escapevelocity/channels/bluesky/fixtures"


class FakeJetstream:
    def __init__(self, now) -> None:
        lines = [json.loads(x) for x in (FIXTURES / "jetstream.jsonl").read_text().splitlines()]
        self.identity, self.post, self.like, self.reply, self.delete, self.account = lines
        self.events: list[dict] = []
        self.t = int(now.timestamp() * 1_000_000) - 600_000_000
        self.now = now
        self.faults: deque[str] = deque()
        self.handshakes: list[str] = []
        self.server = None
        self.port = 0

    def add(self, n: int, text: str = "@acme.com my parcel is stuck, where is it?") -> list[str]:
        uris = []
        for i in range(n):
            self.t += 1000
            e = copy.deepcopy(self.post if i % 3 else self.reply)
            e["time_us"] = self.t
            e["did"] = f"did:plc:user{i % 4}"
            e["commit"]["rkey"] = f"3l{self.t}"
            e["commit"]["record"]["text"] = f"{text} ({self.t})"
            e["commit"]["record"]["createdAt"] = self.now.isoformat()
            self.events.append(e)
            uris.append(f"at://{e['did']}/app.bsky.feed.post/{e['commit']['rkey']}")
            if i % 5 == 0:  # likes and deletes are on the wire too and are not mentions
                self.t += 1
                other = copy.deepcopy(self.like if i % 2 else self.delete)
                other["time_us"] = self.t
                self.events.append(other)
        return uris

    def handler(self, ws) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        cursor = int((query.get("cursor") or ["0"])[0])
        drop = self.faults.popleft() if self.faults and self.faults[0].startswith(
            ("drop", "garbage")) else None
        sent = 0
        for e in self.events:
            if e["time_us"] <= cursor:
                continue
            if drop == "garbage" and sent == 2:
                ws.send("{not json")
            ws.send(json.dumps(e))
            sent += 1
            if drop and drop.startswith("drop:") and sent == int(drop[5:]):
                ws.socket.close()  # the server restarts mid-stream: no close frame
                return
        with contextlib.suppress(Exception):
            ws.recv(timeout=5)  # stay open, idle, until the client leaves

    def process_request(self, ws, request):
        self.handshakes.append(request.path)
        if self.faults and self.faults[0] in ("429", "503"):
            status = int(self.faults.popleft())
            response = ws.respond(status, "slow down\n")
            if status == 429:
                response.headers["Retry-After"] = "7"
            return response
        return None

    def start(self) -> None:
        from websockets.sync.server import serve

        self.server = serve(self.handler, "127.0.0.1", self.port,
                            process_request=self.process_request, compression=None)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server = None


@pytest.fixture
def fake(workspace):
    f = FakeJetstream(workspace.clock.now())
    f.start()
    yield f
    f.stop()


def test_jetstream_resumes_from_cursor_after_drops_and_refusals(workspace, fake):
    runner, sleeps, sealer = runner_for(workspace, attempts=5)
    first = fake.add(30)
    fake.add(4, text="lovely weather today")  # the query drops them
    add_connection(workspace, sealer, "sky", "bluesky",
                   {"jetstream_url": f"ws://127.0.0.1:{fake.port}/subscribe",
                    "idle_seconds": 0.3, "timeout": 2, "max_events": 20},
                   query="acme OR parcel")
    fake.faults.extend(["429", "503", "drop:7", "garbage"])
    r = runner.poll("sky")
    assert r.error == "" and r.health == "degraded" and r.retries == 2
    assert 7 in sleeps.waits
    assert r.kept == 30 and (r.accepted, r.duplicates) == (30, 0)
    assert r.pages >= 3  # the drop ended one page early, max_events split the rest
    assert stored(workspace, "bluesky") == sorted(first)
    c = connection(workspace, "sky")
    assert int(c.cursor) == fake.events[-1]["time_us"]
    assert "wantedCollections=app.bsky.feed.post" in fake.handshakes[-1]

    fake.stop()  # Jetstream goes away while people post
    later = fake.add(12)
    assert runner.poll("sky").health == "failing"
    fake.start()  # the same port
    r = runner.poll("sky")
    assert r.health == "connected" and (r.accepted, r.duplicates) == (12, 0)
    assert f"cursor={c.cursor}" in fake.handshakes[-1]  # resumed where it stopped
    assert stored(workspace, "bluesky") == sorted(first + later)
