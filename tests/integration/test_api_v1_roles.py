"""Each demo role × each /api/v1 route, with a personal token of that role's member (SQLite
and PostgreSQL): allowed, or refused the way the pages refuse it (403 with a reason, or 404 for
a case out of the member's sight).

The role sets are the page table's (test_web_permissions.py: WORKERS, EVERYONE, …), so a route
the API allows and the page refuses, or the reverse, fails here. Every /api/v1 route must have
a row (`test_every_route_has_a_row`).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from engage_kit import LEGAL, SUPPORT, events, open_case
from fastapi.testclient import TestClient
from test_web_permissions import EVERYONE, MEMBER, ROLES, WORKERS, app  # noqa: F401
from web_kit import openapi_paths

from escapevelocity.domain import events as ev
from escapevelocity.services import cases as commands
from escapevelocity.services import tokens

SCOPES = ["cases:read", "cases:act", "reports", "admin"]
REOPENERS = frozenset({"strategist", "community_manager", "liaison", "admin"})
DECIDERS = frozenset({"strategist", "approver", "admin"})
CONFIGURERS = frozenset({"strategist", "admin"})


class Api(SimpleNamespace):
    def get(self, url: str, **kw):
        return self.client.get(url, headers=self.headers, **kw)

    def post(self, url: str, json=None):
        return self.client.post(url, headers=self.headers, json=json)

    def fresh(self) -> str:
        # as the page table: the approver works the legal queue, every other role care's
        return open_case(self.ws, self.clock, LEGAL if self.role == "approver" else SUPPORT)

    def claimed(self) -> str:
        cid = self.fresh()
        self.post(f"/api/v1/cases/{cid}/claim")
        return cid


def _resolved(c) -> str:
    cid = c.fresh()
    commands.resolve(c.ws.store, c.clock, cid, "sam")
    return cid


def _draft(c) -> tuple[str, str]:
    """Leo (hub) replies to a legal case; the draft waits for the legal approver on call."""
    cid = open_case(c.ws, c.clock, LEGAL)
    commands.claim(c.ws.store, c.clock, cid, "leo")
    commands.reply(c.ws.store, c.clock, cid, "leo", "Sorry. Please DM us.")
    [held] = [e for e in events(c.ws, cid) if e.kind == ev.APPROVAL_REQUESTED]
    return cid, held.data["draft"]


def _approve(c):
    cid, draft = _draft(c)
    return c.post(f"/api/v1/cases/{cid}/drafts/{draft}/approve", {})


def _reject(c):
    cid, draft = _draft(c)
    return c.post(f"/api/v1/cases/{cid}/drafts/{draft}/reject", {"note": "not this wording"})


def _incident(c):
    mode = c.app.state.intake.crisis
    if mode.state.incident is None:
        mode.declare("watch", by="sam", reason="opened for the test")
    return c.get(f"/api/v1/incidents/{mode.state.incident}")


def _service_token(c):
    return c.post("/api/v1/tokens", {"name": "crm", "kind": "service",
                                     "scopes": ["cases:read"], "member": "ana"})


def _revoke_own(c):
    made = c.post("/api/v1/tokens", {"name": "spare", "scopes": ["cases:read"]}).json()
    return c.client.delete(f"/api/v1/tokens/{made['info']['id']}", headers=c.headers)


def _other_team_case(c):
    """A care case: the legal approver does not see it (404 as on the page)."""
    return c.get(f"/api/v1/cases/{open_case(c.ws, c.clock, SUPPORT)}")


ALL = EVERYONE
# (method path as in the OpenAPI description, who may, do it, status when allowed,
#  status for the others: 403, or 404 when the case is out of their sight)
TABLE = [
    ("GET /api/v1/cases", ALL, lambda c: c.get("/api/v1/cases"), 200, {}),
    ("GET /api/v1/search", ALL, lambda c: c.get("/api/v1/search?q=bill"), 200, {}),
    ("GET /api/v1/cases/{case_id}", ALL, lambda c: c.get(f"/api/v1/cases/{c.fresh()}"), 200,
     {}),
    ("GET /api/v1/cases/{case_id} (another team's)", ALL - {"approver"}, _other_team_case,
     200, {"approver": 404}),
    ("POST /api/v1/cases/{case_id}/claim", WORKERS,
     lambda c: c.post(f"/api/v1/cases/{c.fresh()}/claim"), 200, {}),
    ("POST /api/v1/cases/{case_id}/release", WORKERS,
     lambda c: c.post(f"/api/v1/cases/{c.claimed()}/release"), 200, {}),
    ("POST /api/v1/cases/{case_id}/reply", WORKERS,
     lambda c: c.post(f"/api/v1/cases/{c.claimed()}/reply",
                      {"text": "So sorry to hear that. Please DM us."}), 200, {}),
    ("POST /api/v1/cases/{case_id}/resolve", WORKERS,
     lambda c: c.post(f"/api/v1/cases/{c.fresh()}/resolve", {}), 200, {}),
    ("POST /api/v1/cases/{case_id}/reopen", REOPENERS,
     lambda c: c.post(f"/api/v1/cases/{_resolved(c)}/reopen", {}), 200, {}),
    ("POST /api/v1/cases/{case_id}/notes", WORKERS,
     lambda c: c.post(f"/api/v1/cases/{c.fresh()}/notes", {"text": "checked billing"}), 200,
     {}),
    ("POST /api/v1/cases/{case_id}/tags", WORKERS,
     lambda c: c.post(f"/api/v1/cases/{c.fresh()}/tags", {"add": ["vip"]}), 200, {}),
    ("POST /api/v1/cases/{case_id}/corrections", WORKERS,
     lambda c: c.post(f"/api/v1/cases/{c.fresh()}/corrections",
                      {"signal": "complaint", "label": "complaint"}), 200, {}),
    ("POST /api/v1/cases/{case_id}/drafts/{draft_id}/approve", DECIDERS, _approve, 200,
     {"liaison": 404, "agency": 404}),
    ("POST /api/v1/cases/{case_id}/drafts/{draft_id}/reject", DECIDERS, _reject, 200,
     {"liaison": 404, "agency": 404}),
    ("GET /api/v1/org", ALL, lambda c: c.get("/api/v1/org"), 200, {}),
    ("GET /api/v1/me", ALL, lambda c: c.get("/api/v1/me"), 200, {}),
    ("GET /api/v1/authors/{channel}/{handle}", ALL, lambda c: c.get(
        "/api/v1/authors/twitter/" + c.get(f"/api/v1/cases/{c.fresh()}").json()["case"][
            "author_handle"]), 200, {}),
    ("GET /api/v1/incidents", ALL, lambda c: c.get("/api/v1/incidents"), 200, {}),
    ("GET /api/v1/incidents/{incident_id}", ALL, _incident, 200, {}),
    ("GET /api/v1/playbook/versions", ALL, lambda c: c.get("/api/v1/playbook/versions"), 200,
     {}),
    ("GET /api/v1/playbook/versions/{number}", ALL,
     lambda c: c.get("/api/v1/playbook/versions/1"), 200, {}),
    ("POST /api/v1/playbook/check", ALL,
     lambda c: c.post("/api/v1/playbook/check", {"source": "name: x"}), 200, {}),
    ("POST /api/v1/playbook/explain", ALL,
     lambda c: c.post("/api/v1/playbook/explain", {"text": "my bill is wrong"}), 200, {}),
    ("GET /api/v1/kpis", ALL, lambda c: c.get("/api/v1/kpis"), 200, {}),
    ("GET /api/v1/events", ALL, lambda c: c.get("/api/v1/events"), 200, {}),
    ("GET /api/v1/tokens", ALL, lambda c: c.get("/api/v1/tokens"), 200, {}),
    ("POST /api/v1/tokens", CONFIGURERS, _service_token, 201, {}),
    ("DELETE /api/v1/tokens/{token_id}", ALL, _revoke_own, 200, {}),
    # personal tokens never ingest: mentions come from service tokens (scope, not role)
    ("POST /api/v1/mentions", frozenset(), lambda c: c.post("/api/v1/mentions", {}), 202, {}),
]


@pytest.fixture
def api(app, workspace, clock):  # noqa: F811
    def make(role: str) -> Api:
        secret, _ = tokens.create(workspace.store, clock, by=MEMBER[role], name="table",
                                  scopes=SCOPES)
        return Api(app=app, ws=workspace, clock=clock, role=role, client=TestClient(app),
                   headers={"Authorization": f"Bearer {secret}"})
    return make


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_through_the_api_exactly_what_the_pages_allow(api, role):
    c = api(role)
    wrong = []
    for what, may, do, ok, other in TABLE:
        r = do(c)
        if role in may:
            if r.status_code != ok:
                wrong.append(f"{what}: allowed but got {r.status_code} {r.text[:200]!r}")
            continue
        want = other.get(role, 403)
        body = r.json()
        if r.status_code != want or set(body) != {"error"} or not body["error"]["message"]:
            wrong.append(f"{what}: should be {want} with a reason, got {r.status_code} "
                         f"{r.text[:200]!r}")
    assert not wrong, f"{role} ({MEMBER[role]}):\n" + "\n".join(wrong)


def test_every_route_has_a_row(app):  # noqa: F811
    routes = {f"{method.upper()} {path}" for path, item in openapi_paths(app).items()
              if path.startswith("/api/v1/") for method in item}
    rows = {what.split(" (")[0] for what, *_ in TABLE}
    assert routes == rows, (routes - rows, rows - routes)
