"""A customer's answer to the satisfaction question arrives as a mention: it is recorded as the
answer (and a happy one invites them to update their post) instead of reopening the case; any
other reply reopens it. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from engage_kit import case, kinds, open_case

from escapevelocity.domain import events as ev
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import cases, followup
from escapevelocity.services.ingest import ingest


def _resolved_and_asked(ws, clock, handle: str) -> str:
    case_id = open_case(ws, clock, "my bill is wrong, please help", handle=handle)
    assignee = case(ws, case_id).assignee or "priya"
    cases.claim(ws.store, clock, case_id, assignee)
    cases.reply(ws.store, clock, case_id, assignee, "Sorry! We have fixed the bill.")
    cases.resolve(ws.store, clock, case_id, assignee)
    clock.advance(hours=25)
    assert [e.kind for e in followup.tick(ws.store, clock)] == [ev.FOLLOWUP_SENT]
    return case_id


def _customer_says(ws, clock, case_id: str, handle: str, text: str, n: int) -> None:
    with ws.store.begin() as tx:
        source = tx.mentions.of_case(case_id)[0].source_id
    clock.advance(minutes=5)
    ingest(ws.store, ws.triager(), clock, [Mention(
        source_id=f"answer{n}", channel="twitter", text=text, kind="reply",
        in_reply_to=source, author=Author(handle=handle), created_at=clock.now())])


@pytest.mark.parametrize("text, happy", [("5", True), ("4/5 thanks", True), ("2", False),
                                          ("👍", True)])
def test_an_answer_is_recorded_not_reopened(workspace, clock, text, happy):
    case_id = _resolved_and_asked(workspace, clock, "cara")
    _customer_says(workspace, clock, case_id, "cara", text, 1)
    got = kinds(workspace, case_id)
    assert ev.FOLLOWUP_ANSWERED in got and ev.REOPENED not in got
    assert (ev.FOLLOWUP_INVITED in got) is happy
    assert case(workspace, case_id).state == "resolved"


def test_anything_else_reopens_the_case(workspace, clock):
    case_id = _resolved_and_asked(workspace, clock, "dov")
    _customer_says(workspace, clock, case_id, "dov", "it is wrong AGAIN this month", 2)
    got = kinds(workspace, case_id)
    assert ev.REOPENED in got and ev.FOLLOWUP_ANSWERED not in got
    assert case(workspace, case_id).state != "resolved"
