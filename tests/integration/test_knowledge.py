"""The knowledge store end to end: articles (`ev knowledge add`), a community feed (JSON Feed
and RSS, `ev knowledge feed`) and resolved cases with a happy follow-up become suggested
answers on the case page, with score and reason; replying with a link to a peer answer and
resolving by the community are counted as deflection, and the counts lead to their cases
(`ev answers report`, /answers)."""

from __future__ import annotations

import json

import pytest
from engage_kit import case, open_case
from typer.testing import CliRunner
from web_kit import login

from escapevelocity.cli.main import app as cli
from escapevelocity.domain import events as ev
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import advocacy, answers, cases, followup
from escapevelocity.services.ingest import ingest

FEED = {"version": "https://jsonfeed.org/version/1.1", "title": "Orbit Community",
        "items": [{"id": "1", "url": "https://community.example/t/roaming-abroad/77",
                   "authors": [{"name": "@RoamingRita"}],
                   "title": "How do I turn on roaming abroad?",
                   "content_html": "<p>Open the app, <b>Plan</b> &gt; Roaming, switch it on.</p>"},
                  {"id": "2", "url": "javascript:alert(1)", "title": "Evil link",
                   "content_text": "never a link"}]}
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>c</title>
<item><title>Why is my bill higher this month?</title><link>https://community.example/t/bill/9</link>
<description>Usually a one-off roaming charge; see the itemised bill.</description></item>
</channel></rss>"""


@pytest.fixture(autouse=True)
def _words_only(monkeypatch):
    monkeypatch.setenv("EV_ANSWER_VECTORS", "0")


def run(ws, *args):
    result = CliRunner().invoke(cli, [*args, "--database", ws.store.url])
    assert result.exit_code == 0, result.output
    return result.output


def test_sources_become_suggestions_and_deflection_is_counted(workspace, app, tmp_path):
    ws = workspace
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "esim.md").write_text("# How do I activate an eSIM\n\nScan the QR code in the app.\n")
    (kb / "empty.md").write_text("# Nothing here\n")
    assert "1 articles loaded" in run(ws, "knowledge", "add", str(kb))
    (tmp_path / "feed.json").write_text(json.dumps(FEED))
    assert "2 community answers" in run(ws, "knowledge", "feed", str(tmp_path / "feed.json"))
    by_source = {e.source: e for e in answers.index(ws.store).entries}
    assert by_source["article"].approved and not by_source["community"].approved
    evil = [e for e in answers.index(ws.store).entries if e.title == "Evil link"]
    assert evil and evil[0].ref == ""  # a javascript: link is never kept as a link
    assert "<b>" not in by_source["community"].answer

    # a resolved case whose customer said they were happy joins the store
    resolved = open_case(ws, ws.clock, "my sim card is not working after the swap",
                         handle="happy1")
    who = case(ws, resolved).assignee or "ana"
    cases.claim(ws.store, ws.clock, resolved, who)
    cases.reply(ws.store, ws.clock, resolved, who, "Restart the phone after the swap.")
    cases.resolve(ws.store, ws.clock, resolved, who)
    ws.clock.advance(hours=25)
    followup.tick(ws.store, ws.clock)
    with ws.store.begin() as tx:
        source = tx.mentions.of_case(resolved)[0].source_id
    ingest(ws.store, ws.triager(), ws.clock, [Mention(
        source_id="csat1", channel="twitter", text="5", kind="reply", in_reply_to=source,
        author=Author(handle="happy1"), created_at=ws.clock.now())])
    got = answers.suggest(ws.store, "sim card not working after swap")
    assert got[0].entry.source == "case" and got[0].entry.ref == resolved
    assert "nearest resolved case" in got[0].reason

    # the case page shows suggestions with score and reason; a link reply is a deflection
    asked = open_case(ws, ws.clock, "how do I turn on roaming abroad in the app?")
    client, csrf = login(app, "ana", page=f"/cases/{asked}")
    page = client.get(f"/cases/{asked}").text
    assert "Suggested answers" in page and "shared words: abroad" in page
    assert "community.example/t/roaming-abroad/77" in page
    client.post(f"/cases/{asked}/claim", data={"csrf": csrf})
    peer = next(e for e in answers.index(ws.store).entries if "roaming" in e.title.lower())
    r = client.post(f"/cases/{asked}/answer", data={"csrf": csrf, "entry": peer.id,
                                                     "linked": "true", "score": "0.9"},
                    follow_redirects=False)
    assert r.status_code == 303
    with ws.store.begin() as tx:
        stream = tx.events.stream(asked)
    used = [e for e in stream if e.kind == ev.ANSWER_USED]
    replied = [e for e in stream if e.kind == ev.REPLIED]
    assert used and used[0].linked and peer.ref in replied[-1].text

    # the community answered and we did not: resolved, counted
    (tmp_path / "feed.rss").write_text(RSS)
    run(ws, "knowledge", "feed", str(tmp_path / "feed.rss"))
    bill = open_case(ws, ws.clock, "why is my bill higher this month?")
    r = client.post(f"/cases/{bill}/community-resolved",
                    data={"csrf": csrf, "ref": "https://community.example/t/bill/9"},
                    follow_redirects=False)
    assert r.status_code == 303 and case(ws, bill).state == "resolved"

    with ws.store.begin() as tx:
        counts = tx.events.rollup("deflection")
    assert counts["linked_peer"] == 1 and counts["community_resolved"] == 1
    report = run(ws, "answers", "report")
    assert f"linked a peer answer: 1  cases: {asked}" in report
    assert f"resolved by the community: 1  cases: {bill}" in report
    page = client.get("/answers").text
    assert f'href="/cases/{asked}"' in page and f'href="/cases/{bill}"' in page

    # the peer whose answer we linked is credited: linked once more, she is a candidate
    again = open_case(ws, ws.clock, "roaming abroad: how do I turn it on?")
    client.post(f"/cases/{again}/claim", data={"csrf": csrf})
    client.post(f"/cases/{again}/answer", data={"csrf": csrf, "entry": peer.id,
                                                 "linked": "true"})
    rita = next(c for c, _ in advocacy.candidates(ws.store) if c.handle == "roamingrita")
    assert rita.channel == "community" and {asked, again} <= set(rita.cases)
    assert "their community answer linked in 2 of our replies" in rita.evidence


def test_an_edited_suggested_answer_is_recorded_as_edited(workspace, app, tmp_path):
    ws = workspace
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "esim.md").write_text("# How do I activate an eSIM\n\nScan the QR code in the app.\n")
    run(ws, "knowledge", "add", str(kb))
    asked = open_case(ws, ws.clock, "how do I activate an esim?")
    entry = answers.suggest(ws.store, "activate esim")[0].entry
    client, csrf = login(app, "ana", page=f"/cases/{asked}")
    client.post(f"/cases/{asked}/claim", data={"csrf": csrf})
    r = client.post(f"/cases/{asked}/reply", data={"csrf": csrf, "template": f"answer:{entry.id}",
                                                    "text": "Hi! Scan the QR code in the app."},
                    follow_redirects=False)
    assert r.status_code == 303
    with ws.store.begin() as tx:
        used = [e for e in tx.events.stream(asked) if e.kind == ev.ANSWER_USED]
        assert tx.events.rollup("deflection") == {"answer_used article": 1}
    assert used and not used[0].edited and not used[0].linked
