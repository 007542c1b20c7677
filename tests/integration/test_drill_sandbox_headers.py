"""A player's pages in a drill's sandbox are answered by the sandbox's own app behind the live
app's middleware (web/drill_sandbox.py): each security header is sent once, not by both."""

from __future__ import annotations

import msgspec
import pytest
from fastapi.testclient import TestClient
from web_kit import csrf_of, login

from escapevelocity.config import Settings
from escapevelocity.drill.scenario import load
from escapevelocity.services import drill as drills
from escapevelocity.web.app import SECURITY_HEADERS, create_app


@pytest.fixture
def people_drill(tmp_path):
    s = msgspec.structs.replace(load("service-outage"), duration_hours=3)
    drill = drills.Drill.prepare(s, tmp_path / "sandbox.db", fast=True, players=("sam",),
                                 simulated=False)
    drills.RUNNING[s.name] = drill
    yield drill
    drills.RUNNING.pop(s.name, None)


def test_sandbox_pages_send_each_security_header_once(workspace, people_drill):
    settings = Settings(database_url="unused", secret_key="s" * 32, hsts_seconds=3600,
                        trusted_proxies=("127.0.0.1", "testclient"))
    app = create_app(workspace, settings, tick_seconds=None)
    wanted = [*SECURITY_HEADERS, (b"strict-transport-security",
                                  b"max-age=3600; includeSubDomains")]
    with TestClient(app) as client:
        login(client, "sam")
        live = client.get("/inbox")
        page = client.get(f"/drills/{people_drill.scenario.name}")
        r = client.post(f"/drills/{people_drill.scenario.name}/join",
                        data={"csrf": csrf_of(page.text)}, follow_redirects=False)
        assert r.status_code == 303
        sandbox = client.get("/inbox")
        assert sandbox.status_code == 200 and "drill" in sandbox.text.lower()
        assert sandbox.text != live.text  # the sandbox's inbox, not the live one
        for name, value in wanted:
            sent = sandbox.headers.get_list(name.decode())
            assert sent == [value.decode()], (name, sent)
            assert live.headers.get_list(name.decode()) == [value.decode()]
