"""Two members play a short drill in the sandbox inbox: they join from the director page, see
the drill banner over the normal inbox (the sandbox's), each claims and answers a case; the
director stops it, and the scorecard scores each of them and the team. Their scores are
recorded in the live workspace's log (training); nothing reached the live workspace's cases.

The drill is time-compressed: a one-hour scenario whose mentions all arrive in its first
minutes, at x48, with one day of learned history (tests/drill_kit.py), so it prepares in
seconds."""

from __future__ import annotations

import time

from drill_kit import SCENARIO
from playwright.sync_api import expect

from escapevelocity.domain import events as ev
from escapevelocity.drill import load
from escapevelocity.services import drill as drills
from escapevelocity.web.routes_drill import start_with_people


def _wait_for_cases(drill, players, timeout=30.0) -> dict[str, str]:
    """A case assigned to each player in the sandbox."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with drill.workspace.store.begin() as tx:
            rows = tx.cases.outcomes()
            found = {}
            for r in rows:
                case = tx.cases.get(r["id"])
                if case.assignee in players and case.assignee not in found \
                        and case.state != "resolved":
                    found[case.assignee] = r["id"]
        if len(found) == len(players):
            return found
        time.sleep(0.3)
    raise AssertionError(f"no case for each player in {timeout}s: {found}")


def test_two_members_play_a_drill_in_the_sandbox_inbox(browser, server, log_in, tmp_path):
    players = ("ana", "leo")
    drill = drills.Drill.prepare(load(SCENARIO), tmp_path / "warm-up.db", speed=48,
                                 players=players, simulated=False)
    start_with_people(server.app, drill)
    try:
        pages = {}
        for member in players:
            page = log_in(browser, server, member, path="/drills/warm-up")
            expect(page.locator("#players")).to_contain_text("ana, leo")
            page.click("#join-drill button")
            page.wait_for_url("**/inbox")
            expect(page.locator("#drill-banner")).to_contain_text("DRILL")
            pages[member] = page
        mine = _wait_for_cases(drill, players)
        for member, page in pages.items():
            page.goto(f"{server.url}/cases/{mine[member]}")
            expect(page.locator("#drill-banner")).to_be_visible()
            page.click("#claim")
            expect(page.locator("#reply-text")).to_be_visible()
            page.fill("#reply-text", f"Sorry about the double charge, {member} here: refunding.")
            page.click("button:has-text('Send')")
            expect(page.locator("text=/Reply recorded|needs approval/")).to_be_visible()
        with drill.workspace.store.begin() as tx:
            answered = {e.actor for cid in mine.values() for e in tx.events.stream(cid)
                        if e.kind in (ev.REPLIED, ev.APPROVAL_REQUESTED)}
        assert answered == set(players)

        director = log_in(browser, server, "sam", path="/drills/warm-up")
        director.click("#stop")
        deadline = time.monotonic() + 30
        while not drill.done and time.monotonic() < deadline:
            time.sleep(0.2)
        director.goto(f"{server.url}/drills/warm-up")
        table = director.locator("#people-scores")
        for member in players:
            row = table.locator(f'tr[data-member="{member}"]')
            expect(row.locator(".answers")).to_have_text("1")
            assert float(row.locator(".score").inner_text()) > 0
        expect(table.locator("#team-score")).to_contain_text("team")
        scores = {p.member: p for p in drill.people.people}
        assert set(scores) == set(players) and all(p.claims == 1 for p in scores.values())

        # the scores are in the live log; the live workspace has none of the drill's cases
        with server.workspace.store.begin() as tx:
            recorded = [e for e in tx.events.of_kinds([ev.DRILL_SCORED])]
            assert {e.member for e in recorded} == set(players)
            assert all(tx.cases.get(cid) is None for cid in mine.values())
            # each score keeps the sandbox cases its player handled, and names the run
            assert {e.member: e.details["cases"] for e in recorded} == {
                m: [mine[m]] for m in players}
            [card] = tx.events.of_kinds([ev.DRILL_SCORECARD])
            assert card.players == list(drill.players)
            assert {e.details["run"] for e in recorded} == {card.run}

        pages["ana"].click("#drill-banner button")
        pages["ana"].wait_for_url("**/inbox")
        expect(pages["ana"].locator("#drill-banner")).to_have_count(0)
        for page in (*pages.values(), director):
            page.context.close()
    finally:
        drill.control.stop()
        drills.RUNNING.pop("warm-up", None)
