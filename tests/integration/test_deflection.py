"""A question another customer answered in its thread, resolved with no reply from us, is
counted as resolved by the community (and one we answered is not)."""

from __future__ import annotations

from engage_kit import case, open_case

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
    assert case(ws, peered)["mention_count"] == 2
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


def test_the_rule():
    assert resolved_by_community("Kim", ["kim", "@lee", "lee", "max"], replied=False) == \
        "peer answer by @lee, @max"
    assert resolved_by_community("kim", ["kim", "KIM"], replied=False) is None
    assert resolved_by_community("kim", ["lee"], replied=True) is None
