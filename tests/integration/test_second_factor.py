"""The second factor (SQLite and PostgreSQL): an admin makes roles require one; a member of
such a role without one may not reply publicly or approve on the page, through the API or by
the service commands the CLI uses; TOTP enrolment with a QR code and recovery codes turns it
on; sign-in then asks for a code (each good once; recovery codes spent when used)."""

from __future__ import annotations

import re

import pyotp
import pytest
from engage_kit import LEGAL, SUPPORT, events, open_case
from fastapi.testclient import TestClient
from web_kit import PASSWORD, csrf_of, login

from escapevelocity.domain import events as ev
from escapevelocity.domain.access import SecondFactorRequired
from escapevelocity.services import approvals, second_factor, tokens
from escapevelocity.services import cases as commands


def _require(app, roles):
    sam, csrf = login(app, "sam", page="/settings/security")
    data = {"csrf": csrf, **{f"role_{r}": "on" for r in roles}}
    r = sam.post("/settings/security/roles", data=data)
    assert r.status_code == 200 and "Saved" in r.text


def _api(workspace, clock, member):
    secret, _ = tokens.create(workspace.store, clock, by=member, name="t")
    return {"Authorization": f"Bearer {secret}"}


def test_no_path_sends_words_without_a_required_second_factor(app, workspace, clock):
    _require(app, ["community_manager", "approver"])
    ana, csrf = login(app, "ana")
    cid = open_case(workspace, clock, SUPPORT)
    assert ana.post(f"/cases/{cid}/claim", data={"csrf": csrf}).status_code == 200
    page = ana.get(f"/cases/{cid}").text
    assert f'action="/cases/{cid}/reply"' not in page  # the page offers no send
    r = ana.post(f"/cases/{cid}/reply", data={"csrf": csrf, "text": "Sorry! We are on it."},
                 follow_redirects=False)
    assert r.status_code == 403 and "second factor" in r.text
    api = TestClient(app, headers=_api(workspace, clock, "ana"))
    r = api.post(f"/api/v1/cases/{cid}/reply", json={"text": "Sorry! We are on it."})
    assert r.status_code == 403 and r.json()["error"]["code"] == "second_factor_required"
    with pytest.raises(SecondFactorRequired):  # the commands `ev` and every page call
        commands.reply(workspace.store, clock, cid, "ana", "Sorry! We are on it.")
    # a note, a tag, a resolve: not words to the customer, still allowed
    assert api.post(f"/api/v1/cases/{cid}/notes", json={"text": "fyi"}).status_code == 200
    # the approver on call may not approve either
    legal = open_case(workspace, clock, LEGAL)
    commands.claim(workspace.store, clock, legal, "leo")  # leo's role needs none
    commands.reply(workspace.store, clock, legal, "leo", "Sorry. Please DM us.")
    [held] = [e for e in events(workspace, legal) if e.kind == ev.APPROVAL_REQUESTED]
    omar = TestClient(app, headers=_api(workspace, clock, "omar"))
    r = omar.post(f"/api/v1/cases/{legal}/drafts/{held.data['draft']}/approve", json={})
    assert r.status_code == 403 and r.json()["error"]["code"] == "second_factor_required"
    with pytest.raises(SecondFactorRequired):
        approvals.approve(workspace.store, clock, legal, "omar", held.data["draft"])
    assert ev.REPLIED not in [e.kind for e in events(workspace, cid)]
    assert ev.REPLIED not in [e.kind for e in events(workspace, legal)]

    # Ana enrols: QR code, a code from her app, recovery codes once; then she may reply.
    settings = ana.get("/settings/security").text
    r = ana.post("/settings/security/start", data={"csrf": csrf_of(settings)})
    assert 'src="data:image/svg+xml' in r.text
    secret = re.search(r'id="factor-secret">([A-Z2-7]+)<', r.text).group(1)
    wrong = ana.post("/settings/security/confirm", data={"csrf": csrf, "code": "000000"})
    assert wrong.status_code == 422
    code = pyotp.TOTP(secret).at(clock.now())
    r = ana.post("/settings/security/confirm", data={"csrf": csrf, "code": code})
    codes = re.findall(r"<li><code>([0-9a-f]{6}-[0-9a-f]{6})</code></li>", r.text)
    assert r.status_code == 200 and len(codes) == 10
    assert codes[0] not in ana.get("/settings/security").text  # shown once
    r = ana.post(f"/cases/{cid}/reply", data={"csrf": csrf, "text": "Sorry! We are on it."},
                 follow_redirects=False)
    assert r.status_code == 303
    assert ev.REPLIED in [e.kind for e in events(workspace, cid)]
    with workspace.store.begin() as tx:
        kinds = [e.kind for e in tx.events.since(0, 10_000)]
    assert ev.SECOND_FACTOR_ROLES in kinds and ev.SECOND_FACTOR_ENROLLED in kinds

    # Sign-in now asks for a code after the password: each code good once.
    fresh = TestClient(app)
    form = csrf_of(fresh.get("/login").text)
    r = fresh.post("/login", data={"member": "ana", "password": PASSWORD, "csrf": form},
                   follow_redirects=False)
    assert r.headers["location"] == "/login/second-factor"
    step = csrf_of(fresh.get("/login/second-factor").text)
    replay = fresh.post("/login/second-factor", data={"csrf": step, "code": code})
    assert replay.status_code == 401  # the code that confirmed enrolment is spent
    r = fresh.post("/login/second-factor", data={"csrf": step, "code": codes[0]},
                   follow_redirects=False)
    assert r.status_code == 303 and fresh.get("/inbox").status_code == 200
    assert second_factor.remaining_recovery(workspace.store, "ana") == 9
    again = TestClient(app)
    form = csrf_of(again.get("/login").text)
    again.post("/login", data={"member": "ana", "password": PASSWORD, "csrf": form})
    step = csrf_of(again.get("/login/second-factor").text)
    assert again.post("/login/second-factor",
                      data={"csrf": step, "code": codes[0]}).status_code == 401
    clock.advance(seconds=60)
    r = again.post("/login/second-factor", data={
        "csrf": step, "code": pyotp.TOTP(secret).at(clock.now())}, follow_redirects=False)
    assert r.status_code == 303
    half = TestClient(app)  # the password alone starts no session
    form = csrf_of(half.get("/login").text)
    half.post("/login", data={"member": "ana", "password": PASSWORD, "csrf": form})
    assert half.get("/inbox", follow_redirects=False).status_code == 303


def test_only_admins_set_the_roles(app, workspace, clock):
    ana, csrf = login(app, "ana", page="/settings/security")
    r = ana.post("/settings/security/roles", data={"csrf": csrf, "role_liaison": "on"})
    assert r.status_code == 403
    assert second_factor.required_roles(workspace.store) == frozenset()


def test_ev_security_roles_and_reset(workspace, clock):
    from typer.testing import CliRunner

    from escapevelocity.cli.main import app as ev_app

    def ev_(*args):
        r = CliRunner().invoke(ev_app, ["security", *args, "--database", workspace.store.url])
        return r.exit_code, r.stdout + r.stderr

    assert ev_("roles", "liaison", "approver", "--as", "ana")[0] == 1  # not an admin
    code, out = ev_("roles", "liaison", "approver", "--as", "sam")
    assert code == 0 and "approver, liaison" in out
    assert second_factor.required_roles(workspace.store) == {"liaison", "approver"}
    second_factor.start(workspace.store, clock, "priya")
    secret = second_factor.pending(workspace.store, "priya").secret
    second_factor.confirm(workspace.store, clock, "priya", pyotp.TOTP(secret).at(clock.now()))
    assert second_factor.enrolled(workspace.store, "priya")
    assert ev_("reset", "priya", "--as", "tom")[0] == 1
    assert ev_("reset", "priya", "--as", "sam")[0] == 0
    assert not second_factor.enrolled(workspace.store, "priya")
    assert ev_("roles", "--clear", "--as", "sam")[0] == 0
    assert ev_("roles")[1].strip() == "no role requires a second factor"
