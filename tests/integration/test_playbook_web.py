"""The web playbook page: the active version's diagram with hit counts, and the draft check."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_kit import login

from escapevelocity.domain import events as ev
from escapevelocity.domain.events import DECIDED
from escapevelocity.domain.playbook import default_playbook_path
from escapevelocity.web.routes_playbook import rule_hits


@pytest.fixture()
def client(app, workspace, clock):
    ws = workspace
    with ws.store.begin() as tx:
        tx.events.append([
            ev.make(f"c{i}", DECIDED, clock.now(), "system",
                    {"decision": {"rule_id": rule, "playbook_version": version}, "signals": {}})
            for i, (rule, version) in enumerate(
                [("spam", "v1"), ("spam", "v1"), ("complaint", "v1"), ("default", "v1"),
                 ("spam", "v0")])])
    with TestClient(app) as http:
        _, csrf = login(http, "eva", page="/playbook")
        yield http, ws.store, csrf


def test_hit_counts_come_from_decided_events_of_the_active_version(client):
    _, store, _ = client
    with store.begin() as tx:
        assert rule_hits(tx, "v1") == {"spam": 2, "complaint": 1, "default": 1}
        assert rule_hits(tx)["spam"] == 3


def test_page_shows_the_diagram_with_hits(client):
    http, _, _ = client
    page = http.get("/playbook")
    assert page.status_code == 200
    assert "Orbit Telecom default playbook" in page.text and "<svg" in page.text
    assert "2 hits (50%)" in page.text and "4 cases decided" in page.text
    assert http.get("/playbook.svg").headers["content-type"].startswith("image/svg+xml")
    assert http.get("/playbook.mmd").text.startswith("flowchart TD")


def test_draft_check_uses_the_cli_validation_and_escapes(client):
    http, _, csrf = client
    source = Path(default_playbook_path()).read_text()
    bad = source.replace("{author_class: journalist}", "{author_class: '<b>x</b>'}")
    line = source[:source.index("{author_class: journalist}")].count("\n") + 1
    page = http.post("/playbook/check", data={"source": bad, "csrf": csrf})
    assert page.status_code == 422
    assert f"line {line}" in page.text and "unknown author_class" in page.text
    assert "<b>x</b>" not in page.text
    assert http.post("/playbook/check", data={"source": bad}).status_code == 403  # no CSRF
    api = http.post("/api/playbook/check", content=bad.encode())
    assert api.status_code == 422 and api.json()["findings"][0]["line"] == line
    good = http.post("/api/playbook/check",
                     content=Path(default_playbook_path()).read_bytes())
    assert good.status_code == 200 and good.json()["ok"] is True
