"""The notifications pages over a real store: a member sees and marks only their own, saves
preferences (validated), and the admin outbound switch refuses non-admins."""

from __future__ import annotations

import re

import pytest
from engage_kit import open_case, with_admin
from fastapi.testclient import TestClient

from escapevelocity.config import Settings
from escapevelocity.services import annotate, outbound
from escapevelocity.services.notify import Notifier
from escapevelocity.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def app(workspace):
    with_admin(workspace)
    for m in ("ana", "priya", "omar", "ada"):
        workspace.set_password(m, PASSWORD)
    return create_app(workspace, Settings(database_url="unused", secret_key="t" * 32),
                      tick_seconds=None)


def login(client: TestClient, member: str) -> str:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"member": member, "password": PASSWORD, "csrf": csrf,
                                "next": "/inbox"}, follow_redirects=False)
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/notifications").text).group(1)


def test_members_see_and_mark_only_their_own(app, workspace, clock):
    notifier = Notifier(workspace.store, clock)
    notifier.sweep()  # switched on: it reads the log from here
    cid = open_case(workspace, clock)
    annotate.note(workspace.store, clock, cid, "ana", "@priya and @omar, <b>look</b>")
    notifier.sweep()
    with workspace.store.begin() as tx:
        omar_id = tx.notifications.latest("omar")[0]["id"]
    with TestClient(app) as client:
        csrf = login(client, "priya")
        page = client.get("/notifications").text
        assert 'id="bell-count">1<' in page and "mentioned you" in page
        assert "<b>look</b>" not in page and "&lt;b&gt;look&lt;/b&gt;" in page  # escaped
        assert client.get("/notifications/count").json()["unread"] == 1
        client.post("/notifications/read", data={"csrf": csrf, "id": str(omar_id)})
        with workspace.store.begin() as tx:
            assert tx.notifications.unread_count("omar") == 1  # not hers to mark
        client.post("/notifications/read", data={"csrf": csrf})
        assert client.get("/notifications/count").json()["unread"] == 0

        r = client.post("/notifications/prefs", data={
            "csrf": csrf, "kind_assigned": "on", "via_slack": "on", "quiet_start": "22:00",
            "quiet_end": "07:00", "slack_url": "https://hooks.example.test/T1"},
            follow_redirects=False)
        assert r.status_code == 303
        with workspace.store.begin() as tx:
            prefs = tx.notifications.prefs("priya")
        assert prefs.transports == ["web", "slack"] and "mention" in prefs.muted
        assert "assigned" not in prefs.muted and prefs.quiet_start == "22:00"
        bad = client.post("/notifications/prefs", data={
            "csrf": csrf, "slack_url": "http://127.0.0.1:5432/"}, follow_redirects=False)
        assert bad.status_code == 422


def test_only_admins_switch_outbound_to_live(app, workspace):
    with TestClient(app) as client:
        csrf = login(client, "priya")
        r = client.post("/admin/outbound", data={"csrf": csrf, "mode": "live"},
                        follow_redirects=False)
        assert r.status_code == 403
        client.cookies.clear()
        csrf = login(client, "ada")
        r = client.post("/admin/outbound", data={"csrf": csrf, "mode": "live",
                                                  "connection": "mastodon"},
                        follow_redirects=False)
        assert r.status_code == 303
        assert "mastodon: <strong>live</strong>" in client.get("/admin/webhooks").text
    assert outbound.mode(workspace.store).live("mastodon")
    assert not outbound.mode(workspace.store).live("twitter")
