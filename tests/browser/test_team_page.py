"""The Team page in a browser: it renders the member's team with presence, load and the SLA
chart, and a presence change made there shows at once."""

from __future__ import annotations

from playwright.sync_api import expect


def test_team_page_renders_and_presence_change_shows(browser, server, log_in):
    server.post([{"source_id": "team1", "channel": "twitter", "created_at": "2026-11-20T13:59:00Z",
                  "text": "my broadband is down again, please help",
                  "author": {"handle": "kim", "name": "Kim"}}])
    page = log_in(browser, server, "priya")
    page.click("nav >> text=Team")
    page.wait_for_url("**/team")
    expect(page.locator("#team-care h2")).to_contain_text("Customer Care")
    expect(page.locator("svg.chart")).to_be_visible()
    row = page.locator('#team-care tr[data-member="priya"]')
    expect(row.locator(".presence-cell")).to_contain_text("online")
    expect(page.locator("#my-presence-now")).to_have_text("online")

    page.click('#my-presence button[value="away"]')
    page.wait_for_url("**/team")
    expect(page.locator("#my-presence-now")).to_have_text("away")
    expect(row.locator(".presence-cell")).to_contain_text("away")
    with server.workspace.store.begin() as tx:
        assert tx.org.presence()["priya"] == "away"

    page.click('#my-presence button[value="online"]')
    expect(page.locator("#my-presence-now")).to_have_text("online")
    page.context.close()
