"""Two members race to claim and answer the same case in two browsers: exactly one reply goes
out, and the other member is told who has it and why they cannot answer."""

from __future__ import annotations

from playwright.sync_api import expect


def test_two_members_race_for_one_case_and_only_one_reply_is_sent(browser, server, log_in):
    case_id = server.post([{
        "source_id": "race1", "channel": "twitter", "created_at": "2026-11-20T13:59:00Z",
        "text": "charged twice for my broadband this month, please sort it out",
        "author": {"handle": "dee", "name": "Dee"}}])["case_ids"][0]
    priya = log_in(browser, server, "priya")
    ana = log_in(browser, server, "ana")
    for page in (priya, ana):
        page.goto(f"{server.url}/cases/{case_id}")
        expect(page.locator("#claim")).to_be_visible()

    # Both press Claim in the same instant: each page fires its click from a timer, so neither
    # waits for the other's response and the two requests race at the server.
    for page in (priya, ana):
        page.evaluate("() => setTimeout(() => document.getElementById('claim').click(), 50)")
    for page in (priya, ana):  # each page answers its own click (won, or refused and why)
        expect(page.locator(".flash")).to_be_visible(timeout=10_000)
    with server.workspace.store.begin() as tx:
        holder = tx.cases.get(case_id).claimed_by
    winner, loser = (priya, ana) if holder == "priya" else (ana, priya)
    winner_name = "priya" if winner is priya else "ana"
    loser.reload()
    expect(loser.locator(".held")).to_contain_text(f"Being answered by {winner_name}")
    expect(loser.locator("#claim")).to_have_count(0)
    expect(loser.locator("#reply-text")).to_have_count(0)

    # The loser tries anyway, with a request built by hand from its page: refused, and told why.
    refused = loser.evaluate("""async ([id]) => {
        const body = new URLSearchParams({csrf: document.body.dataset.csrf, text: 'me too!'});
        const r = await fetch(`/cases/${id}/reply`, {method: 'POST', body,
            headers: {'HX-Request': '1'}});
        return await r.text();
    }""", [case_id])
    assert f"{winner_name} has claimed this case" in refused

    winner.fill("#reply-text", "Sorry Dee, we have refunded the second charge.")
    # Each case panel swapped in from now on: whether it shows the outcome.
    winner.evaluate("""() => { window.__panels = [];
        new MutationObserver(changes => changes.forEach(c => c.addedNodes.forEach(n => {
            if (n.id === 'case') window.__panels.push(n.textContent.includes('Reply recorded'));
        }))).observe(document.body, {childList: true, subtree: true}); }""")
    winner.click("text=Send public reply")
    expect(winner.locator("text=Reply recorded")).to_be_visible()
    # The reply's own events come back over the live stream and refresh the panel; the
    # outcome the member was shown must survive that refresh: the reply's answer and then a
    # live refresh, both showing it.
    winner.wait_for_function("() => window.__panels.filter(shown => shown).length >= 2")
    expect(winner.locator("text=Reply recorded")).to_be_visible()
    with server.workspace.store.begin() as tx:
        events = tx.events.stream(case_id)
    replies = [e for e in events if e.kind == "replied"]
    claims = [e for e in events if e.kind == "claimed"]
    assert len(replies) == 1 and replies[0].actor == winner_name
    assert len(claims) == 1
    for page in (priya, ana):
        page.context.close()
