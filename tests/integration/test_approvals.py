"""Approvals on SQLite and PostgreSQL: a reply that needs approval is never sent without it, by
any service path, and an approval whose SLA runs out escalates to the next approver."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from engage_kit import LEGAL, SUPPORT, case, events, kinds, open_case, with_admin

from escapevelocity.domain import events as ev
from escapevelocity.domain.case_errors import ClaimTaken
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services import approvals, bulk, cases, followup
from escapevelocity.services.casetx import CaseError

SRC = Path(__file__).resolve().parents[2] / "src" / "escapevelocity"


@pytest.fixture
def ws(workspace):
    with_admin(workspace)
    return workspace


def replies(ws, cid):
    return [e for e in events(ws, cid) if e.kind == ev.REPLIED]


def held_legal_reply(ws, clock, text="We're sorry. Please DM us your details."):
    cid = open_case(ws, clock, LEGAL)
    cases.claim(ws.store, clock, cid, "ana")
    held = cases.reply(ws.store, clock, cid, "ana", text)
    return cid, held


def test_playbook_approval_holds_the_reply_and_no_path_sends_it(ws, clock):
    cid, held = held_legal_reply(ws, clock)
    assert held.kind == ev.APPROVAL_REQUESTED
    assert held.data["group"] == "legal" and held.data["approver"] == "omar"
    assert "the playbook requires approval by legal" in held.data["reasons"][0]
    c = case(ws, cid)
    assert (c.approval_state, c.approver, c.claimed_by) == ("pending", "omar", None)
    draft = held.data["draft"]
    store = ws.store
    attempts = [
        lambda: cases.reply(store, clock, cid, "ana", "sending it anyway"),
        lambda: (cases.claim(store, clock, cid, "priya"),
                 cases.reply(store, clock, cid, "priya", "me instead")),
        lambda: cases.claim(store, clock, cid, "sam", override=True) and cases.reply(
            store, clock, cid, "sam", "override then reply"),
        lambda: cases.resolve(store, clock, cid, "ana"),
        lambda: approvals.approve(store, clock, cid, "ana", draft),  # submitter: no role
        lambda: approvals.approve(store, clock, cid, "priya", draft),  # liaison: no role
        lambda: approvals.approve(store, clock, cid, "joe", draft),
        lambda: approvals.approve(store, clock, cid, "omar", "d999"),  # not the pending draft
        lambda: approvals.offer_alternative(store, clock, cid, "priya", draft, "x"),
    ]
    for n, fn in enumerate(attempts):
        with pytest.raises((CaseError, PermissionDenied, ClaimTaken)):
            fn()
        assert replies(ws, cid) == [], f"attempt {n} sent a reply"
    results = bulk.run(store, clock, "sam", [cid], "resolve")
    assert not results[0].ok and "awaiting approval" in results[0].message
    assert replies(ws, cid) == []

    sent = approvals.approve(store, clock, cid, "omar", draft, note="fine")
    assert sent.kind == ev.REPLIED and sent.actor == "ana"
    assert sent.data["approved_by"] == "omar" and sent.data["draft"] == draft
    assert [e.data["text"] for e in replies(ws, cid)] == [held.data["text"]]
    c = case(ws, cid)
    assert c.approval_state == "approved" and c.state == "replied"
    with pytest.raises(CaseError, match="no longer awaiting"):
        approvals.approve(store, clock, cid, "omar", draft)  # approving twice sends nothing
    assert len(replies(ws, cid)) == 1


def test_risky_words_role_and_training_need_approval_too(ws, clock):
    store = ws.store
    approvals.set_policy(store, clock, "sam", "in_training: [priya]\n")
    risky = open_case(ws, clock, SUPPORT)
    cases.claim(store, clock, risky, "ana")
    held = cases.reply(store, clock, risky, "ana", "We guarantee this never happens again.")
    # routed by the reason: legal risk goes to legal (its approver first)
    assert held.kind == ev.APPROVAL_REQUESTED and held.data["group"] == "legal"
    assert held.data["approver"] == "omar"
    assert "risk list: guarantee" in held.data["reasons"][0]
    agency = open_case(ws, clock, SUPPORT)
    cases.claim(store, clock, agency, "joe")
    held = cases.reply(store, clock, agency, "joe", "Sorry about that!")
    assert held.kind == ev.APPROVAL_REQUESTED
    assert "replies by the agency role need approval" in held.data["reasons"]
    assert held.data["group"] == "hub"  # an agency's routine reply: its hub checks it
    trainee = open_case(ws, clock, SUPPORT)
    cases.claim(store, clock, trainee, "priya")
    held = cases.reply(store, clock, trainee, "priya", "Sorry about that!")
    assert held.kind == ev.APPROVAL_REQUESTED and "priya is in training" in held.data["reasons"]
    plain = open_case(ws, clock, SUPPORT)
    cases.claim(store, clock, plain, "ana")
    assert cases.reply(store, clock, plain, "ana", "Sorry about that!").kind == ev.REPLIED


def test_sla_breach_escalates_to_the_next_approver(ws, clock):
    store = ws.store
    approvals.set_policy(store, clock, "ada",
                         "approval_sla_minutes: 20\nrotations: {legal: [omar, sam, ada]}\n")
    cid, held = held_legal_reply(ws, clock)
    assert held.data["approver"] == "omar"
    clock.advance(minutes=19)
    assert approvals.tick(store, clock) == []
    clock.advance(minutes=2)
    [up] = approvals.tick(store, clock)
    assert (up.kind, up.data["from"], up.data["to"], up.data["level"]) == (
        ev.APPROVAL_ESCALATED, "omar", "sam", 1)
    c = case(ws, cid)
    assert c.approver == "sam" and c.approval_due == clock.now() + timedelta(minutes=20)
    assert [x.id for x in approvals.queue(store, "sam")] == [cid]
    assert approvals.queue(store, "omar") == []
    assert approvals.tick(store, clock) == []  # a fresh SLA for sam
    clock.advance(minutes=21)
    [up] = approvals.tick(store, clock)
    assert (up.data["from"], up.data["to"]) == ("sam", "ada")
    clock.advance(minutes=21)
    [up] = approvals.tick(store, clock)
    assert (up.data["from"], up.data["to"]) == ("ada", "omar")  # the rotation wraps round
    assert replies(ws, cid) == []  # escalation never sends
    approvals.approve(store, clock, cid, "omar", held.data["draft"])
    assert len(replies(ws, cid)) == 1
    [d] = approvals.drafts(store, cid, "ana")
    assert (d.state, d.escalations) == ("approved", 3)


def test_approver_edits_rejects_and_the_submitter_offers_alternatives(ws, clock):
    store = ws.store
    cid, held = held_legal_reply(ws, clock, "We admit it was our fault.")
    draft = held.data["draft"]
    with pytest.raises(CaseError, match="needs a note"):
        approvals.reject(store, clock, cid, "omar", draft, " ")
    approvals.reject(store, clock, cid, "omar", draft, "never admit fault in public")
    assert case(ws, cid).approval_state == "rejected" and replies(ws, cid) == []
    cases.claim(store, clock, cid, "ana")
    again = cases.reply(store, clock, cid, "ana", "We're sorry. Please DM us.")
    assert again.kind == ev.APPROVAL_REQUESTED and again.data["draft"] != draft
    draft = again.data["draft"]
    approvals.offer_alternative(store, clock, cid, "ana", draft, "Sorry! DM us please.")
    approvals.edit(store, clock, cid, "omar", draft, "We're sorry. Please DM us today.")
    [_, d] = approvals.drafts(store, cid, "omar")
    assert d.options == ["We're sorry. Please DM us.", "Sorry! DM us please."]
    assert d.text == "We're sorry. Please DM us today."
    sent = approvals.approve(store, clock, cid, "omar", draft, choice=1)
    assert sent.data["text"] == "Sorry! DM us please." and sent.data["edited"] is True


def test_nobody_approves_their_own_reply(ws, clock):
    store = ws.store
    cid = open_case(ws, clock, LEGAL)
    cases.claim(store, clock, cid, "omar")
    held = cases.reply(store, clock, cid, "omar", "Please DM us.")
    assert held.data["approver"] != "omar"
    with pytest.raises(PermissionDenied, match="own reply"):
        approvals.approve(store, clock, cid, "omar", held.data["draft"])
    approvals.approve(store, clock, cid, held.data["approver"], held.data["draft"])
    assert len(replies(ws, cid)) == 1


def test_only_two_functions_in_the_code_send_a_reply():
    """Structural guard: REPLIED events are built only by the reply plan (domain/plans, which
    cases.reply commits only after its approval check) and approvals.approve; no web or API
    module appends events itself."""
    builders = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        for m in re.finditer(r"Event\([^,()]+,\s*ev\.REPLIED\b", text):
            line = text.count("\n", 0, m.start())
            fn = [x for x in text.splitlines()[:line + 1] if x.startswith("def ")][-1]
            builders.append((path.relative_to(SRC).as_posix(), fn.split("(")[0][4:]))
    senders = {b for b in builders
               if b[0].startswith(("services/", "web/", "api/", "domain/plans/"))}
    assert senders <= {("domain/plans/commands.py", "plan_reply"),
                       ("services/approvals.py", "approve")}, senders
    for path in list((SRC / "web").rglob("*.py")) + list((SRC / "api").rglob("*.py")):
        assert "store.append(" not in path.read_text(), f"{path} writes events directly"
    reply_src = (SRC / "services" / "cases.py").read_text().split("def reply(")[1]
    reply_src = reply_src.split("\ndef ")[0]
    assert reply_src.index("approval_need(") < reply_src.index("commit(")


def test_follow_up_asks_then_invites_a_happy_customer(ws, clock):
    store = ws.store
    cid = open_case(ws, clock, SUPPORT)
    cases.claim(store, clock, cid, "ana")
    cases.reply(store, clock, cid, "ana", "Fixed, sorry for the trouble.")
    cases.resolve(store, clock, cid, "ana")
    c = case(ws, cid)
    assert c.followup_state == "scheduled"
    assert c.followup_due == clock.now() + timedelta(hours=24)
    clock.advance(hours=23)
    assert followup.tick(store, clock) == []
    clock.advance(hours=1)
    [asked] = followup.tick(store, clock)
    assert asked.kind == ev.FOLLOWUP_SENT and "from 1 (poor) to 5" in asked.data["text"]
    out = followup.answer(store, clock, cid, ev.SYSTEM, text="5/5 thanks")
    assert [e.kind for e in out] == [ev.FOLLOWUP_ANSWERED, ev.FOLLOWUP_INVITED]
    assert case(ws, cid).csat == 5 and case(ws, cid).followup_state == "invited"
    s = followup.summary(store, "eva")
    assert (s.asked, s.answered, s.csat_mean, s.invited) == (1, 1, 5.0, 1)


def test_unhappy_answer_gets_no_invitation_and_a_reopen_cancels(ws, clock):
    store = ws.store
    ids = []
    for _ in range(2):
        cid = open_case(ws, clock, SUPPORT)
        cases.claim(store, clock, cid, "ana")
        cases.reply(store, clock, cid, "ana", "Done.")
        cases.resolve(store, clock, cid, "ana")
        ids.append(cid)
    cases.reopen(store, clock, ids[1], "ana")
    assert case(ws, ids[1]).followup_state == "cancelled"
    clock.advance(hours=25)
    [asked] = followup.tick(store, clock)
    assert asked.stream == ids[0]
    out = followup.answer(store, clock, ids[0], "ana", csat=2)
    assert [e.kind for e in out] == [ev.FOLLOWUP_ANSWERED]
    with pytest.raises(CaseError):
        followup.answer(store, clock, ids[0], "ana", csat=9)
    assert kinds(ws, ids[0]).count(ev.FOLLOWUP_INVITED) == 0
