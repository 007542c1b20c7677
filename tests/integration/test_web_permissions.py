"""Roles and permissions on every endpoint of the web app (SQLite and PostgreSQL).

One table per role over the state-changing endpoints proves what each role may and may not do
(a refusal is a 403 whose page says why; a case outside the member's teams is a 404); the
other tests walk every route of the app: each needs a login (or an API token), each POST needs
the session's CSRF token, the live stream only names visible cases, login never redirects off
site, starts a fresh session, sets safe cookie flags and is throttled.
"""

from __future__ import annotations

import re
from importlib.resources import files
from types import SimpleNamespace

import pytest
import yaml
from engage_kit import LEGAL, SUPPORT, case, events, open_case, with_admin
from fastapi.testclient import TestClient
from web_kit import PASSWORD, login, openapi_paths

from escapevelocity.domain import events as ev
from escapevelocity.services import signin
from escapevelocity.web import live

# The demo organisation's member for each role (demo/org.yaml), plus an added admin.
MEMBER = {"strategist": "sam", "community_manager": "ana", "liaison": "priya",
          "approver": "omar", "analyst": "eva", "agency": "joe", "admin": "ada"}
ROLES = tuple(MEMBER)
EVERYONE = frozenset(ROLES)
DEMO = yaml.safe_load(files("escapevelocity").joinpath("demo", "org.yaml").read_text())
WORKERS = EVERYONE - {"analyst"}  # claim, reply, resolve, notes, tags, corrections
LEADS = frozenset({"strategist", "admin"})  # playbook, drills, incidents, retraining


@pytest.fixture
def app(app, workspace):
    with_admin(workspace)
    workspace.set_password("ada", PASSWORD)
    yield app


# --- what each role may do -------------------------------------------------------------------

class Ctx(SimpleNamespace):
    """One role's client, token and a fresh case in one of its teams' queues."""

    def post(self, url: str, **data):
        return self.client.post(url, data={"csrf": self.csrf, **data}, follow_redirects=False)

    def fresh(self) -> str:
        # the approver works the legal queue; every other role sees the care queue
        return open_case(self.ws, self.clock, LEGAL if self.role == "approver" else SUPPORT)


def _claim(c):
    return c.post(f"/cases/{c.fresh()}/claim")


def _release(c):
    cid = c.fresh()
    c.post(f"/cases/{cid}/claim")
    return c.post(f"/cases/{cid}/release")


def _reply(c):
    cid = c.fresh()
    c.post(f"/cases/{cid}/claim")
    return c.post(f"/cases/{cid}/reply", text="So sorry to hear that. Please DM us.")


def _resolve(c):
    return c.post(f"/cases/{c.fresh()}/resolve")


def _note(c):
    return c.post(f"/cases/{c.fresh()}/notes", text="checked the billing system")


def _tag(c):
    return c.post(f"/cases/{c.fresh()}/tags", add="vip", kind="tag")


def _crm(c):
    return c.post(f"/cases/{c.fresh()}/crm", crm_id="CRM-1001")


def _assign(c):
    cid = c.fresh()
    return c.post(f"/cases/{cid}/assign", to="omar" if c.role == "approver" else "priya")


def _audit(c):
    return c.client.get(f"/cases/{c.fresh()}/audit")


def _bulk(c):
    return c.client.post("/bulk", data={"csrf": c.csrf, "case": [c.fresh()], "action": "tag",
                                        "tags": "outage"})


def _approve(c):
    """Leo (hub) submits a legal reply; the draft waits for the legal approver on call."""
    cid = open_case(c.ws, c.clock, LEGAL)
    leo, leo_csrf = login(c.app, "leo")
    leo.post(f"/cases/{cid}/claim", data={"csrf": leo_csrf})
    leo.post(f"/cases/{cid}/reply", data={"csrf": leo_csrf, "text": "Sorry. Please DM us."})
    [held] = [e for e in events(c.ws, cid) if e.kind == ev.APPROVAL_REQUESTED]
    return c.post(f"/cases/{cid}/drafts/{held.data['draft']}/approve")


def _playbook_save(c):
    with c.ws.store.begin() as tx:
        _, source = tx.playbooks.active()
    return c.post("/playbook/save", source=source + f"\n# reviewed by {c.role}\n",
                  note="reviewed, same rules")


def _correct(c):
    return c.post("/signals/corrections", case_id=c.fresh(), signal="complaint",
                  label="complaint")


def _retrain(c):
    return c.post("/signals/retrain")


def _drill_start(c):
    return c.post("/drills", scenario="no-such-scenario", speed="24")  # 400 once allowed


def _drill_control(c):
    return c.post("/drills/nothing-running/control", action="pause")  # 404 once allowed


def _declare(c):
    return c.post("/incidents/declare", level="watch", reason="spike in outage posts")


def _open_incident(c) -> None:
    mode = c.app.state.intake.crisis
    if mode.state.incident is None:
        mode.declare("watch", by="sam", reason="opened for the test")


def _decision(c):
    _open_incident(c)
    return c.post("/incidents/note", text="post a status update every 30 min", kind="decision")


def _statement(c):
    _open_incident(c)
    return c.post("/incidents/note", text="We are aware and working on it.", kind="statement")


def _stand_down(c):
    _open_incident(c)
    return c.post("/incidents/stand-down", note="fixed")


def _presence(c):
    return c.post("/team/presence", presence="away")


# (what, who may, do it, status when allowed)
TABLE = [
    ("claim", WORKERS, _claim, 303),
    ("release", WORKERS, _release, 303),
    ("reply to", WORKERS, _reply, 303),
    ("resolve", WORKERS, _resolve, 303),
    ("note", WORKERS, _note, 303),
    ("tag", WORKERS, _tag, 303),
    ("crm link", frozenset({"strategist", "community_manager", "liaison", "admin"}), _crm, 303),
    ("assign", frozenset({"strategist", "community_manager", "admin"}), _assign, 303),
    ("audit", EVERYONE - {"agency"}, _audit, 200),
    ("bulk", frozenset({"strategist", "community_manager", "admin"}), _bulk, 200),
    ("approve", frozenset({"strategist", "approver", "admin"}), _approve, 303),
    ("edit playbook", LEADS, _playbook_save, 303),
    ("correct a signal", WORKERS, _correct, 303),
    ("retrain", LEADS, _retrain, 303),
    ("start a drill", LEADS, _drill_start, 400),
    ("control a drill", LEADS, _drill_control, 404),
    ("declare an incident", LEADS, _declare, 303),
    ("add an incident decision", WORKERS, _decision, 303),
    ("add a holding statement", frozenset({"strategist", "approver", "admin"}), _statement, 303),
    ("stand down", LEADS, _stand_down, 303),
    ("set own presence", EVERYONE, _presence, 303),
]
# A refusal is 403, except where the case itself is out of the member's sight (404): the
# approval test's case is legal, which the care liaison and the care agency cannot see.
OUT_OF_SIGHT = {("approve", "liaison"), ("approve", "agency")}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_exactly_what_its_row_allows(app, workspace, clock, role):
    client, csrf = login(app, MEMBER[role])
    c = Ctx(app=app, ws=workspace, clock=clock, role=role, client=client, csrf=csrf)
    wrong = []
    for what, may, do, ok in TABLE:
        r = do(c)
        if role in may:
            if r.status_code != ok:
                wrong.append(f"{what}: allowed but got {r.status_code} {r.text[:160]!r}")
        elif (what, role) in OUT_OF_SIGHT:
            if r.status_code != 404:
                wrong.append(f"{what}: out of sight but got {r.status_code}")
        elif r.status_code != 403 or "may not" not in r.text:
            wrong.append(f"{what}: should be refused with a reason, got {r.status_code} "
                         f"{r.text[:160]!r}")
    assert not wrong, f"{role} ({MEMBER[role]}):\n" + "\n".join(wrong)


def test_a_refused_case_action_changes_nothing_and_says_why(app, workspace, clock):
    cid = open_case(workspace, clock, SUPPORT)
    eva, csrf = login(app, "eva")  # analyst: dashboards only
    before = [e.kind for e in events(workspace, cid)]
    r = eva.post(f"/cases/{cid}/claim", data={"csrf": csrf}, headers={"HX-Request": "1"})
    assert r.status_code == 403 and 'id="case"' in r.text  # the panel, swapped in place
    assert "You may not claim this case" in r.text and "roles that may" in r.text
    r = eva.post(f"/cases/{cid}/resolve", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 403 and "may not resolve" in r.text
    assert [e.kind for e in events(workspace, cid)] == before
    assert case(workspace, cid).claimed_by is None


# --- scope: a case outside the member's teams does not exist for them ------------------------

def _case_routes(app) -> list[tuple[str, str]]:
    paths = openapi_paths(app)
    return [(method.upper(), path) for path, ops in paths.items() if "{case_id}" in path
            for method in ops]


@pytest.mark.parametrize("member,text", [("priya", LEGAL), ("joe", LEGAL), ("omar", SUPPORT)])
def test_every_case_route_is_404_outside_the_member_s_teams(app, workspace, clock, member,
                                                            text):
    cid = open_case(workspace, clock, text)
    client, csrf = login(app, member)
    before = [e.kind for e in events(workspace, cid)]
    routes = _case_routes(app)
    assert len(routes) >= 12
    from escapevelocity.services import tokens  # /api/v1 (issue 21): the member's own token

    secret, _ = tokens.create(workspace.store, clock, by=member, name="scope")
    bearer = {"Authorization": f"Bearer {secret}"}
    for method, path in routes:
        url = (path.replace("{case_id}", cid).replace("{draft_id}", "d1")
               .replace("{action}", "approve"))
        if path.startswith("/api/v1/"):
            r = TestClient(app).request(method, url, headers=bearer, json={
                "text": "x", "add": ["vip"], "note": "x", "signal": "complaint",
                "label": "complaint"} if method == "POST" else None)
        else:
            r = client.request(method, url, data={"csrf": csrf, "text": "x", "add": "vip"}
                               if method == "POST" else None, follow_redirects=False)
        assert r.status_code == 404, (member, method, path, r.status_code)
        assert "Bearer" not in r.text and text[:20] not in r.text
    r = client.post("/signals/corrections", data={"csrf": csrf, "case_id": cid,
                                                  "signal": "complaint", "label": "complaint"})
    assert r.status_code == 404
    r = client.post("/bulk", data={"csrf": csrf, "case": [cid], "action": "tag", "tags": "x"})
    assert "no such case in your teams" in r.text or r.status_code == 403
    assert [e.kind for e in events(workspace, cid)] == before
    assert cid not in client.get("/inbox").text and cid not in client.get("/bulk").text


def test_the_live_stream_names_only_cases_the_member_may_see(app, workspace, clock):
    care, legal = open_case(workspace, clock, SUPPORT), open_case(workspace, clock, LEGAL)
    org = app.state.org()

    def seen(member: str, request=None) -> set[str]:
        _, changes = live._changes(request or SimpleNamespace(app=app), org.member(member), 0)
        return {c["case"] for c in changes}

    assert care in seen("priya") and legal not in seen("priya")
    assert legal in seen("omar") and care not in seen("omar")
    assert {care, legal} <= seen("ana")  # the hub sees its spokes
    assert legal not in seen("joe")  # agency: its own team only
    # a stream opened while ana was on the hub follows the organisation as it is now
    moved = [m if m["id"] != "ana" else {"id": "ana", "name": "Ana", "role": "liaison",
                                      "teams": ["sales"]} for m in DEMO["members"]]
    apply = {**DEMO, "members": moved}
    workspace.apply_org(yaml.safe_dump(apply))
    with workspace.store.begin() as tx:
        now = tx.org.load()
    request = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(
        workspace=workspace, feed=app.state.feed, org=lambda: now)))
    assert seen("ana", request) == set()  # neither care nor legal any more


# --- every route: login, CSRF ----------------------------------------------------------------

# /readyz: for load balancers (it says only whether the database and NATS answer)
PUBLIC = {"/healthz", "/readyz", "/login", "/api/openapi.json", "/api/docs"}


def _all_routes(app) -> list[tuple[str, str]]:
    out = []
    for path, ops in openapi_paths(app).items():
        url = (path.replace("{case_id}", "c000000000000").replace("{draft_id}", "d1")
               .replace("{action}", "approve").replace("{number}", "1")
               .replace("{name}", "x").replace("{incident_id}", "incident:x"))
        out += [(method.upper(), url) for method in ops]
    return out


def test_every_route_needs_a_login_and_every_post_the_csrf_token(app, workspace):
    routes = _all_routes(app)
    assert len(routes) > 40
    with TestClient(app) as anon:
        for method, url in routes:
            if url in PUBLIC:
                continue
            r = anon.request(method, url, follow_redirects=False)
            if url.startswith("/hooks/"):
                # inbound webhooks sign their bodies instead (HMAC, channels/webhook): an
                # unsigned delivery is refused, for a connection that exists or not
                assert r.status_code in (401, 404), (method, url, r.status_code)
            elif (url.startswith("/live") or url in ("/api/mentions", "/api/auto-replies")
                  or url.startswith("/api/v1/")):  # the API: tokens only, never cookies
                assert r.status_code == 401, (method, url)
            else:  # to the login page, or refused outright by the CSRF check
                assert ((r.status_code == 303 and r.headers["location"].startswith("/login"))
                        or r.status_code == 403), (method, url, r.status_code)
    client, csrf = login(app, "sam")
    for method, url in routes:
        if url.startswith("/api/v1/"):  # a signed-in browser is not a token: 401
            r = client.request(method, url, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 401, (method, url, r.status_code)
            continue
        if (method != "POST" or url.startswith("/hooks/")
                or url in ("/login", "/api/mentions", "/api/auto-replies",
                           "/api/playbook/check")):
            continue
        r = client.post(url, data={"csrf": "forged"}, follow_redirects=False)
        assert r.status_code == 403 and "did not come from this site" in r.text, url
        r = client.post(url, data={}, headers={"X-CSRF-Token": csrf + "x"},
                        follow_redirects=False)
        assert r.status_code == 403, url
    spec = client.get("/api/openapi.json").text
    assert "s" * 32 not in spec and "secret" not in spec.lower()  # routes only, no secrets


# --- login: redirects, session, cookies, throttling -----------------------------------------

OFF_SITE = ["https://evil.example/", "//evil.example/", "/\\evil.example", "\\\\evil.example",
            "/\t/evil.example", "/\n/evil.example", "javascript:alert(1)", "https:evil.example",
            "/inbox\r\nSet-Cookie: x=1"]


def test_login_never_redirects_off_site_or_splits_headers(app):
    client = TestClient(app)
    for target in OFF_SITE:
        page = client.get("/login", params={"next": target})
        assert "evil.example" not in page.text and "Set-Cookie" not in page.text, target
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        r = client.post("/login", data={"member": "sam", "password": PASSWORD, "csrf": csrf,
                                        "next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/inbox", target
        assert "set-cookie: x" not in str(r.headers).lower()
    r = client.get("/login", params={"next": "/cases/c0123456789ab?msg=hi"})
    assert 'value="/cases/c0123456789ab?msg=hi"' in r.text  # a path on this site is kept


def test_login_starts_a_fresh_session_with_safe_cookies(app):
    client = TestClient(app)
    page = client.get("/login")
    before = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"member": "sam", "password": PASSWORD, "csrf": before},
                    follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "ev_session=" in cookie
    after = re.search(r'data-csrf="([^"]+)"', client.get("/inbox").text).group(1)
    assert after != before  # a token planted before login is worth nothing after it
    r = client.post("/logout", data={"csrf": after}, follow_redirects=False)
    assert r.status_code == 303
    assert client.get("/inbox", follow_redirects=False).status_code == 303
    headers = client.get("/login").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"


def test_login_is_throttled_per_member_after_repeated_failures(app, workspace):
    client = TestClient(app)
    for _ in range(signin.PAIR_LIMIT):
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        r = client.post("/login", data={"member": "sam", "password": "guess", "csrf": csrf})
        assert r.status_code == 401 and "do not match" in r.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"member": "sam", "password": PASSWORD, "csrf": csrf})
    assert r.status_code == 401 and "Too many failed attempts" in r.text  # even the right one

    def rows() -> int:
        with workspace.store.begin() as tx:
            return tx.count("login_failures")

    size = rows()
    for _ in range(20):  # attempts refused by the throttle are not counted again
        client.post("/login", data={"member": " SAM ", "password": "x", "csrf": csrf})
    assert rows() == size
