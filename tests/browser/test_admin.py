"""Administration without YAML, in a real browser: an admin edits a member and an SLA policy
on the admin pages, and the next mention routes by the edit (the member moved into the sales
team takes the sales lead, and its first-response due time is the edited budget)."""

from __future__ import annotations

from datetime import datetime, timedelta

LEAD = ("@OrbitTelecom thinking of switching to Orbit, I want to buy the fibre 900 plan "
        "for my new flat. Ready to sign up today!")


def _post(server, source_id: str, at: datetime) -> dict:
    return server.post([{"source_id": source_id, "channel": "twitter", "kind": "post",
                        "text": LEAD, "author": {"handle": f"buyer{source_id}", "name": "B",
                                                 "followers": 40},
                        "created_at": at.isoformat().replace("+00:00", "Z")}])


def _latest_case(server, handle: str) -> dict:
    with server.workspace.store.begin() as tx:
        return tx.cases.where("author_handle", handle)[0]


def test_editing_a_member_and_an_sla_policy_moves_routing(server, browser, log_in):
    page = log_in(browser, server, "sam")  # the strategist: the demo's program lead
    now = datetime.now().astimezone()

    # Before: a sales lead goes to the sales team's only member, due in 120 minutes.
    _post(server, "9001", now)
    before = _latest_case(server, "buyer9001")
    assert (before.team, before.assignee) == ("sales", "lucy"), before
    assert before.sla_minutes == 120

    # The admin pages: deactivate lucy, move raj from product into sales.
    page.goto(f"{server.url}/admin/members")
    page.click("tr[data-member=lucy] button:has-text('Deactivate')")
    page.wait_for_selector("#flash:has-text('deactivated lucy')")
    assert "Lucy Park (lucy, liaison)" in page.locator("#deactivated").inner_text()
    assert page.locator("tr[data-member=lucy]").count() == 0
    page.click("tr[data-member=raj] a")
    page.wait_for_selector("#member-form")
    assert page.title().startswith("Raj Mehta")
    page.uncheck("input[name=teams][value=product]")
    page.check("input[name=teams][value=sales]")
    page.fill("#skills", "app 4, orbit_one 5, sales 3")
    page.click("#member-form button[type=submit]")
    page.wait_for_selector("#flash:has-text('saved raj')")
    assert "sales" in page.locator("tr[data-member=raj]").inner_text()

    # The SLA policy of the sales lead track: 120 -> 45 minutes.
    page.goto(f"{server.url}/admin/sla")
    row = page.locator("tr[data-track=sales_lead]")
    assert "first response 2 h" in row.inner_text()
    row.locator("input[name=first_response]").fill("45")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("#flash:has-text('sales_lead')")
    assert "first response 45 min" in page.locator("tr[data-track=sales_lead]").inner_text()

    # After: the next sales lead routes to raj, due 45 minutes after it opened.
    _post(server, "9002", now + timedelta(seconds=1))
    after = _latest_case(server, "buyer9002")
    assert (after.team, after.assignee) == ("sales", "raj"), after
    assert after.sla_minutes == 45
    assert after.sla_due - after.opened_at == timedelta(minutes=45)

    # Every change is in the log, with who made it; the overview lists them.
    page.goto(f"{server.url}/admin")
    audit = page.locator("#admin-audit").inner_text()
    assert "members: lucy" in audit and "deactivated" in audit
    assert "members: raj" in audit and "sla: sales lead" in audit
    assert audit.count("sam") >= 3
    page.context.close()
