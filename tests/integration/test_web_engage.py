"""The engagement pages over a real store (SQLite and PostgreSQL): an approval-required reply
sent from the case page is held, no web form sends it without the approver, the approver edits
and approves it; notes, tags, bulk and the audit trail, with hostile text escaped."""

from __future__ import annotations

import pytest
from engage_kit import LEGAL, SUPPORT, events, open_case, with_admin
from web_kit import PASSWORD, login

from escapevelocity.domain import events as ev

XSS = '<script>window.__xss=1</script>'


@pytest.fixture
def app(app, workspace):
    with_admin(workspace)
    workspace.set_password("ada", PASSWORD)
    return app


def replies(ws, cid):
    return [e for e in events(ws, cid) if e.kind == ev.REPLIED]


def test_a_held_reply_is_sent_only_when_the_approver_approves(app, workspace, clock):
    cid = open_case(workspace, clock, LEGAL)
    ana, csrf = login(app, "ana")
    ana.post(f"/cases/{cid}/claim", data={"csrf": csrf})
    ana.post(f"/cases/{cid}/reply", data={"csrf": csrf, "text": "Sorry. Please DM us."})
    assert replies(workspace, cid) == []
    [held] = [e for e in events(workspace, cid) if e.kind == ev.APPROVAL_REQUESTED]
    draft = held.data["draft"]
    page = ana.get(f"/cases/{cid}/engage")
    assert "with <strong>omar</strong>" in page.text and "Withdraw" in page.text
    # every web form the submitter or a colleague could use: none sends it
    r = ana.post(f"/cases/{cid}/drafts/{draft}/approve", data={"csrf": csrf})
    assert r.status_code == 403 and "may not approve" in r.text
    r = ana.post(f"/cases/{cid}/reply", data={"csrf": csrf, "text": "again"})
    r = ana.post("/bulk", data={"csrf": csrf, "case": [cid], "action": "resolve"})
    assert "awaiting approval" in r.text
    sam, _sam_csrf = login(app, "sam")
    r = sam.post(f"/cases/{cid}/drafts/{draft}/approve",
                 data={"csrf": "forged", "text": "x"})
    assert r.status_code == 403
    assert replies(workspace, cid) == []

    omar, omar_csrf = login(app, "omar")
    queue = omar.get("/approvals")
    assert "Sorry. Please DM us." in queue.text and "from <strong>ana</strong>" in queue.text
    assert 'data-outbound="dry_run">Approve and send private reply (dry run)</button>' \
        in queue.text
    r = omar.post(f"/cases/{cid}/drafts/{draft}/approve", follow_redirects=False,
                  data={"csrf": omar_csrf, "text": "We're sorry. Please DM us today."})
    assert r.status_code == 303 and r.headers["location"].startswith("/approvals")
    [sent] = replies(workspace, cid)
    assert sent.data["text"] == "We're sorry. Please DM us today."
    assert sent.data["approved_by"] == "omar" and sent.actor == "ana"
    r = omar.post(f"/cases/{cid}/drafts/{draft}/approve", data={"csrf": omar_csrf})
    assert r.status_code == 409 and len(replies(workspace, cid)) == 1


def test_rejection_needs_a_note_and_the_submitter_sees_it(app, workspace, clock):
    cid = open_case(workspace, clock, LEGAL)
    ana, csrf = login(app, "ana")
    ana.post(f"/cases/{cid}/claim", data={"csrf": csrf})
    ana.post(f"/cases/{cid}/reply", data={"csrf": csrf, "text": "We admit fault."})
    draft = next(e for e in events(workspace, cid)
                 if e.kind == ev.APPROVAL_REQUESTED).data["draft"]
    ana.post(f"/cases/{cid}/drafts/{draft}/alternative",
             data={"csrf": csrf, "text": "We're sorry, please DM us."})
    omar, oc = login(app, "omar")
    assert omar.post(f"/cases/{cid}/drafts/{draft}/reject",
                     data={"csrf": oc, "note": ""}).status_code in (409, 422)
    omar.post(f"/cases/{cid}/drafts/{draft}/reject", data={"csrf": oc, "note": XSS + " no"})
    page = ana.get(f"/cases/{cid}/engage")
    assert "rejected" in page.text and XSS not in page.text and "&lt;script&gt;" in page.text
    assert replies(workspace, cid) == []


def test_notes_tags_audit_and_mentions_pages_escape_and_check_roles(app, workspace, clock):
    cid = open_case(workspace, clock, SUPPORT)
    ana, csrf = login(app, "ana")
    r = ana.post(f"/cases/{cid}/notes", data={"csrf": csrf, "text": f"@priya look {XSS}"},
                 follow_redirects=True)
    assert "told priya" in r.text and XSS not in r.text
    ana.post(f"/cases/{cid}/tags", data={"csrf": csrf, "add": "billing vip", "kind": "tag"})
    r = ana.post(f"/cases/{cid}/tags", data={"csrf": csrf, "add": "<b>", "kind": "tag"})
    assert r.status_code == 409 and "tag" in r.text
    priya, _ = login(app, "priya")
    page = priya.get("/mentions")
    assert cid in page.text and XSS not in page.text and "&lt;script&gt;" in page.text
    audit = ana.get(f"/cases/{cid}/audit")
    assert audit.status_code == 200 and "tags +billing +vip" in audit.text
    assert "note_added" not in audit.text and "note added" in audit.text
    joe, _ = login(app, "joe")
    assert joe.get(f"/cases/{cid}/audit").status_code == 403  # agency: no audit trail
    eva, _ = login(app, "eva")
    assert eva.get("/approvals").status_code == 200  # analyst: told, not shown
    assert "does not approve" in eva.get("/approvals").text


def test_bulk_reports_per_case_and_refuses_roles_without_it(app, workspace, clock):
    ids = [open_case(workspace, clock, SUPPORT) for _ in range(3)]
    legal = open_case(workspace, clock, LEGAL)
    ana, csrf = login(app, "ana")
    r = ana.post("/bulk", data={"csrf": csrf, "case": [*ids, legal, "cffffffffffff"],
                                "action": "tag", "tags": "outage"})
    assert r.status_code == 200 and r.text.count("✓ tagged") == 4  # the hub sees legal too
    assert "✗ no such case in your teams" in r.text
    priya, pc = login(app, "priya")
    r = priya.post("/bulk", data={"csrf": pc, "case": ids, "action": "resolve"})
    assert r.status_code == 403 and "may not bulk" in r.text
    r = ana.post("/bulk", data={"csrf": csrf, "case": ids, "action": "resolve"})
    assert r.text.count("✓ resolved") == 3
