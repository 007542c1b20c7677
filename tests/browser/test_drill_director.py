"""The drill director page in a real browser (pause, resume, speed, inject, live level) and the
crisis banner in the inbox after a lead declares a level."""

from __future__ import annotations

import msgspec
from axe_kit import serious_violations
from playwright.sync_api import expect

from escapevelocity.drill import load
from escapevelocity.services import drill as drills


def test_declared_crisis_shows_the_banner_in_the_inbox(browser, server, log_in):
    sam = log_in(browser, server, "sam")
    expect(sam.locator("#crisis-banner")).to_have_count(0)
    sam.goto(f"{server.url}/incidents")
    sam.select_option("select[name=level]", "crisis2")
    sam.fill("input[name=reason]", "<img src=x onerror=alert(1)> executive arrested")
    sam.click("button:has-text('Declare')")
    expect(sam.locator("h1")).to_contain_text("Incident ")
    sam.goto(f"{server.url}/inbox")
    banner = sam.locator("#crisis-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("level 2")
    expect(banner).to_contain_text("<img src=x")  # shown as text, never as an element
    expect(sam.locator("#crisis-banner img")).to_have_count(0)
    sam.context.close()


def test_director_pauses_speeds_up_and_fires_an_inject(browser, server, log_in, tmp_path):
    s = msgspec.structs.replace(load("service-outage"), duration_hours=6)
    drill = drills.Drill.prepare(s, tmp_path / "sandbox.db", speed=240)
    thread = drills.start_in_background(drill)
    try:
        sam = log_in(browser, server, "sam", path="/drills/service-outage")
        expect(sam.locator("#drill-state")).to_contain_text("running")
        sam.click("#pause")
        expect(sam.locator("#drill-state")).to_contain_text("paused", timeout=10_000)
        paused_at = sam.locator("#drill-now").inner_text()
        assert serious_violations(sam) == []  # the director page, in the accessibility sweep
        # a second of wall time is 4 simulated minutes at x240, which #drill-now would show
        # were the drill running; the panel read after it (the second one swapped in after
        # the wait: the first may have been asked for before) still shows the paused time
        sam.wait_for_timeout(1_000)
        for _ in range(2):
            sam.evaluate("document.getElementById('drill-panel').dataset.old = 'yes'")
            sam.wait_for_function("() => !document.getElementById('drill-panel').dataset.old")
        expect(sam.locator("#drill-now")).to_have_text(paused_at)
        sam.click("#resume")
        sam.select_option("select[name=speed]", "1440")
        sam.click("#set-speed")
        expect(sam.locator("#drill-state")).to_contain_text("x1440", timeout=10_000)
        sam.locator("form:has(input[value='status page goes down']) button.fire").click()
        expect(sam.locator("#drill-fired")).to_contain_text("status page goes down",
                                                            timeout=10_000)
        expect(sam.locator("#drill-level")).not_to_have_text("normal", timeout=30_000)
        sam.click("#stop")
        expect(sam.locator("#drill-done")).to_be_visible(timeout=30_000)
        sam.click("#drill-done >> text=scorecard")
        expect(sam.locator("h2:has-text('Scorecard')")).to_be_visible()
        sam.context.close()
    finally:
        drill.control.stop()
        thread.join(timeout=30)
        drills.RUNNING.pop(s.name, None)
