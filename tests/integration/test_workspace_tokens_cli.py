"""`ev workspace token new / list / revoke` and `ev workspace password` against a real
workspace (issue 15.2, 15.8): tokens are stored hashed, listed with their last use, and a
revoked token or a changed password ends access at once."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from escapevelocity.cli.main import app as ev_app
from escapevelocity.config import Settings
from escapevelocity.web.app import create_app

MENTION = [{"source_id": "t1", "channel": "twitter", "text": "my router is broken",
            "author": {"handle": "someone"}, "created_at": "2026-11-20T13:59:00Z"}]


def ev(workspace, *args: str, input: str | None = None):
    result = CliRunner().invoke(ev_app, ["workspace", *args, "--database", workspace.store.url],
                                env={"COLUMNS": "200"}, input=input)
    return result.exit_code, result.stdout + result.stderr


def test_tokens_are_listed_with_last_use_and_revoked_for_good(workspace, clock):
    web = create_app(workspace, Settings(database_url="unused", secret_key="s" * 32),
                     tick_seconds=None)
    code, out = ev(workspace, "token", "new", "crm-sync")
    token = out.strip().splitlines()[-1]
    assert code == 0 and token.startswith("ev_")
    ev(workspace, "token", "new", "other")
    code, listing = ev(workspace, "token", "list")
    assert code == 0 and "crm-sync" in listing and "never" in listing
    assert token not in listing and token[3:15] not in listing  # no secret shown

    client = TestClient(web)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/mentions", json=MENTION, headers=headers).status_code == 202
    _, listing = ev(workspace, "token", "list")
    crm = next(line for line in listing.splitlines() if "crm-sync" in line)
    assert clock.now().strftime("%Y-%m-%d %H:%M") in crm.split("crm-sync", 1)[1]
    token_id = re.search(r"\b([0-9a-f]{12})\b", crm).group(1)

    code, out = ev(workspace, "token", "revoke", token_id)
    assert code == 0 and "revoked 1 token" in out
    assert client.post("/api/mentions", json=MENTION, headers=headers).status_code == 401
    code, listing = ev(workspace, "token", "list")
    assert "revoked" in next(line for line in listing.splitlines() if "crm-sync" in line)
    assert "live" in next(line for line in listing.splitlines() if "other" in line)
    code, out = ev(workspace, "token", "revoke", "no-such-token")
    assert code == 1 and "no live token" in out


def test_ev_workspace_password_signs_the_member_out_everywhere(workspace):
    web = create_app(workspace, Settings(database_url="unused", secret_key="s" * 32),
                     tick_seconds=None)
    client = TestClient(web)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"member": "ana", "password": "correct horse battery",
                                "csrf": csrf})
    assert client.get("/inbox", follow_redirects=False).status_code == 200
    code, out = ev(workspace, "password", "ana", "--new-password", "another long one")
    assert code == 0, out
    assert client.get("/inbox", follow_redirects=False).status_code == 303
