"""The admin pages and the no-dead-end pages over a real store (SQLite and PostgreSQL):
only admins reach /admin; deactivating and reactivating a member, a customer CSV import and a
bad vocabulary are each an audited event or a refusal in words; who may declare an incident is
a setting; an approver whose decision took the case out of their sight lands on a page that
says what they did; a breached SLA and what the ladder did are on the case page."""

from __future__ import annotations

from engage_kit import LEGAL, SUPPORT, open_case
from web_kit import login

from escapevelocity.domain import events as ev
from escapevelocity.services import admin, approvals, cases
from escapevelocity.services.sla import tick


def _org_events(ws) -> list:
    with ws.store.begin() as tx:
        return tx.events.of_kinds((ev.ORG_CHANGED,))


def test_admin_pages_change_the_org_and_audit_each_change(app, workspace):
    ana, _ = login(app, "ana")  # community manager: no admin pages
    r = ana.get("/admin/members")
    assert r.status_code == 404 and "for admins" in r.text and 'id="back"' in r.text

    sam, csrf = login(app, "sam", page="/admin/members")
    r = sam.post("/admin/members/joe/deactivate", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    with workspace.store.begin() as tx:
        assert tx.org.load().member("joe") is None
    page = sam.get("/admin/members").text
    assert 'id="deactivated"' in page and "Joe Rivera" in page
    r = sam.post("/admin/members/joe/reactivate", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    with workspace.store.begin() as tx:
        back = tx.org.load().member("joe")
    assert back is not None and back.role == "agency" and back.teams == ["care"]

    # a new member with a password can log in; the log says the password was set, not what
    r = sam.post("/admin/members", data={
        "csrf": csrf, "id": "kai", "name": "Kai <i>Li</i>", "role": "liaison",
        "teams": "care", "skills": "billing 3", "languages": "en, fr", "capacity": "5",
        "tz": "Europe/Berlin", "days": ["mon", "tue"], "start": "09:00", "end": "17:00",
        "holidays": "2026-12-24", "password": "a long password here"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:400]
    login(app, "kai", "a long password here")
    with workspace.store.begin() as tx:
        kai = tx.org.load().member("kai")
    assert kai.skills == {"billing": 3} and kai.shift.days == ["mon", "tue"]
    assert "Kai &lt;i&gt;Li&lt;/i&gt;" in sam.get("/admin/members").text
    # a lead cannot be deactivated until someone else leads
    r = sam.post("/admin/members/tom/deactivate", data={"csrf": csrf})
    assert r.status_code == 409 and "leads or is on call for team care" in r.text

    csv = ("crm_id,name,handles,lists\nC1,Kim Lee,twitter:kim;bluesky:kim.bsky.social,vip\n"
           "C2,<b>Bo</b>,bo,\n")
    r = sam.post("/admin/customers", data={"csrf": csrf, "text": csv},
                 files={"file": ("", b"", "text/csv")}, follow_redirects=False)
    assert r.status_code == 303, r.text[:500]
    listed = sam.get("/admin/customers").text
    assert "2 customers" in listed and "&lt;b&gt;Bo&lt;/b&gt;" in listed
    r = sam.post("/admin/customers", data={"csrf": csrf, "text": "name\nx\n"},
                 files={"file": ("", b"", "text/csv")})
    assert r.status_code == 422 and "crm_id" in r.text

    r = sam.post("/admin/vocabulary", data={"csrf": csrf, "text": "influencer_followers: -3\n"})
    assert r.status_code == 422 and 'id="admin-error"' in r.text

    changes = [(e.section, e.target, e.change, e.actor) for e in _org_events(workspace)]
    assert ("members", "joe", "deactivated", "sam") in changes
    assert ("members", "joe", "reactivated", "sam") in changes
    assert ("customers", "customers", "imported", "sam") in changes
    assert ("members", "kai", "created", "sam") in changes
    assert ("members", "kai", "password set", "sam") in changes
    assert len(changes) == 5  # refusals write nothing
    assert "a long password" not in str([e.data for e in _org_events(workspace)])
    deactivated = next(e for e in _org_events(workspace) if e.change == "deactivated")
    assert deactivated.before["role"] == "agency"  # the record, so it can be put back


def test_who_may_declare_an_incident_is_a_setting(app, workspace):
    nina, nina_csrf = login(app, "nina", page="/incidents")  # liaison in PR
    r = nina.post("/incidents/declare", data={"level": "crisis1", "csrf": nina_csrf})
    assert r.status_code == 403 and "may not declare" in r.text
    sam, csrf = login(app, "sam", page="/admin/settings")
    r = sam.post("/admin/settings", data={"csrf": csrf, "declarers": ["strategist", "admin"],
                                          "declarer_members": "nina"}, follow_redirects=False)
    assert r.status_code == 303
    assert admin.settings(workspace.store).incident_declarers == ["strategist", "admin", "nina"]
    r = nina.post("/incidents/declare", data={"level": "crisis1", "csrf": nina_csrf},
                  follow_redirects=False)
    assert r.status_code == 303 and "/incidents/incident:" in r.headers["location"]
    r = sam.post("/admin/settings", data={"csrf": csrf, "declarer_members": "nobody-here"})
    assert r.status_code == 422 and "not a role or a member: nobody-here" in r.text
    # approval rotations: checked against the organisation, then used for the next draft
    r = sam.post("/admin/settings/approvals", data={
        "csrf": csrf, "rotations": "legal: lucy", "approval_sla_minutes": "20",
        "risk_group": "legal"})
    assert r.status_code == 422 and "lucy (liaison) may not approve" in r.text
    r = sam.post("/admin/settings/approvals", data={
        "csrf": csrf, "rotations": "legal: sam, omar", "approval_sla_minutes": "20",
        "risk_group": "legal"}, follow_redirects=False)
    assert r.status_code == 303
    rules = admin.approval_rules(workspace.store)
    assert rules.rotations == {"legal": ["sam", "omar"]} and rules.approval_sla_minutes == 20
    assert "legal: sam, omar" in sam.get("/admin/settings").text


def test_after_approving_the_case_link_says_what_you_did(app, workspace, clock):
    cid = open_case(workspace, clock, SUPPORT)  # a care case: legal does not see it
    cases.claim(workspace.store, clock, cid, "ana")
    held = cases.reply(workspace.store, clock, cid, "ana", "We guarantee a refund today.")
    assert held.data["group"] == "legal" and held.data["approver"] == "omar"
    omar, csrf = login(app, "omar", page=f"/cases/{cid}")  # deciding: omar sees it now
    r = omar.post(f"/cases/{cid}/drafts/{held.data['draft']}/approve", data={"csrf": csrf},
                  follow_redirects=False)
    assert r.status_code == 303
    page = omar.get(f"/cases/{cid}")  # out of sight (404), but a page that says why
    assert page.status_code == 404 and 'id="case-elsewhere"' in page.text
    assert "approved the reply; it was sent" in page.text and "team <strong>care" in page.text
    assert omar.get("/cases/c000000000000").status_code == 404  # never seen: not found


def test_a_breached_sla_says_so_and_names_who_was_told(app, workspace, clock):
    cid = open_case(workspace, clock, SUPPORT)
    with workspace.store.begin() as tx:
        first = tx.cases.get(cid).assignee
    tick(workspace)
    clock.advance(minutes=61)  # the support track answers within 60 minutes
    tick(workspace)
    sam, _ = login(app, "sam")
    page = sam.get(f"/cases/{cid}").text
    assert 'id="sla-breach"' in page and "first response SLA ran out" in page
    assert f"escalation at 75% of the first response SLA: told {first}" in page
    # the breach step says what changed: here nobody in care was free, so it stayed
    assert ("escalation at 100% of the first response SLA: not reassigned, nobody else had "
            "room (queued for care: nobody online with spare capacity)") in page
    assert "escalated" not in page.split('id="sla-breach"')[1].split("</section>")[0]


def test_approvals_are_ordered_by_priority_then_due(workspace, clock):
    store = workspace.store
    routine = open_case(workspace, clock, SUPPORT)  # P3, its draft waits first
    cases.claim(store, clock, routine, "ana")
    cases.reply(store, clock, routine, "ana", "We guarantee it is fixed.")
    clock.advance(minutes=5)
    legal = open_case(workspace, clock, LEGAL)  # P2, later
    cases.claim(store, clock, legal, "ana")
    cases.reply(store, clock, legal, "ana", "Sorry. Please DM us.")
    order = [c.id for c in approvals.queue(store, "omar")]
    assert order == [legal, routine]
