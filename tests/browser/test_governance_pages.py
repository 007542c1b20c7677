"""Program governance in a browser: a spoke goes from request to shadow mode to live once the
hub approves its completed checklist; a member without training cannot send a public reply
from the case page (the CLI and the service call: tests/integration/test_governance_paths.py)."""

from __future__ import annotations

from playwright.sync_api import expect

from escapevelocity.domain import events as ev
from escapevelocity.domain import governance
from escapevelocity.services import governance as gov

CAREERS_TRACK = ("  careers:      {team: hr,      sla: {first_response: 240}, priority: p4, "
                 "description: \"Jobs and careers\"}\n")
CAREERS_RULE = """  - id: careers
    when: {keywords: [careers]}
    then: {track: careers, template: thanks}

"""


def _route_careers_to_hr(ws) -> None:
    """The playbook sends careers questions to the new spoke (the setup path)."""
    with ws.store.begin() as tx:
        source = tx.playbooks.active()[1]
    source = source.replace("teams: [hub, care, pr, legal, sales, product]",
                            "teams: [hub, care, pr, legal, sales, product, hr]")
    source = source.replace("tracks:\n", "tracks:\n" + CAREERS_TRACK, 1)
    source = source.replace("rules:\n", "rules:\n" + CAREERS_RULE, 1)
    ws.save_playbook(source, author="test", note="careers go to hr")


def _careers(server, n: int) -> str:
    return server.post([{"source_id": f"careers{n}", "channel": "twitter",
                         "created_at": f"2026-11-20T13:5{n}:00Z",
                         "text": f"any careers openings in your Leeds office? ({n})",
                         "author": {"handle": f"jobseeker{n}", "name": "Jo"}}])["case_ids"][0]


def test_a_spoke_goes_from_request_to_shadow_to_live(browser, server, log_in):
    lucy = log_in(browser, server, "lucy")
    lucy.click("nav >> text=Program")
    lucy.wait_for_url("**/governance")
    lucy.fill("#request-form input[name=team]", "hr")
    lucy.fill("#request-form input[name=name]", "People & HR")
    lucy.fill("#request-form input[name=unit]", "Human Resources")
    lucy.click("#request-form button[type=submit]")
    lucy.wait_for_url("**/governance/spokes/hr")
    expect(lucy.locator("#spoke-mode")).to_have_text("shadow")

    # In shadow mode the playbook's cases for hr are answered by the hub; hr sees them.
    _route_careers_to_hr(server.workspace)
    first = _careers(server, 1)
    with server.workspace.store.begin() as tx:
        assert tx.cases.get(first).team == "hub"
    lucy.reload()
    item = lucy.locator(f'#shadow-queue li[data-case="{first}"]')
    expect(item).to_contain_text("careers openings")
    item.locator("input[name=text]").fill("Hi Jo, we are hiring in Leeds: see our jobs page.")
    item.locator("button").click()
    expect(lucy.locator(f'#shadow-queue li[data-case="{first}"] .draft')).to_contain_text(
        "lucy would have sent: Hi Jo, we are hiring")
    with server.workspace.store.begin() as tx:
        assert not [e for e in tx.events.stream(first) if e.kind == ev.REPLIED]

    # The spoke completes its checklist (two items on the page, the rest by the same
    # command); it cannot approve itself, and the hub cannot approve before it is complete.
    items = [key for key, _ in governance.DEFAULT_CHECKLIST]
    for key in items[:2]:
        row = lucy.locator(f'#readiness tr[data-item="{key}"]')
        row.locator("input[name=evidence]").fill(f"{key}: see the plan")
        row.locator("button").click()
        expect(lucy.locator(f'#readiness tr[data-item="{key}"]')).to_contain_text("lucy:")
    sam = log_in(browser, server, "sam", path="/governance/spokes/hr")
    expect(sam.locator("#approve-form")).to_have_count(0)
    expect(sam.locator("#why-not")).to_contain_text("not complete: commitment")
    for key in items[2:]:
        gov.complete_item(server.workspace.store, server.workspace.clock, "lucy", "hr", key,
                          "see the plan")
    lucy.reload()
    expect(lucy.locator("#readiness")).not_to_contain_text("Done")
    expect(lucy.locator("#approve-form")).to_have_count(0)

    sam.reload()
    expect(sam.locator("#spoke-mode")).to_have_text("shadow")
    sam.click("#approve-form button")
    expect(sam.locator("#spoke-mode")).to_have_text("live")
    sam.goto(f"{server.url}/governance")
    expect(sam.locator('tr[data-spoke="hr"] .mode')).to_have_text("live")

    # Live: the next careers case is routed to the spoke itself.
    second = _careers(server, 2)
    with server.workspace.store.begin() as tx:
        assert tx.cases.get(second).team == "hr"
        kinds = [e.kind for e in tx.events.stream(ev.GOVERNANCE_PREFIX + "spoke:hr")]
    assert kinds[0] == ev.SPOKE_REQUESTED and kinds[-1] == ev.SPOKE_APPROVED
    assert kinds.count(ev.READINESS_ITEM_DONE) == len(governance.DEFAULT_CHECKLIST)
    for page in (lucy, sam):
        page.context.close()


def test_an_untrained_member_cannot_send_a_public_reply_from_the_page(browser, server, log_in):
    sam = log_in(browser, server, "sam", path="/training")
    sam.fill("#policy-form input[name=policy]", "social")
    sam.fill("#policy-form input[name=title]", "Social media policy")
    sam.fill("#policy-form textarea[name=text]", "Be kind. Never share customer data.")
    sam.click("#policy-form button")
    expect(sam.locator('#people tr[data-member="priya"]')).to_contain_text(
        "acknowledge policy social v1")

    case_id = server.post([{"source_id": "untrained1", "channel": "twitter",
                            "created_at": "2026-11-20T13:59:00Z",
                            "text": "my broadband is down again, please help",
                            "author": {"handle": "kim", "name": "Kim"}}])["case_ids"][0]
    priya = log_in(browser, server, "priya", path="/training")
    expect(priya.locator("#training-status")).to_contain_text("Not complete")
    priya.goto(f"{server.url}/cases/{case_id}")
    priya.click("#claim")
    expect(priya.locator("#reply-text")).to_be_visible()
    priya.fill("#reply-text", "Sorry Kim, we are on it.")
    priya.click("text=Send public reply")
    expect(priya.locator("text=This reply needs approval")).to_be_visible()
    with server.workspace.store.begin() as tx:
        events = tx.events.stream(case_id)
        assert tx.cases.get(case_id).approval_state == "pending"
    assert not [e for e in events if e.kind == ev.REPLIED]
    held = [e for e in events if e.kind == ev.APPROVAL_REQUESTED]
    assert "priya has not completed training" in held[0].reasons[0]

    # She acknowledges the policy on the page; with a passed drill her training is complete.
    priya.goto(f"{server.url}/training")
    priya.click('article[data-policy="social"] button')
    expect(priya.locator('article[data-policy="social"]')).to_contain_text("You acknowledged v1")
    gov.record_drill_score(server.workspace.store, server.workspace.clock, "priya", "warm-up",
                           80.0)
    priya.reload()
    expect(priya.locator("#training-status")).to_contain_text("Complete")
    for page in (sam, priya):
        page.context.close()
