"""The dead-letters page in a real browser, against a nats-server of our own: an admin ticks a
message, is asked, replays it and sees its outcome; discards a poison message with a reason
(hostile text shown as text); the page has no serious accessibility violation."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
import uuid

from axe_kit import serious_violations
from conftest import PASSWORD, Server
from needs import require
from phone_kit import cells_and_controls_out_of_reach, tables_scrolling_sideways
from shot_kit import shoot

from escapevelocity.bench import natsd


def test_replay_then_discard_in_the_browser(browser, log_in, tmp_path, monkeypatch):
    require(natsd.available(), f"nats-server at {natsd.NATS_SERVER}")
    require(importlib.util.find_spec("nats") is not None, "the scale extra (nats-py)")
    from escapevelocity.adapters.bus.jetstream import JetStream, encode
    from escapevelocity.config import Settings
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.domain.records import Author, Mention
    from escapevelocity.services.intake import Intake
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace
    from escapevelocity.web.app import create_app

    prefix = f"b{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EV_NATS_PREFIX", prefix)
    ws = Workspace.open(f"sqlite:///{tmp_path / 'ev.db'}", SystemClock())
    seed_demo(ws, password=PASSWORD)
    good = Mention(source_id=f"{prefix}-1", channel="twitter", text="my bill is wrong",
                   author=Author(handle="dl-user"), created_at=ws.clock.now())
    nats = natsd.NatsServer().start()
    try:
        async def kill() -> None:
            js = await JetStream(nats.url, prefix).connect()
            for data, why in ((encode([good]), "TimeoutError"), (b"\x00junk", "does not decode")):
                await js.js.publish(js.dead_subject, data, headers={
                    "Ev-Subject": js.subject(1), "Ev-Reason": why, "Ev-Deliveries": "5"})
            await js.close()

        # Playwright's event loop runs in this thread: NATS gets a loop of its own
        done = threading.Thread(target=asyncio.run, args=(kill(),))
        done.start()
        done.join(30)
        app = create_app(ws, Settings(database_url="unused", secret_key="b" * 32, bus=nats.url),
                         tick_seconds=None, intake=Intake(ws))
        with Server(app, ws) as server:
            page = log_in(browser, server, "sam", path="/admin/dead")
            assert page.locator("tr[data-seq]").count() == 2
            assert serious_violations(page) == []
            _on_a_phone(browser, server, page.context.cookies())
            page.check("tr[data-seq='1'] input[name=seq]")
            page.click("#replay")
            page.wait_for_selector("#confirm")
            assert "Yes, replay 1" in page.locator("#confirm-yes").inner_text()
            assert page.locator("tr[data-seq]").count() == 2  # asked, nothing done yet
            page.click("#confirm-yes")
            page.wait_for_selector("#dead-results")
            assert page.locator("[data-result='1']").inner_text().split()[:2] == ["1", "replayed"]
            assert page.locator("tr[data-seq]").count() == 1

            page.check("tr[data-seq='2'] input[name=seq]")
            page.fill("input[name=reason]", "<img src=x onerror=alert(1)> junk")
            page.click("#discard")
            page.wait_for_selector("#confirm")
            page.click("#confirm-yes")
            page.wait_for_selector("#dead-results")
            assert page.locator("[data-result='2']").inner_text().split()[:2] == ["2", "discarded"]
            assert page.locator("tr[data-seq]").count() == 0
            history = page.locator("#dead-history").inner_text()
            assert "<img src=x onerror=alert(1)> junk" in history  # shown as text
            assert page.locator("#dead-history img").count() == 0
            assert serious_violations(page) == []
            page.context.close()
    finally:
        nats.close()
        ws.store.close()


def _on_a_phone(browser, server, cookies) -> None:
    """At 390 px (dark) each dead letter is a card: its box ticks with a tap, nothing scrolls
    sideways, the seq heads the card."""
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    ctx.add_cookies(cookies)
    page = ctx.new_page()
    page.goto(f"{server.url}/admin/dead")
    assert tables_scrolling_sideways(page) == []
    assert cells_and_controls_out_of_reach(page) == []
    assert page.locator("tr[data-seq='1']").evaluate("r => getComputedStyle(r).display") == "flex"
    page.locator("tr[data-seq='1'] input[name=seq]").click()
    assert page.locator("tr[data-seq='1'] input[name=seq]").is_checked()
    shoot(page, "admin-dead-cards-390")
    ctx.close()

