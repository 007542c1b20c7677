"""The reports page and the command-center wall in a real browser: the figures they show equal
the test's own computation over the event log; the wall follows new mentions live (SSE) and
catches up after its connection drops. Screenshots go to var/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import expect
from report_kit import fill, from_log, with_office_calendar

SHOTS = Path("var/screenshots")


def _mention(i: int, text: str) -> dict:
    return {"source_id": f"w{i}", "channel": "twitter", "text": text,
            "author": {"handle": f"wallfan{i}", "name": f"Fan {i}"},
            "created_at": datetime.now(UTC).isoformat()}


def _num(text: str) -> int:
    return int(text.strip().replace(",", ""))


def test_reports_page_shows_the_figures_of_the_log(browser, server, log_in):
    ws = server.workspace
    with_office_calendar(ws)  # support's SLA runs on Berlin office hours
    fill(ws, ws.clock, days=8, per_day=20)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = log_in(browser, server, "sam")
    rendered_after = datetime.now(UTC)
    page.goto(f"{server.url}/reports?period=7d")
    expect(page.locator("h1")).to_have_text("Reports")
    now = datetime.now(UTC)
    start = now.date() - timedelta(days=6)
    # the test's own arithmetic: support's times in office minutes, the others' elapsed
    want = from_log(ws.store, start, now.date() + timedelta(days=1), now, office=True)
    t = want["totals"]
    assert _num(page.locator('#kpi-table tr[data-kpi="volume"] td.value').inner_text()) \
        == t["cases"]
    assert page.locator('#kpi-table tr[data-kpi="response_rate"] td.value').inner_text() \
        == f"{100 * t.get('responded', 0) / t['needs_reply']:.1f} %"
    assert page.locator('#kpi-table tr[data-kpi="missed_share"] td.value').inner_text() \
        == f"{100 * t.get('missed', 0) / t['needs_reply']:.1f} %"
    assert page.locator('#kpi-table tr[data-kpi="no_reply_share"] td.value').inner_text() \
        == f"{100 * t.get('no_reply', 0) / t['cases']:.1f} %"
    done = t.get("sla_met", 0) + t.get("sla_late", 0) + t.get("missed", 0)
    assert page.locator('#kpi-table tr[data-kpi="sla_attainment"] td.value').inner_text() \
        == f"{100 * t.get('sla_met', 0) / done:.1f} %"
    assert _num(page.locator('#kpi-table tr[data-kpi="leads"] td.value').inner_text()) \
        == t.get("leads", 0)
    # The server's clock is real: a case can pass its at-risk mark between the page's render
    # and `now` (a loaded machine once took long enough), so the page's count is the test's
    # count at some instant between the two readings.
    at_risk = {want["at_risk"], from_log(ws.store, start, now.date() + timedelta(days=1),
                                         rendered_after, office=True)["at_risk"]}
    assert min(at_risk) <= _num(page.locator('[data-kpi="sla_at_risk"]').first.inner_text()) \
        <= max(at_risk)
    for channel, n in want["channels"].items():
        cell = page.locator(f'#channel-table tr[data-channel="{channel}"] td.value')
        assert _num(cell.inner_text()) == n, channel
    # which calendar applies is said on the page
    expect(page.locator('#calendar-table tr[data-calendar="office"] td').first
           ).to_contain_text("support")
    for topic, by in want["topics"].items():  # volume by topic, and its sentiment
        row = page.locator(f'#topic-table tr[data-topic="{topic}"]')
        assert _num(row.locator("td.value").inner_text()) == sum(by.values()), topic
        assert _num(row.locator("td").nth(1).inner_text()) == by.get("negative", 0), topic
    assert page.locator("figure.chart img").count() == 5
    assert page.locator("figure.chart table").count() == 5  # a table beside each chart
    page.screenshot(path=str(SHOTS / "reports.png"), full_page=True)

    # Every figure drills down to its cases.
    page.click('#kpi-table tr[data-kpi="leads"] td.value a')
    expect(page.locator("h1")).to_contain_text("leads")
    assert page.locator("#drill-table tbody tr").count() == min(t.get("leads", 0), 200)
    page.screenshot(path=str(SHOTS / "reports-drill-down.png"), full_page=True)

    # … and a topic's figure to the cases that carry the topic.
    topic, by = max(((k, v) for k, v in want["topics"].items() if k),
                    key=lambda kv: sum(kv[1].values()))
    page.goto(f"{server.url}/reports?period=7d")
    page.click(f'#topic-table tr[data-topic="{topic}"] td.value a')
    assert page.locator("#drill-table tbody tr").count() == min(sum(by.values()), 200)

    # … and the cases timed on the office calendar: exactly the support cases answered or
    # resolved, by the test's own reading of the log.
    page.goto(f"{server.url}/reports?period=7d")
    office = page.locator('#calendar-table tr[data-calendar="office"] td.value')
    assert _num(office.inner_text()) == want["timed"].get("support", 0)
    office.locator("a").click()
    assert page.locator("#drill-table tbody tr").count() == min(want["timed"]["support"], 200)
    page.context.close()


def test_the_wall_is_live_and_recovers_after_a_reconnect(browser, server, log_in):
    ws = server.workspace
    fill(ws, ws.clock, days=2, per_day=20)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = log_in(browser, server, "sam")
    page.set_viewport_size({"width": 1920, "height": 1080})
    page.goto(f"{server.url}/wall")
    now = datetime.now(UTC)
    want = from_log(ws.store, now.date(), now.date() + timedelta(days=1), now)
    volume = page.locator("#wall-volume")
    assert _num(volume.inner_text()) == want["totals"].get("cases", 0)
    assert _num(page.locator("#wall-at-risk").inner_text()) == want["at_risk"]
    for team, n in want["queues"].items():
        if team:
            cell = page.locator(f'#wall-queues tr[data-team="{team}"] td.queue')
            assert _num(cell.inner_text()) == n, team
    expect(page.locator("#wall-status")).to_have_text("live", timeout=10_000)
    page.screenshot(path=str(SHOTS / "wall.png"), full_page=True)

    before = _num(volume.inner_text())
    server.post([_mention(1, "my phone caught fire while charging, my hand is burned")])
    expect(volume).to_have_text(str(before + 1), timeout=10_000)  # live, no reload

    page.context.set_offline(True)  # the connection drops …
    expect(page.locator("#wall-status")).to_have_text("reconnecting…", timeout=10_000)
    server.post([_mention(2, "the router is smoking, had to unplug it"),
                 _mention(3, "is there an outage in Leeds? no signal at all")])
    page.context.set_offline(False)  # … and comes back: the wall catches up
    expect(volume).to_have_text(str(before + 3), timeout=20_000)
    expect(page.locator("#wall-status")).to_have_text("live", timeout=10_000)
    want = from_log(ws.store, now.date(), now.date() + timedelta(days=1), datetime.now(UTC))
    assert _num(page.locator("#wall-at-risk").inner_text()) == want["at_risk"]
    page.screenshot(path=str(SHOTS / "wall-after-reconnect.png"), full_page=True)

    from escapevelocity.services.crisis import CrisisMode

    CrisisMode(ws.store, ws.clock).declare("crisis2", "sam", "fires reported")
    expect(page.locator("#wall-crisis")).to_be_visible(timeout=10_000)
    expect(page.locator("#wall-crisis-level")).to_have_text("Crisis level 2")
    page.screenshot(path=str(SHOTS / "wall-crisis.png"), full_page=True)
    page.context.close()
