"""The Channels page in a browser: connections with their health after real polls against a
fake feed, and no secret anywhere in the page; members who may not configure get a 404."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytest.importorskip("feedparser")


def test_channels_page_shows_health_and_no_secrets(browser, server, log_in, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
    from channel_kit import FakeHttp, add_connection, runner_for

    feed = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
            b"<title>acme refund</title><guid>g1</guid>"
            b"<pubDate>Fri, 20 Nov 2026 13:30:00 +0000</pubDate></item></channel></rss>")
    fake = FakeHttp(lambda *a: (200, {}, feed))
    ws = server.workspace
    try:
        runner, _, sealer = runner_for(ws)
        add_connection(ws, sealer, "blogs", "rss", {"urls": [fake.url + "/f"]})
        add_connection(ws, sealer, "masto", "mastodon", {"base_url": fake.url + "/gone"},
                       {"token": "tok-very-secret"})
        add_connection(ws, sealer, "form", "webhook", {}, {"signing_secret": "whsec-hidden"})
        runner.poll("blogs")
        fake.faults.append("401")
        runner.poll("masto")
    finally:
        fake.stop()

    page = log_in(browser, server, "sam")  # strategist: may configure
    page.click("nav >> text=Channels")
    page.wait_for_url("**/admin/channels")
    expect(page.locator('tr[data-connection="blogs"] .health')).to_have_text("connected")
    expect(page.locator('tr[data-connection="masto"] .health')).to_have_text(
        "credentials expired")
    expect(page.locator('tr[data-connection="form"]')).to_contain_text("POST /hooks/form")
    html = page.content()
    assert "tok-very-secret" not in html and "whsec-hidden" not in html
    page.context.close()

    page = log_in(browser, server, "joe")  # agency: may not
    response = page.goto(f"{server.url}/admin/channels")
    assert response.status == 404
    page.context.close()
