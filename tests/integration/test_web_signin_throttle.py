"""The sign-in throttle (issue 15.7): one spelling of a member name; counted per member and
client in the database (every process shares it); strangers cannot lock a member out of a
browser they signed in from; X-Forwarded-For believed only from EV_TRUSTED_PROXIES."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from fastapi.testclient import TestClient

from escapevelocity.config import Settings
from escapevelocity.services import signin
from escapevelocity.web.app import create_app

PASSWORD = "correct horse battery"


def app_for(workspace, **settings):
    return create_app(workspace, Settings(database_url="unused", secret_key="s" * 32,
                                          **settings), tick_seconds=None)


def attempt(client: TestClient, member: str, password: str, **headers) -> int:
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    return client.post("/login", data={"member": member, "password": password, "csrf": csrf},
                       headers=headers, follow_redirects=False).status_code


def browser(app, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


def test_padded_or_cased_names_are_one_member_to_the_throttle(workspace):
    app = app_for(workspace)
    client = browser(app, "10.0.0.7")
    for name in [" ana", "ANA ", "Ana", "ana\t", "\u00a0ana"][:signin.PAIR_LIMIT]:
        assert attempt(client, name, "wrong") == 401
    assert attempt(client, "ana", PASSWORD) == 401  # throttled: the password is not tried
    assert attempt(browser(app, "10.0.0.8"), "ana", PASSWORD) == 303  # elsewhere: fine


def test_strangers_cannot_lock_a_member_out_of_a_browser_she_signed_in_from(workspace):
    app = app_for(workspace)
    ana = browser(app, "10.0.0.1")
    assert attempt(ana, "ana", PASSWORD) == 303
    ana.post("/logout", data={"csrf": re.search(r'name="csrf" value="([^"]+)"',
                                                ana.get("/inbox").text).group(1)})
    for i in range(6):  # a distributed guess: six addresses, many wrong passwords each
        stranger = browser(app, f"203.0.113.{i}")
        for _ in range(signin.PAIR_LIMIT + 2):
            attempt(stranger, "ana", "guess")
        assert attempt(stranger, "ana", PASSWORD) == 401  # the stranger is throttled
    assert attempt(ana, "ana", PASSWORD) == 303  # her own browser still signs her in
    with workspace.store.begin() as tx:
        counts = tx.signin.failure_counts(["m:ana"], workspace.clock.now(), signin.WINDOW)
    assert counts["m:ana"] <= signin.MEMBER_LIMIT + 6  # throttled attempts are not counted


def test_failures_counted_by_one_process_throttle_another(db_url, workspace):
    """Five failures made by another Python process, then the correct password here."""
    script = textwrap.dedent(f"""
        import re
        from datetime import datetime, UTC
        from fastapi.testclient import TestClient
        from escapevelocity.config import Settings
        from escapevelocity.domain.clock import FixedClock
        from escapevelocity.services.workspace import Workspace
        from escapevelocity.web.app import create_app
        ws = Workspace.open({db_url!r}, FixedClock({workspace.clock.now()!r}), migrate=False)
        app = create_app(ws, Settings(database_url="unused", secret_key="s" * 32),
                         tick_seconds=None)
        c = TestClient(app, client=("10.0.0.9", 40000))
        for _ in range({signin.PAIR_LIMIT}):
            csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
            assert c.post("/login", data={{"member": "ana", "password": "x", "csrf": csrf}}
                          ).status_code == 401
    """).replace("datetime.datetime", "datetime").replace("datetime.timezone.utc", "UTC")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    app = app_for(workspace)
    assert attempt(browser(app, "10.0.0.9"), "ana", PASSWORD) == 401
    assert attempt(browser(app, "10.0.0.10"), "ana", PASSWORD) == 303


def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(workspace):
    app = app_for(workspace)
    client = browser(app, "10.0.0.5")
    for i in range(signin.CLIENT_LIMIT):  # spraying names, a new "address" each time
        attempt(client, f"nobody{i}", "x", **{"X-Forwarded-For": f"198.51.100.{i}"})
    assert attempt(client, "sam", PASSWORD, **{"X-Forwarded-For": "192.0.2.1"}) == 401

    proxied = app_for(workspace, trusted_proxies=("10.0.0.254",))
    proxy = browser(proxied, "10.0.0.254")
    for i in range(signin.CLIENT_LIMIT):
        attempt(proxy, f"someone{i}", "x", **{"X-Forwarded-For": "198.51.100.77"})
    assert attempt(proxy, "sam", PASSWORD, **{"X-Forwarded-For": "198.51.100.77"}) == 401
    assert attempt(proxy, "sam", PASSWORD, **{"X-Forwarded-For": "192.0.2.8"}) == 303


@pytest.mark.parametrize("name", ["ana\x00", "\x00", "a\x1bna", "a\u2028na", "x" * 64])
def test_names_no_member_can_have_are_refused_not_a_server_error(workspace, name):
    """The API fuzz found a NUL byte in the name was a 500 on PostgreSQL."""
    client = browser(app_for(workspace), "10.0.0.11")
    assert attempt(client, name, PASSWORD) == 401


@pytest.mark.parametrize("value", ["10.0.0.1,bogus", "not an address"])
def test_a_bad_trusted_proxy_setting_is_refused_at_start(value, tmp_path):
    from escapevelocity.config import load_settings

    with pytest.raises(ValueError, match="EV_TRUSTED_PROXIES"):
        load_settings({"EV_VAR_DIR": str(tmp_path), "EV_TRUSTED_PROXIES": value})
