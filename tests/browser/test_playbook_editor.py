"""The playbook editor in a browser: the strategist edits the active playbook, saves it as a new
version that needs Legal's approval, and after the approver approves it is active and the wall
diagram is the new version's."""

from __future__ import annotations

from playwright.sync_api import expect

OLD = "name: Orbit Telecom default playbook"
NEW = "name: Orbit Telecom playbook, legal reviewed\nactivation_approval: legal"


def test_edit_save_approve_and_the_diagram_follows(browser, server, log_in):
    page = log_in(browser, server, "sam")
    page.click("nav >> text=Playbook")
    page.wait_for_url("**/playbook")
    expect(page.locator("#playbook-title")).to_contain_text("Orbit Telecom default playbook")
    editor = page.locator("#editor-form textarea[name=source]")
    assert OLD in editor.input_value()
    editor.fill(editor.input_value().replace(OLD, NEW))
    page.click("#check-button")
    expect(page.locator("#check-summary")).to_contain_text("0 error(s)")
    page.fill("#editor-form input[name=note]", "Legal reviews every change from now on")
    page.check("#editor-form input[name=activate]")
    page.click("#save-button")
    expect(page.locator("#message")).to_contain_text("version 2 awaits approval by legal")
    row = page.locator('tr[data-version="2"]')
    expect(row.locator(".status")).to_have_text("pending")
    expect(row).to_contain_text("Legal reviews every change from now on")
    expect(row.locator("form.approve")).to_have_count(0)  # the author does not approve
    expect(page.locator("#playbook-title")).to_contain_text("Orbit Telecom default playbook")

    approver = log_in(browser, server, "omar", path="/playbook#versions")
    row = approver.locator('tr[data-version="2"]')
    row.locator("form.approve input[name=note]").fill("fine by legal")
    row.locator("form.approve button").click()
    expect(approver.locator("#message")).to_contain_text("version 2 is now the active playbook")
    expect(row.locator(".status")).to_have_text("active")
    expect(row.locator(".approved-by")).to_have_text("omar")
    expect(approver.locator("#playbook-title")).to_contain_text("legal reviewed")
    expect(approver.locator("#diagram svg")).to_have_attribute(
        "aria-label", "Orbit Telecom playbook, legal reviewed flowchart")

    page.reload()
    expect(page.locator('tr[data-version="1"] .status')).to_have_text("retired")
    with server.workspace.store.begin() as tx:
        assert tx.playbooks.active()[0] == 2
    page.context.close()
    approver.context.close()
