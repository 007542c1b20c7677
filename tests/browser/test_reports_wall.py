"""The reports page and the command-center wall in a real browser: the figures they show equal
the test's own computation over the event log; the wall follows new mentions live (SSE) and
catches up after its connection drops. Screenshots (EV_SCREENSHOTS=1) go to var/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from report_kit import fill, from_log, with_office_calendar
from shot_kit import shoot


def _mention(i: int, text: str) -> dict:
    return {"source_id": f"w{i}", "channel": "twitter", "text": text,
            "author": {"handle": f"wallfan{i}", "name": f"Fan {i}"},
            "created_at": datetime.now(UTC).isoformat()}


def _num(text: str) -> int:
    return int(text.strip().replace(",", ""))


def _follow(page, link) -> None:
    """Click a link to another page and wait until that page has loaded: the rows read next
    (count(), evaluate_all: they do not wait) were once read from the page being left, on a
    loaded machine."""
    left = page.url
    link.click()
    page.wait_for_url(lambda url: url != left)


def test_reports_page_shows_the_figures_of_the_log(browser, server, log_in):
    ws = server.workspace
    with_office_calendar(ws)  # support's SLA runs on Berlin office hours
    fill(ws, ws.clock, days=8, per_day=20)
    rendered_after = datetime.now(UTC)
    page = log_in(browser, server, "sam", path="/reports?period=7d")
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
    shoot(page, "reports")

    # Every figure drills down to its cases.
    page.click('#kpi-table tr[data-kpi="leads"] td.value a')
    expect(page.locator("h1")).to_contain_text("leads")
    assert page.locator("#drill-table tbody tr").count() == min(t.get("leads", 0), 200)
    shoot(page, "reports-drill-down")

    # … and a topic's figure to the cases that carry the topic.
    topic, by = max(((k, v) for k, v in want["topics"].items() if k),
                    key=lambda kv: sum(kv[1].values()))
    page.goto(f"{server.url}/reports?period=7d")
    _follow(page, page.locator(f'#topic-table tr[data-topic="{topic}"] td.value a'))
    assert page.locator("#drill-table tbody tr").count() == min(sum(by.values()), 200)

    # … and the cases timed on the office calendar: exactly the support cases answered or
    # resolved, by the test's own reading of the log.
    page.goto(f"{server.url}/reports?period=7d")
    office = page.locator('#calendar-table tr[data-calendar="office"] td.value')
    assert _num(office.inner_text()) == want["timed"].get("support", 0)
    _follow(page, office.locator("a"))
    assert page.locator("#drill-table tbody tr").count() == min(want["timed"]["support"], 200)
    page.context.close()


def test_the_wall_is_live_and_recovers_after_a_reconnect(browser, server, log_in):
    ws = server.workspace
    fill(ws, ws.clock, days=2, per_day=20)
    page = log_in(browser, server, "sam", width=1920, height=1080, path="/wall")
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
    shoot(page, "wall")

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
    shoot(page, "wall-after-reconnect")

    from escapevelocity.services.crisis import CrisisMode

    CrisisMode(ws.store, ws.clock).declare("crisis2", "sam", "fires reported")
    expect(page.locator("#wall-crisis")).to_be_visible(timeout=10_000)
    expect(page.locator("#wall-crisis-level")).to_have_text("Crisis level 2")
    shoot(page, "wall-crisis")
    page.context.close()


def _case(ws, text: str, n: int) -> str:
    from escapevelocity.domain.cases import case_id_for
    from escapevelocity.domain.records import Author, Mention
    from escapevelocity.services.ingest import ingest

    m = Mention(source_id=f"beyond{n}", channel="twitter", text=text,
                author=Author(handle=f"beyond{n}"), created_at=datetime.now(UTC))
    ingest(ws.store, ws.triager(), ws.clock, [m])
    return case_id_for(m.key)


def test_rows_beyond_case_counts_drill_down_to_their_items(browser, server, log_in):
    """Approval waits by kind, what waits now, incidents and their cases, people's drill
    scores and drill runs' scorecards: each row's figure equals the test's reading of the raw
    log, and links to a list of exactly those items, readable at 390 px and axe-clean."""
    from axe_kit import serious_violations
    from report_kit import beyond_cases, synthetic_scorecard

    from escapevelocity.services import approvals, cases, governance
    from escapevelocity.services.crisis import CrisisMode

    ws = server.workspace
    legal = "I will sue you, my lawyer is preparing a lawsuit"
    for n, decide in ((1, True), (2, False)):  # a draft decided, one waiting
        cid = _case(ws, legal, n)
        cases.claim(ws.store, ws.clock, cid, "ana")
        cases.reply(ws.store, ws.clock, cid, "ana", "We're sorry. Please DM us.")
        if decide:
            [draft] = [d.id for d in approvals.drafts(ws.store, cid, "omar")]
            approvals.approve(ws.store, ws.clock, cid, "omar", draft)
    CrisisMode(ws.store, ws.clock).declare("crisis2", "sam", "fires reported")
    for n, text in enumerate(("my phone caught fire while charging, my hand is burned",
                              "the router is smoking, had to unplug it"), start=3):
        _case(ws, text, n)
    governance.record_drill_score(ws.store, ws.clock, "ana", "outage@2026-11-20", 82.0,
                                  {"run": "outage-1", "cases": ["c1", "c2"]})
    governance.record_drill_score(ws.store, ws.clock, "omar", "outage@2026-11-20", 40.0)
    with ws.store.begin() as tx:
        tx.events.append([synthetic_scorecard(datetime.now(UTC), "outage-1")])
    page = log_in(browser, server, "sam", path="/reports?period=1d")
    now = datetime.now(UTC)
    want = beyond_cases(ws.store, now.date(), now.date() + timedelta(days=1), now)
    assert want["decided"] and want["waiting"] and want["incidents"] and want["runs"]
    assert any(i["affected"] for i in want["incidents"].values())
    report = f"{server.url}/reports?period=1d"

    for kind, waits in want["decided"].items():
        cell = page.locator(f'#approval-table tr[data-approval="{kind}"] td.value')
        assert _num(cell.inner_text()) == len(waits), kind
        _follow(page, cell.locator("a"))
        rows = page.locator("#items-table tbody tr")
        assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.ref)")) == sorted(
            s for s, _ in waits), kind
        page.goto(report)
    cell = page.locator('#approval-waiting-table tr[data-waiting="reply_playbook"] td.value')
    assert _num(cell.inner_text()) == len(want["waiting"])
    _follow(page, cell.locator("a"))
    assert page.locator("#items-table tbody tr").count() == len(want["waiting"])

    page.goto(report)
    for incident, expect_ in want["incidents"].items():
        row = page.locator(f'#crisis-table tr[data-incident="{incident}"]')
        assert row.locator("td.value").inner_text() == f"{expect_['crisis_minutes']:,.0f} min"
        _follow(page, row.get_by_role("link", name="the cases"))
        ids = page.locator("#items-table tbody tr").evaluate_all(
            "rs => rs.map(r => r.dataset.case)")
        assert sorted(ids) == expect_["affected"], incident
        page.goto(report)
    _follow(page, page.locator('#kpi-table tr[data-kpi="incidents"] td.value a'))
    assert page.locator("#items-table tbody tr").count() == len(want["incidents"])

    page.goto(report)
    for drill, scores in want["scores"].items():
        cell = page.locator(f'#drill-scores-table tr[data-drill="{drill}"] td.value')
        assert _num(cell.inner_text()) == len(scores)
        _follow(page, cell.locator("a"))
        members = page.locator("#items-table tbody tr").evaluate_all(
            "rs => rs.map(r => r.dataset.member)")
        assert sorted(members) == sorted(m for m, _ in scores)
        page.goto(report)
    for run in want["runs"]:
        row = page.locator(f'#drill-runs-table tr[data-run="{run["run"]}"]')
        assert row.locator("td.value").inner_text() == f"{run['score']} %"
        assert row.locator("td.routing").inner_text() == f"{100 * run['routing_accuracy']:.1f} %"
        row.locator("th a").click()
        expect(page.locator("h1")).to_have_text("Drill report: Network outage")
        page.goto(report)

    # every drill-down page: no sideways scroll on a phone (dark, as test_everywhere sweeps
    # phones), no serious axe finding
    incident = next(iter(want["incidents"]))
    paths = ("/reports?period=1d", "/reports/approvals?period=1d&state=decided",
             "/reports/approvals?period=1d&state=waiting", "/reports/incidents?period=1d",
             f"/reports/incidents/{incident}/cases", "/reports/drill-runs?period=1d",
             "/reports/drill-scores?period=1d")
    for width, height, scheme in ((1400, 900, "light"), (390, 844, "dark")):
        page.set_viewport_size({"width": width, "height": height})
        page.emulate_media(color_scheme=scheme)
        for path in paths:
            page.goto(f"{server.url}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= width, path
            assert serious_violations(page) == [], (path, scheme)
            if path == paths[0]:
                shoot(page, f"reports-beyond-cases-{width}")
    shoot(page, "reports-drill-scores-390")
    page.context.close()
