"""The bell in a browser: an assignment made elsewhere shows as an unread count through the
live stream (no reload), the list shows it, and marking read clears the count."""

from __future__ import annotations

from playwright.sync_api import expect

from escapevelocity.services import cases


def test_bell_counts_an_assignment_and_the_list_marks_it_read(browser, server, log_in):
    ws = server.workspace
    server.post([{"source_id": "bell1", "channel": "twitter",
                  "created_at": "2026-11-20T13:59:00Z", "text": "my bill is wrong, please help",
                  "author": {"handle": "kim", "name": "Kim"}}])
    with ws.store.begin() as tx:
        [cid] = tx.events.case_streams()
        assert tx.cases.get(cid).assignee != "priya"
    page = log_in(browser, server, "priya")
    expect(page.locator("body")).to_have_attribute("data-live", "on")
    expect(page.locator("#bell-count")).to_be_hidden()

    cases.assign(ws.store, ws.clock, cid, "ana", "priya")  # another member, another process
    expect(page.locator("#bell-count")).to_have_text("1", timeout=10_000)
    expect(page.locator("#bell-count")).to_be_visible()

    page.click("#bell")
    page.wait_for_url("**/notifications")
    item = page.locator("#notification-list li.unread")
    expect(item).to_have_count(1)
    expect(item.locator("a")).to_contain_text("Assigned to you")
    expect(item.locator("a")).to_have_attribute("href", f"/cases/{cid}")

    page.click("#mark-all button")
    page.wait_for_url("**/notifications")
    expect(page.locator("#notification-list li.unread")).to_have_count(0)
    expect(page.locator("#bell-count")).to_be_hidden()
    with ws.store.begin() as tx:
        assert tx.notifications.unread_count("priya") == 0
        assert tx.notifications.unread_count("tom") >= 0  # others' notifications are untouched
    page.context.close()
