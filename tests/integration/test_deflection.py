"""A question another customer answered in its thread, resolved with no reply from us, is
counted as resolved by the community (and one we answered is not)."""

from __future__ import annotations

from engage_kit import case, open_case
from web_kit import login

from escapevelocity.domain import events as ev
from escapevelocity.domain.answers.deflection import resolved_by_community
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import cases
from escapevelocity.services.ingest import ingest


def _peer_answers(ws, case_id: str, n: int) -> None:
    with ws.store.begin() as tx:
        source = tx.mentions.of_case(case_id)[0].source_id
    ingest(ws.store, ws.triager(), ws.clock, [Mention(
        source_id=f"peer{n}", channel="twitter", kind="reply", in_reply_to=source,
        text="you can switch roaming on in the app under Plan", author=Author(handle="helper"),
        created_at=ws.clock.now())])


def test_a_peer_answer_resolved_without_our_reply_is_a_deflection(workspace):
    ws = workspace
    peered = open_case(ws, ws.clock, "how do I turn on roaming abroad?", handle="asker")
    _peer_answers(ws, peered, 1)
    assert case(ws, peered).mention_count == 2
    cases.resolve(ws.store, ws.clock, peered, "ana")
    answered = open_case(ws, ws.clock, "how do I turn on roaming abroad?", handle="asker2")
    _peer_answers(ws, answered, 2)
    cases.claim(ws.store, ws.clock, answered, "ana")
    cases.reply(ws.store, ws.clock, answered, "ana", "Plan > Roaming in the app.")
    cases.resolve(ws.store, ws.clock, answered, "ana")
    with ws.store.begin() as tx:
        found = tx.events.of_kind(ev.COMMUNITY_RESOLVED)
        assert tx.events.rollup("deflection") == {"community_resolved": 1}
    assert [(e.stream, e.ref) for e in found] == [(peered, "peer answer by @helper")]


def test_the_reports_show_deflection_with_the_cases_behind_it(workspace, app):
    ws = workspace
    peered = open_case(ws, ws.clock, "how do I turn on roaming abroad?", handle="asker")
    _peer_answers(ws, peered, 3)
    cases.resolve(ws.store, ws.clock, peered, "ana")
    client, _ = login(app, "sam")  # the strategist reads every team's figures
    page = client.get("/reports?period=7d").text
    row = page[page.index('data-kpi="community_resolved"'):]
    row = row[:row.index("</tr>")]
    assert '<td class="value">1</td>' in row and f'href="/cases/{peered}"' in row
    before = client.get("/reports?period=2020-01-01..2020-01-08").text
    assert 'data-kpi="community_resolved"><th scope="row">Resolved by the community, no ' \
           'reply from us</th><td class="value">0</td>' in before  # another period: none
    with ws.store.begin() as tx:
        team = tx.cases.get(peered).team
    from datetime import date

    from escapevelocity.domain.kpis import Period
    from escapevelocity.services.answers import period_figures

    always = Period(date(2000, 1, 1), date(2100, 1, 1))
    mine = {f["key"]: f["count"] for f in period_figures(ws.store, always, frozenset({team}))}
    other = {f["key"]: f["count"] for f in period_figures(ws.store, always,
                                                           frozenset({"no-such-team"}))}
    assert mine["community_resolved"] == 1 and other["community_resolved"] == 0
    assert "advocates_invited" not in mine  # not a team's figure


def test_the_rule():
    assert resolved_by_community("Kim", ["kim", "@lee", "lee", "max"], replied=False) == \
        "peer answer by @lee, @max"
    assert resolved_by_community("kim", ["kim", "KIM"], replied=False) is None
    assert resolved_by_community("kim", ["lee"], replied=True) is None
