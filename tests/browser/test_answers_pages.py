"""Suggested answers in a browser: the case page shows the knowledge store's best answer with
its score and reason; picking it in the reply box fills the text (to edit), and one click
replies with it; the figures page and the library pages render. Screenshots (EV_SCREENSHOTS=1)
go to var/screenshots/ for a person to look at."""

from __future__ import annotations

from playwright.sync_api import expect
from shot_kit import shoot

from escapevelocity.services import answers

ARTICLE = "# How do I turn on roaming abroad\n\nOpen the app, Plan > Roaming, switch it on.\n"


def test_a_suggested_answer_in_one_click(browser, server, log_in, tmp_path):
    ws = server.workspace
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "roaming.md").write_text(ARTICLE)
    answers.store_entries(ws.store, ws.clock, "article", answers.read_articles(kb), "test")
    case_id = server.post([{"source_id": "kb1", "channel": "twitter",
                            "created_at": ws.clock.now().isoformat(),
                            "text": "how do I turn on roaming abroad?",
                            "author": {"handle": "kim", "name": "Kim"}}])["case_ids"][0]
    page = log_in(browser, server, "ana", path=f"/cases/{case_id}")
    page.click("#claim")
    box = page.locator("section.answers")
    expect(box).to_contain_text("shared words: abroad, roaming")
    expect(box).to_contain_text("approved")
    entry = answers.suggest(ws.store, "roaming abroad")[0].entry
    page.select_option("#template", f"answer:{entry.id}")
    expect(page.locator("#reply-text")).to_have_value(entry.answer)
    shoot(page, "case-suggested-answers")
    box.get_by_role("button", name="Reply with this answer").click()
    expect(page.locator("#case")).to_contain_text("Answer sent.")
    with ws.store.begin() as tx:
        assert tx.cases.get(case_id).state == "replied"
        assert tx.events.rollup("deflection") == {"answer_used article": 1}
    for path in ("/answers", "/replies", "/advocates"):
        page.goto(f"{server.url}{path}")
        expect(page.locator("h1")).to_be_visible()
        shoot(page, path.strip("/"))
    page.goto(f"{server.url}/answers")
    expect(page.locator(f'a[href="/cases/{case_id}"]')).to_have_count(1)
    page.context.close()
