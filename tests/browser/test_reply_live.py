"""A reply button in a browser says dry run until an admin switches the connection live on the
Channels page; then it says where it sends, and one click posts one status to a fake Mastodon
instance on 127.0.0.1."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytest.importorskip("mastodon")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))


def test_the_reply_button_says_dry_run_then_live_and_posts_once(browser, server, log_in):
    from channel_kit import FakeHttp
    from reply_kit import ingest
    from test_reply_mastodon import URI, FakeInstance

    from escapevelocity.adapters.secrets import Sealer
    from escapevelocity.adapters.store import connections as repo

    instance = FakeInstance()
    instance.server = FakeHttp(instance.app)
    ws = server.workspace
    try:
        with ws.store.begin() as tx:  # sealed with the server's key
            tx.connections.add(repo.StoredConnection(
                name="acme-masto", channel="mastodon",
                settings={"base_url": instance.server.url},
                sealed=Sealer("b" * 32).seal({"token": "tok-good"})), ws.clock.now())
        case_id = ingest(ws, channel="mastodon", source_id=URI, handle="rosa@fosstodon.org",
                         via="acme-masto")

        ana = log_in(browser, server, "ana", path=f"/cases/{case_id}")
        ana.click("#claim")
        button = ana.locator("form.reply button[type=submit]")
        expect(button).to_have_text("Send public reply (dry run)")

        sam = log_in(browser, server, "sam", path="/admin/channels")
        row = sam.locator('tr[data-connection="acme-masto"]')
        row.locator("select[name=mode]").select_option("live")
        row.locator("text=Switch").click()
        expect(sam.locator('tr[data-connection="acme-masto"] [data-sends]')).to_have_text(
            "live: sends to Mastodon")

        ana.reload()
        expect(button).to_have_text("Send public reply — sends to Mastodon")
        ana.fill("#reply-text", "Found it: it arrives tomorrow.")
        button.click()
        expect(ana.locator("text=Reply sent.")).to_be_visible()
        expect(ana.locator(".send-state.sent")).to_have_text("sent to mastodon")
        assert len(instance.posted) == 1
        assert instance.posted[0]["content"] == (
            "@rosa@fosstodon.org Found it: it arrives tomorrow.")
    finally:
        instance.server.stop()
