"""The access policy through the routes (SQLite and PostgreSQL): access that ends with its
reason (issue 15.6), what each role's pages offer, expired claims, and errors that are pages
for people and JSON for the API.

The role × action table of every state-changing route is test_web_permissions.py; this file
adds the read routes, the reason-bound access of approvers and the error answers.
"""

from __future__ import annotations

import pytest
from engage_kit import LEGAL, SUPPORT, events, open_case
from test_web_permissions import MEMBER, app, login  # noqa: F401  (app is a fixture)
from web_kit import openapi_paths

from escapevelocity.domain import events as ev
from escapevelocity.services import approvals

READS = ("/cases/{id}", "/cases/{id}/panel", "/cases/{id}/engage", "/cases/{id}/audit")


def _agency_draft(app, workspace, clock) -> tuple[str, str]:  # noqa: F811
    """Ana (hub, care) replies to a care case with words on the risk list: approval is routed
    by its reason, legal risk to legal, so the draft goes to the approver on call there, Omar,
    who works the legal queue, not care's. (Joe's, the agency's, goes to the hub now.)"""
    cid = open_case(workspace, clock, SUPPORT)
    ana, csrf = login(app, "ana")
    assert ana.post(f"/cases/{cid}/claim", data={"csrf": csrf}).status_code == 200
    ana.post(f"/cases/{cid}/reply", data={"csrf": csrf,
                                          "text": "Sorry, we are on it. Guaranteed."})
    [held] = [e for e in events(workspace, cid) if e.kind == ev.APPROVAL_REQUESTED]
    assert held.data["approver"] == "omar"
    return cid, held.data["draft"]


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_an_approver_loses_another_team_s_case_once_he_decides_its_draft(
        app, workspace, clock, decision):  # noqa: F811
    """Issue 15.6: the draft is Omar's reason to see a care case; deciding it ends the reason,
    so the case, its engagement and audit pages and its note and tag forms answer 404."""
    cid, draft = _agency_draft(app, workspace, clock)
    omar, csrf = login(app, "omar")
    for path in READS:
        r = omar.get(path.format(id=cid))
        assert r.status_code == 200, (path, r.status_code)
    r = omar.post(f"/cases/{cid}/notes", data={"csrf": csrf, "text": "checking the wording"},
                  follow_redirects=False)
    assert r.status_code == 303  # a note while deciding is part of deciding
    r = omar.post(f"/cases/{cid}/drafts/{draft}/{decision}",
                  data={"csrf": csrf, "note": "not this wording"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    before = [e.kind for e in events(workspace, cid)]
    for path in READS:
        r = omar.get(path.format(id=cid))
        assert r.status_code == 404, (path, r.status_code)
        assert "Sorry, we are on it" not in r.text
    for url, data in ((f"/cases/{cid}/notes", {"text": "one more thing"}),
                      (f"/cases/{cid}/tags", {"add": "vip", "kind": "tag"}),
                      (f"/cases/{cid}/claim", {})):
        r = omar.post(url, data={"csrf": csrf, **data}, follow_redirects=False)
        assert r.status_code == 404, (url, r.status_code)
    assert [e.kind for e in events(workspace, cid)] == before
    assert cid not in omar.get("/approvals", params={"everyone": "1"}).text


def test_deciding_a_draft_is_not_working_the_case(app, workspace, clock):  # noqa: F811
    """While the draft waits, the approver of another team may view, note, read the trail and
    decide: tagging, claiming and handing the case on stay with its team."""
    cid, _ = _agency_draft(app, workspace, clock)
    omar, csrf = login(app, "omar")
    for url, data in ((f"/cases/{cid}/tags", {"add": "legal", "kind": "tag"}),
                      (f"/cases/{cid}/claim", {})):
        r = omar.post(url, data={"csrf": csrf, **data}, follow_redirects=False)
        assert r.status_code == 403 and "only to decide" in r.text, (url, r.status_code)
    page = omar.get(f"/cases/{cid}/engage").text
    assert f'action="/cases/{cid}/notes"' in page
    assert f'action="/cases/{cid}/tags"' not in page


def test_an_escalated_draft_moves_the_approver_s_access_with_it(app, workspace, clock):  # noqa: F811
    cid, _ = _agency_draft(app, workspace, clock)
    omar, _ = login(app, "omar")
    assert omar.get(f"/cases/{cid}").status_code == 200
    clock.advance(minutes=16)  # the approval SLA (15 min) ran out
    approvals.tick(workspace.store, clock)
    [moved] = [e for e in events(workspace, cid) if e.kind == ev.APPROVAL_ESCALATED]
    assert moved.data["to"] != "omar"
    assert omar.get(f"/cases/{cid}").status_code == 404  # now sam's to decide, not his


@pytest.mark.parametrize("role", sorted(MEMBER))
def test_each_role_reads_the_case_routes_the_policy_allows(app, workspace, clock, role):  # noqa: F811
    """Every read route of a case in the member's queue: the case, its panel and engagement
    page for everyone; the audit trail for the roles that may read it (not agency)."""
    cid = open_case(workspace, clock, LEGAL if role == "approver" else SUPPORT)
    client, _ = login(app, MEMBER[role])
    for path in READS:
        r = client.get(path.format(id=cid))
        want = 403 if (role == "agency" and path.endswith("/audit")) else 200
        assert r.status_code == want, (role, path, r.status_code)
        assert 'class="topbar"' in r.text or path.endswith("/panel")
    page = client.get(f"/cases/{cid}").text
    assert ('id="claim"' in page) == (role != "analyst")  # the button only where it works
    assert ("Correct a signal" in page) == (role != "analyst")
    assert ("audit trail</a>" in page) == (role != "agency")


def test_an_expired_claim_is_shown_as_held_by_nobody(app, workspace, clock):  # noqa: F811
    cid = open_case(workspace, clock, SUPPORT)
    tom, csrf = login(app, "tom")
    tom.post(f"/cases/{cid}/claim", data={"csrf": csrf})
    priya, _ = login(app, "priya")
    assert "Being answered by" in priya.get(f"/cases/{cid}").text
    assert "<strong>tom</strong>" in priya.get("/inbox/rows").text
    clock.advance(minutes=11)  # the lease ran out
    page = priya.get(f"/cases/{cid}").text
    assert "Being answered by" not in page and 'id="claim"' in page
    assert "<strong>tom</strong>" not in priya.get("/inbox/rows").text


# --- errors: a page in the layout for people, JSON for the API ------------------------------

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def _is_page(r, status: int) -> None:
    assert r.status_code == status, r.text[:200]
    assert r.headers["content-type"].startswith("text/html")
    assert 'class="topbar"' in r.text and 'id="back"' in r.text  # the layout, a way back
    assert '{"detail"' not in r.text


def test_refusals_and_missing_cases_are_pages_for_browsers(app, workspace, clock):  # noqa: F811
    cid = open_case(workspace, clock, SUPPORT)
    legal = open_case(workspace, clock, LEGAL)
    joe, csrf = login(app, "joe")
    for url in ("/cases/c000000000000", f"/cases/{legal}", f"/cases/{legal}/engage",
                "/cases/not-a-case", f"/cases/{legal}/audit"):
        _is_page(joe.get(url, headers=BROWSER), 404)
    _is_page(joe.get(f"/cases/{cid}/audit", headers=BROWSER), 403)  # agency reads no trails
    r = joe.post(f"/cases/{cid}/drafts/d1/fly", data={"csrf": csrf}, headers=BROWSER)
    _is_page(r, 404)  # an approval link with an unknown action
    eva, csrf = login(app, "eva")  # analyst: may not correct signals
    came_from = {**BROWSER, "Referer": f"http://testserver/cases/{cid}"}
    r = eva.post("/signals/corrections", headers=came_from, data={
        "csrf": csrf, "case_id": cid, "signal": "complaint", "label": "complaint"})
    _is_page(r, 403)
    assert f'href="/cases/{cid}"' in r.text  # back to the page the member came from
    r = eva.post("/signals/corrections", data={"csrf": csrf, "case_id": cid}, headers=BROWSER)
    _is_page(r, 422)  # a form missing fields: which ones, on a page


def test_the_api_and_json_clients_get_json(app, workspace, clock):  # noqa: F811
    joe, _ = login(app, "joe")
    r = joe.get("/cases/c000000000000", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json() == {
        "detail": "There is no such case in your teams' inboxes."}
    r = joe.post("/api/mentions", content=b"{}", headers=BROWSER)
    assert r.status_code == 401 and "API token" in r.json()["detail"]


# --- the draft routes, per role ---------------------------------------------------------------

# Leo (hub) submits a legal reply; it waits for Omar. What each role gets on each draft route:
# 303 done, 403 refused with the reason, 404 the case is out of their sight.
DRAFT_ROUTES = {
    "strategist": {"edit": 303, "alternative": 403, "withdraw": 403, "reject": 303},
    "admin": {"edit": 303, "alternative": 403, "withdraw": 303, "reject": 409},  # withdrawn
    "community_manager": {"edit": 403, "alternative": 403, "withdraw": 403, "reject": 403},
    "liaison": {"edit": 404, "alternative": 404, "withdraw": 404, "reject": 404},
    "approver": {"edit": 303, "alternative": 403, "withdraw": 403, "reject": 303},
    "analyst": {"edit": 403, "alternative": 403, "withdraw": 403, "reject": 403},
    "agency": {"edit": 404, "alternative": 404, "withdraw": 404, "reject": 404},
}


@pytest.mark.parametrize("role", sorted(DRAFT_ROUTES))
def test_each_role_on_each_draft_route(app, workspace, clock, role):  # noqa: F811
    cid = open_case(workspace, clock, LEGAL)
    leo, leo_csrf = login(app, "leo")
    leo.post(f"/cases/{cid}/claim", data={"csrf": leo_csrf})
    leo.post(f"/cases/{cid}/reply", data={"csrf": leo_csrf, "text": "Sorry. Please DM us."})
    [held] = [e for e in events(workspace, cid) if e.kind == ev.APPROVAL_REQUESTED]
    client, csrf = login(app, MEMBER[role])
    got = {}
    for action in ("edit", "alternative", "withdraw", "reject"):
        r = client.post(f"/cases/{cid}/drafts/{held.data['draft']}/{action}",
                        data={"csrf": csrf, "text": "We are sorry; please DM us.",
                              "note": "softer, please"}, follow_redirects=False)
        got[action] = r.status_code
        if r.status_code == 403:
            assert "may not" in r.text or "only the submitter" in r.text or (
                "not in the approval rotation" in r.text), (action, r.text[:300])
    assert got == DRAFT_ROUTES[role]
    r = leo.post(f"/cases/{cid}/drafts/{held.data['draft']}/alternative",
                 data={"csrf": leo_csrf, "text": "Another wording."}, follow_redirects=False)
    assert r.status_code == (303 if role in ("community_manager", "liaison", "analyst", "agency")
                             else 409)  # the submitter, while the draft still waits


def test_the_approval_queue_offers_to_decide_only_what_the_member_may(app, workspace, clock):  # noqa: F811
    cid = open_case(workspace, clock, LEGAL)
    sam, csrf = login(app, "sam")  # the strategist submits a legal reply himself
    sam.post(f"/cases/{cid}/claim", data={"csrf": csrf})
    sam.post(f"/cases/{cid}/reply", data={"csrf": csrf, "text": "Sorry. Please DM us."})
    page = sam.get("/approvals", params={"everyone": "1"}).text
    assert f'id="decide-{cid}"' in page and "Your own draft" in page
    assert f'action="/cases/{cid}/drafts/' not in page
    omar, _ = login(app, "omar")
    page = omar.get("/approvals").text
    assert f'action="/cases/{cid}/drafts/' in page and f'id="decide-{cid}"' not in page


SKIP_PAGES = {"/live", "/healthz", "/login", "/api/docs", "/api/openapi.json", "/",
              "/wall"}  # the wall is a kiosk page: no top bar, by design (tested on its own)


@pytest.mark.parametrize("role", sorted(MEMBER))
def test_every_page_without_a_case_renders_in_the_layout_for_every_role(app, role):  # noqa: F811
    """Pages filter by the policy, never refuse a logged-in member outright: each role gets
    each page (with what it may see and do on it)."""
    client, _ = login(app, MEMBER[role])
    pages = [p for p, ops in openapi_paths(app).items()
             if "get" in ops and "{" not in p and p not in SKIP_PAGES
             and not p.startswith("/api/")]
    assert len(pages) >= 10
    from escapevelocity.domain import permissions as perm

    for path in pages:
        r = client.get(path)
        if (path == "/admin" or path.startswith("/admin/")) and not perm.allowed(
                (role,), perm.CONFIGURE):
            # administration pages are for the roles that configure the workspace; others
            # get the app's not-found page, in the layout, not a bare refusal
            assert r.status_code == 404, (role, path, r.status_code)
        else:
            assert r.status_code == 200, (role, path, r.status_code)
        if r.headers["content-type"].startswith("text/html") and "<html" in r.text:
            assert 'class="topbar"' in r.text, (role, path)


def test_a_form_too_large_is_a_page_and_the_api_s_is_json(app):  # noqa: F811
    client, csrf = login(app, "priya")
    big = "x" * (app.state.settings.max_body_bytes + 10)
    r = client.post("/cases/c000000000000/notes", data={"csrf": csrf, "text": big},
                    headers=BROWSER)
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert 'id="back"' in r.text and '{"detail"' not in r.text
    r = client.post("/api/mentions", content=big.encode(), headers=BROWSER)
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
