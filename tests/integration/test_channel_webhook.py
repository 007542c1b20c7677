"""The signed inbound webhook through the real app: good deliveries are ingested, a bad
signature gets 401 and is logged, a replayed delivery is ignored, a stale one refused."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from escapevelocity.adapters.secrets import Sealer
from escapevelocity.channels.webhook.parse import sign
from escapevelocity.config import Settings
from escapevelocity.web.app import create_app

pytest.importorskip("cryptography")

FIXTURE = Path(__file__).resolve().parents[2] / "src/escapevelocity/channels/webhook/fixtures"
KEY = "s" * 32
SECRET = "whsec_9f2c4e"


@pytest.fixture
def client(workspace):
    from channel_kit import add_connection

    add_connection(workspace, Sealer(KEY), "contact-form", "webhook", {},
                   {"signing_secret": SECRET})
    settings = Settings(database_url="unused", secret_key=KEY, max_body_bytes=200_000,
                        max_batch=50)
    with TestClient(create_app(workspace, settings, tick_seconds=None)) as c:
        yield c


def deliver(client, workspace, body: bytes, delivery: str, *, secret: str = SECRET,
            age: timedelta = timedelta(0)):
    stamp = str(int((workspace.clock.now() - age).timestamp()))
    return client.post("/hooks/contact-form", content=body, headers={
        "Content-Type": "application/json", "X-EV-Timestamp": stamp,
        "X-EV-Delivery": delivery, "X-EV-Signature": sign(secret, stamp, body)})


def payload(i: int, workspace) -> bytes:
    item = json.loads((FIXTURE / "delivery.json").read_text())
    item["source_id"] = f"ticket-{i}"
    item["created_at"] = (workspace.clock.now() - timedelta(minutes=1)).isoformat()
    return json.dumps(item).encode()


def test_webhook_signature_replay_and_window(client, workspace, caplog):
    from channel_kit import stored

    caplog.set_level(logging.INFO, logger="escapevelocity.web.routes_hooks")
    r = deliver(client, workspace, payload(1, workspace), "d-1")
    assert r.status_code == 202 and r.json()["accepted"] == 1

    # The same delivery again (a sender's retry, or an attacker's replay): ignored.
    r = deliver(client, workspace, payload(1, workspace), "d-1")
    assert r.status_code == 200 and r.json() == {"replay": True, "accepted": 0}
    # A replay of a *different* body under a seen id is ignored too.
    r = deliver(client, workspace, payload(2, workspace), "d-1")
    assert r.json()["replay"] is True

    # Signed with the wrong secret: 401, logged, nothing stored.
    caplog.clear()
    r = deliver(client, workspace, payload(3, workspace), "d-3", secret="guess")
    assert r.status_code == 401 and "bad signature" in r.text
    assert any("contact-form: refused (bad signature)" in m for m in caplog.messages)
    assert all(SECRET not in m for m in caplog.messages)

    # A body altered after signing: 401.
    body = payload(4, workspace)
    stamp = str(int(workspace.clock.now().timestamp()))
    r = client.post("/hooks/contact-form", content=body.replace(b"router", b"r0uter"),
                    headers={"X-EV-Timestamp": stamp, "X-EV-Delivery": "d-4",
                             "X-EV-Signature": sign(SECRET, stamp, body)})
    assert r.status_code == 401

    # Correctly signed but ten minutes old: outside the window, refused.
    r = deliver(client, workspace, payload(5, workspace), "d-5", age=timedelta(minutes=10))
    assert r.status_code == 401 and "window" in r.text

    # Unsigned, and an unknown hook.
    assert client.post("/hooks/contact-form", content=payload(6, workspace)).status_code == 401
    assert deliver(client, workspace, b"{}", "d-7").status_code == 422  # signed, not a mention
    assert client.post("/hooks/nope", content=b"{}").status_code == 404

    assert stored(workspace, "web") == ["ticket-1"]
