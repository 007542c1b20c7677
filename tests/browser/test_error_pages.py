"""Errors in a browser: a case link the member may not follow and an action they may not take
show a page in the app's layout with the reason and a way back, never raw JSON."""

from __future__ import annotations

from playwright.sync_api import expect


def _case(server, n: int, text: str) -> str:
    done = server.post([{"source_id": f"err{n}", "channel": "twitter",
                         "created_at": "2026-11-20T13:59:00Z", "text": text,
                         "author": {"handle": f"kim{n}", "name": "Kim"}}])
    return done["case_ids"][0]


def _is_error_page(page, response, status: int, words: str) -> None:
    assert response.status == status
    assert response.headers["content-type"].startswith("text/html")
    expect(page.locator("header.topbar nav")).to_be_visible()  # the layout, logged in
    expect(page.locator("section.error-page h1")).to_be_visible()
    expect(page.locator("#error")).to_contain_text(words)
    expect(page.locator("#back")).to_be_visible()
    assert '"detail"' not in page.content()


def test_a_case_out_of_sight_and_a_forbidden_action_are_pages_with_a_way_back(
        browser, server, log_in):
    care = _case(server, 1, "my broadband is down again, please help")
    legal = _case(server, 2, "I will sue you, my lawyer is preparing a lawsuit")
    page = log_in(browser, server, "joe")  # agency partner: the care queue only

    for url in (f"/cases/{legal}", "/cases/c000000000000", f"/cases/{legal}/engage"):
        response = page.goto(f"{server.url}{url}")
        _is_error_page(page, response, 404, "no such case")
        page.click("#back")
        page.wait_for_url("**/inbox")

    page.goto(f"{server.url}/cases/{care}")  # the case page offers no audit trail to agency
    expect(page.locator("text=audit trail")).to_have_count(0)
    response = page.goto(f"{server.url}/cases/{care}/audit", referer=f"{server.url}/cases/{care}")
    _is_error_page(page, response, 403, "may not audit")
    page.click("#back")
    page.wait_for_url(f"**/cases/{care}")
    expect(page.locator("#case")).to_be_visible()
    page.context.close()
