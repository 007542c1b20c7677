"""A correction in a browser: the form offers only the chosen signal's labels, and a corrected
situation moves the case to the right track and team."""

from __future__ import annotations

from playwright.sync_api import expect

from escapevelocity.domain.clock import SystemClock
from escapevelocity.services import annotate

LEGAL = '#correct-form select[name="label"] option[value="legal"]'


def test_a_situation_correction_moves_the_case(browser, server, log_in):
    case_id = server.post([{"source_id": "fix1", "channel": "twitter",
                            "created_at": "2026-11-20T13:59:00Z",
                            "text": "my cat just knocked over my coffee lol",
                            "author": {"handle": "kim", "name": "Kim"}}])["case_ids"][0]
    with server.workspace.store.begin() as tx:
        case = tx.cases.get(case_id)
    assert (case.track, case.team) == ("monitor", "hub")
    page = log_in(browser, server, "ana", path=f"/cases/{case_id}")
    page.click("details.correct summary")
    labels = page.locator('#correct-form select[name="label"] option')
    # the form offers only the chosen signal's labels, swapped in when the signal changes
    page.select_option('#correct-form select[name="signal"]', "sentiment")
    expect(labels).to_have_count(3)
    expect(page.locator(LEGAL)).to_have_count(0)
    # a colleague's note changes the case mid-choice: the live refresh of the panel keeps the
    # open form and the chosen signal (the race that reset it under load)
    annotate.note(server.workspace.store, SystemClock(), case_id, "sam", "checking the thread")
    expect(page.locator("#case")).to_contain_text("note added")
    expect(page.locator("details.correct")).to_have_attribute("open", "")
    expect(labels).to_have_count(3)
    page.select_option('#correct-form select[name="signal"]', "situation")
    expect(page.locator(LEGAL)).to_have_count(1)
    page.select_option('#correct-form select[name="label"]', "legal")
    page.fill('#correct-form input[name="why"]', "threatens to sue in the reply thread")
    page.click('#correct-form button[type="submit"]')
    page.wait_for_url(f"**/cases/{case_id}")
    decision = page.locator("section.decision")
    expect(decision).to_contain_text("legal_review")
    expect(decision).to_contain_text("legal-threat")
    with server.workspace.store.begin() as tx:
        case = tx.cases.get(case_id)
        events = tx.events.stream(case_id)
    assert (case.track, case.team, case.situation) == ("legal_review", "legal", "legal")
    decided = [e for e in events if e.kind == "decided"][-1]
    assert decided.actor == "ana"
    assert decided.data["corrected"]["why"] == "threatens to sue in the reply thread"
    page.context.close()
