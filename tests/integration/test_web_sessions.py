"""Sessions are server-side records (issue 15.2): a copied cookie dies on logout, a password
change, a role change or removal, on every replica; a session slides forward while in use.
Both databases."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from escapevelocity.config import Settings
from escapevelocity.services.workspace import Workspace
from escapevelocity.web.app import create_app

PASSWORD = "correct horse battery"
SETTINGS = Settings(database_url="unused", secret_key="s" * 32)


@pytest.fixture
def app(workspace):
    return create_app(workspace, SETTINGS, tick_seconds=None)


def login(app, member: str = "ana") -> TestClient:
    client = TestClient(app)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"member": member, "password": PASSWORD, "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    return client


def copy_of(client: TestClient, app) -> TestClient:
    """Another browser holding the same cookie (a stolen or copied cookie)."""
    other = TestClient(app)
    other.cookies.set("ev_session", client.cookies["ev_session"])
    return other


def signed_in(client: TestClient) -> bool:
    return client.get("/inbox", follow_redirects=False).status_code == 200


def csrf(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/inbox").text).group(1)


def test_a_copied_cookie_dies_with_logout(app):
    ana = login(app)
    thief = copy_of(ana, app)
    token = csrf(thief)
    assert signed_in(thief)
    assert ana.post("/logout", data={"csrf": csrf(ana)}, follow_redirects=False
                    ).status_code == 303
    assert not signed_in(thief) and not signed_in(ana)
    r = thief.post("/cases/c000000000001/notes", data={"csrf": token, "text": "still here"},
                   follow_redirects=False)
    assert r.status_code in (303, 401, 403)  # never a write


def test_a_password_change_ends_every_session_of_that_member_only(app, workspace):
    ana, ana2, priya = login(app), login(app), login(app, "priya")
    thief = copy_of(ana, app)
    workspace.set_password("ana", "a new password 2")  # what `ev workspace password` does
    assert not signed_in(ana) and not signed_in(ana2) and not signed_in(thief)
    assert signed_in(priya)


def test_a_role_change_or_removal_ends_the_member_s_sessions(app, workspace):
    ana, priya, mei = login(app), login(app, "priya"), login(app, "mei")
    org = files("escapevelocity").joinpath("demo/org.yaml").read_text("utf-8")
    changed = org.replace("role: community_manager, teams: [hub, care]",
                          "role: liaison, teams: [hub, care]")
    changed = re.sub(r"\n  - \{id: mei,[^\n]*", "", changed)
    assert "id: mei," not in changed and "Ana Silva,      role: liaison" in changed
    workspace.apply_org(changed)
    assert not signed_in(ana) and not signed_in(mei)
    assert signed_in(priya)


def test_sessions_slide_forward_while_used_and_end_when_idle(app, clock):
    ana = login(app)
    for _ in range(4):  # 4 × 11 h: more than the 12 h idle limit, but used every 11 h
        clock.advance(hours=11)
        assert signed_in(ana)
    clock.advance(hours=12, minutes=1)
    assert not signed_in(ana)


def test_sessions_end_seven_days_after_sign_in_however_busy(app, clock):
    ana = login(app)
    for _ in range(20):
        clock.advance(hours=11)
        if not signed_in(ana):
            break
    assert not signed_in(ana)
    assert clock.now().day - 20 in range(6, 8)


def test_a_session_works_on_every_replica_and_logout_ends_it_on_all(db_url, clock, workspace):
    other = Workspace.open(db_url, clock, migrate=False)  # a second web process
    try:
        one = create_app(workspace, SETTINGS, tick_seconds=None)
        two = create_app(other, SETTINGS, tick_seconds=None)
        ana = login(one)
        on_two = copy_of(ana, two)
        assert signed_in(on_two)
        ana.post("/logout", data={"csrf": csrf(ana)})
        assert not signed_in(on_two)
    finally:
        other.store.close()


def test_only_the_hash_of_a_session_id_is_stored(app, workspace):
    ana = login(app)
    cookie = ana.cookies["ev_session"]
    with workspace.store.begin() as tx:
        rows = tx.conn.execute(sa.text("SELECT id_hash, member FROM sessions")).all()
    assert [r.member for r in rows] == ["ana"]
    assert rows[0].id_hash not in cookie and len(rows[0].id_hash) == 64


def test_the_migration_makes_the_tables_schema_py_declares(workspace):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from escapevelocity.adapters.store.schema import metadata

    mine = {"sessions", "login_failures", "api_tokens"}
    with workspace.store.engine.connect() as tx:
        diff = compare_metadata(MigrationContext.configure(tx), metadata)

    def table_of(d):
        d = d[0] if isinstance(d, list) else d
        for part in d[1:]:
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            if isinstance(part, sa.Table):
                return part.name
            if hasattr(part, "table"):
                return part.table.name
            if name in mine:
                return name
        return None

    ours = [d for d in diff if table_of(d) in mine]
    assert ours == []
