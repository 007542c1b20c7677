"""Sign-in by OpenID Connect against a real provider on 127.0.0.1 (tests/oidc_provider.py),
SQLite and PostgreSQL: members provisioned or matched by email with roles from the provider's
groups, refusals (no mapped group, a forged token, a replayed state), the provider rotating its
signing keys between two sign-ins, and password sign-in turned off."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from oidc_provider import Provider
from web_kit import PASSWORD, csrf_of

from escapevelocity.adapters import tls  # httpx.get's own TLS context: 38 ms a call
from escapevelocity.services.sso import SsoConfig, parse_roles

ROLES = "ev-admins=admin,ev-hub=community_manager,ev-care=liaison"


@pytest.fixture(scope="module")
def provider():
    with Provider() as op:
        yield op


@pytest.fixture
def sso_app(app, provider):
    app.state.sso_config = SsoConfig(provider.issuer, provider.client_id,
                                     provider.client_secret, parse_roles(ROLES))
    return app


def _sign_in(app, provider, user: dict, client: TestClient | None = None):
    """Through the provider: our redirect, its authorize endpoint, our callback."""
    provider.user = user
    client = client or TestClient(app)
    r = client.get("/login/sso", params={"next": "/team"}, follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"].startswith(provider.issuer)
    back = httpx.get(r.headers["location"], follow_redirects=False, verify=tls.verify())
    assert back.status_code == 302, back.text
    url = urlsplit(back.headers["location"])
    return client, client.get(f"{url.path}?{url.query}", follow_redirects=False)


def _org(workspace):
    with workspace.store.begin() as tx:
        return tx.org.load()


def test_members_are_provisioned_matched_and_given_roles_by_group(sso_app, provider,
                                                                  workspace):
    kim = {"sub": "1", "email": "kim@example.com", "name": "Kim Lee", "groups": ["ev-care"]}
    client, r = _sign_in(sso_app, provider, kim)
    assert r.status_code == 303 and r.headers["location"] == "/team", r.text[:300]
    assert client.get("/inbox").status_code == 200
    member = next(m for m in _org(workspace).members if m.email == "kim@example.com")
    assert (member.id, member.role, member.name) == ("kim", "liaison", "Kim Lee")
    # the same email again is the same member; a new group changes the role
    _, r = _sign_in(sso_app, provider, {**kim, "groups": ["other", "ev-admins"]})
    assert r.status_code == 303
    matched = [m for m in _org(workspace).members if m.email == "kim@example.com"]
    assert [(m.id, m.role) for m in matched] == [("kim", "admin")]
    with workspace.store.begin() as tx:
        log = [(e.data["role"], e.data["provisioned"]) for e in tx.events.stream("member:kim")]
    assert log == [("liaison", True), ("admin", False)]
    # no group that maps to a role: no way in
    _, r = _sign_in(sso_app, provider, {**kim, "groups": ["marketing"]})
    assert r.status_code == 403 and "none of your groups" in r.text


def test_the_provider_rotates_its_keys_between_sign_ins(sso_app, provider):
    user = {"sub": "2", "email": "rot@example.com", "groups": ["ev-hub"]}
    _, r = _sign_in(sso_app, provider, user)
    assert r.status_code == 303
    fetched = provider.jwks_fetches
    provider.rotate()  # a new key id; the old key is no longer published
    client, r = _sign_in(sso_app, provider, user)
    assert r.status_code == 303, r.text[:300]
    assert provider.jwks_fetches > fetched  # the unknown key id made us fetch the keys again
    assert client.get("/inbox").status_code == 200
    provider.forge()  # signed with a key the provider never published
    client, r = _sign_in(sso_app, provider, user)
    assert r.status_code == 401 and "could not be verified" in r.text
    assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_a_callback_without_its_state_is_refused(sso_app, provider):
    provider.user = {"sub": "3", "email": "x@example.com", "groups": ["ev-hub"]}
    first = TestClient(sso_app)
    r = first.get("/login/sso", follow_redirects=False)
    back = urlsplit(httpx.get(r.headers["location"], follow_redirects=False,
                              verify=tls.verify()).headers["location"])
    other = TestClient(sso_app)  # another browser replays the callback
    r = other.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert r.status_code == 401
    assert other.get("/inbox", follow_redirects=False).status_code == 303


def test_password_sign_in_can_be_turned_off(sso_app, provider):
    client = TestClient(sso_app)
    csrf = csrf_of(client.get("/login").text)  # a form loaded while passwords still worked
    cfg = sso_app.state.sso_config
    sso_app.state.sso_config = SsoConfig(cfg.issuer, cfg.client_id, cfg.client_secret,
                                         cfg.roles, password_signin=False)
    page = client.get("/login").text
    assert 'id="sso-login"' in page and 'name="password"' not in page
    r = client.post("/login", data={"member": "ana", "password": PASSWORD, "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 403 and "turned off" in r.text
    assert client.get("/inbox", follow_redirects=False).status_code == 303
