"""The maturity page in a browser, computed from the demo workspace: it places the program on
the seeds' scale, and every statement (and the next step) links to facts shown in the facts
table with the same values the assessment counted."""

from __future__ import annotations

from playwright.sync_api import expect

from escapevelocity.services import maturity

TEXTS = ["my broadband is down again, please help", "love the new app, great job",
         "thinking of switching to your unlimited plan, price?"]


def test_maturity_page_statements_trace_to_facts(browser, server, log_in):
    server.post([{"source_id": f"m{n}", "channel": "twitter",
                  "created_at": f"2026-11-20T13:5{n}:00Z", "text": text,
                  "author": {"handle": f"who{n}", "name": "Who"}}
                 for n, text in enumerate(TEXTS)])
    ws = server.workspace
    review = maturity.review(ws.store, ws.clock.now())
    a = review["assessment"]
    page = log_in(browser, server, "eva", path="/maturity")
    expect(page.locator("#stage")).to_have_text(a.stage)
    expect(page.locator("#model")).to_have_text(a.model)
    assert a.model == "hub-and-spoke" and a.facts["spokes_live"].value == 5
    statements = page.locator("#statements li")
    expect(statements).to_have_count(len(a.statements))
    links = page.locator("#statements a[data-fact], #next-step a[data-fact]")
    assert links.count() >= len(a.statements)
    for i in range(links.count()):
        fact = links.nth(i).get_attribute("data-fact")
        assert links.nth(i).get_attribute("href") == f"#fact-{fact}"
        row = page.locator(f"#facts tr#fact-{fact}")
        expect(row).to_have_count(1)
        expect(row.locator(".value")).to_have_text(f"{a.facts[fact].value:g}")
    expect(page.locator("#next-step")).to_contain_text(a.next_step.text)
    expect(page.locator('#quarterly-review tr[data-fact="cases"]')).to_contain_text(
        f"{a.facts['cases'].value:g}")
    page.context.close()
