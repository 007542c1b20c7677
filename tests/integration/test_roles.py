"""Per role, through the service commands the web pages and the API call: what each role may
do and what it is refused. The expectations are written out here, not derived from the matrix,
so a change to the matrix has to change this table too."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from engage_kit import LEGAL, SUPPORT, open_case, with_admin

from escapevelocity.domain import events as ev
from escapevelocity.domain.access import NotVisible
from escapevelocity.domain.clock import FixedClock
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services import annotate, approvals, bulk, cases, followup

EVERYTHING = {"audit", "claim", "note", "tag", "crm_link", "reply", "assign", "resolve",
              "reopen", "approve", "configure", "bulk", "override_claim", "followup"}
MAY = {
    "strategist": EVERYTHING,
    "admin": EVERYTHING,
    "community_manager": EVERYTHING - {"approve", "configure", "override_claim"},
    "liaison": {"audit", "claim", "note", "tag", "crm_link", "reply", "resolve", "reopen",
                "followup"},
    "approver": {"audit", "claim", "note", "tag", "reply", "resolve", "approve"},
    "analyst": {"audit"},
    "agency": {"claim", "note", "tag", "reply", "resolve"},
}
MEMBER = {"strategist": "sam", "admin": "ada", "community_manager": "ana", "liaison": "priya",
          "approver": "omar", "analyst": "eva", "agency": "joe"}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    clock = FixedClock(datetime(2026, 11, 20, 14, 0, tzinfo=UTC))
    w = Workspace.open(f"sqlite:///{tmp_path_factory.mktemp('roles') / 'ev.db'}", clock)
    seed_demo(w, password="correct horse battery")
    with_admin(w)
    yield w
    w.store.close()


def attempt(fn) -> bool:
    try:
        fn()
    except PermissionDenied:
        return False
    return True


def observed(ws, member: str) -> set[str]:
    """Try every action once as `member` on fresh cases of a queue in their sight (care; the
    legal queue for the approver, who sees only legal's cases and drafts routed to him)."""
    store, clock = ws.store, ws.clock
    text = LEGAL if member == "omar" else SUPPORT
    cid = open_case(ws, clock, text)
    done: dict[str, bool] = {}
    done["audit"] = attempt(lambda: annotate.audit_trail(store, cid, member))
    done["claim"] = attempt(lambda: cases.claim(store, clock, cid, member))
    done["note"] = attempt(lambda: annotate.note(store, clock, cid, member, "checking @ana"))
    done["tag"] = attempt(lambda: annotate.tag(store, clock, cid, member, add=["billing"]))
    done["crm_link"] = attempt(lambda: annotate.link_crm(store, clock, cid, member, "CRM-1"))
    sent: list = []
    done["reply"] = attempt(lambda: sent.append(
        cases.reply(store, clock, cid, member, "Sorry to hear that, we're on it.")))
    if sent and sent[0].kind == ev.APPROVAL_REQUESTED:  # agency: held, not refused
        approvals.withdraw(store, clock, cid, member, sent[0].data["draft"])
    done["assign"] = attempt(lambda: cases.assign(
        store, clock, cid, member, None if member == "omar" else "ana",
        "legal" if member == "omar" else "care"))
    done["resolve"] = attempt(lambda: cases.resolve(store, clock, cid, member))
    if not done["resolve"]:
        cases.resolve(store, clock, cid, "sam")
    done["reopen"] = attempt(lambda: cases.reopen(store, clock, cid, member))
    done["approve"] = attempt(lambda: approvals.queue(store, member))
    done["configure"] = attempt(lambda: approvals.set_policy(store, clock, member, ""))
    done["bulk"] = attempt(lambda: bulk.run(store, clock, member, [cid], "tag", tags=["x"]))
    other = open_case(ws, clock, text)
    cases.claim(store, clock, other, "sam")
    done["override_claim"] = attempt(
        lambda: cases.claim(store, clock, other, member, override=True))
    answered = open_case(ws, clock)  # care: out of the approver's sight, like his role's
    cases.claim(store, clock, answered, "tom")
    cases.reply(store, clock, answered, "tom", "Fixed now, sorry for the trouble.")
    cases.resolve(store, clock, answered, "tom")
    done["followup"] = attempt(lambda: followup.answer(store, clock, answered, member, csat=5))
    assert set(done) == EVERYTHING
    return {a for a, ok in done.items() if ok}


@pytest.mark.parametrize("role", sorted(MAY))
def test_each_role_may_do_exactly_its_actions(ws, role):
    got = observed(ws, MEMBER[role])
    assert got == MAY[role], (f"{role}: refused {sorted(MAY[role] - got)}, "
                              f"allowed {sorted(got - MAY[role])}")


def test_agency_works_only_its_own_teams_cases(ws):
    legal = open_case(ws, ws.clock, LEGAL)
    with pytest.raises(NotVisible, match="no such case in joe's teams"):
        cases.claim(ws.store, ws.clock, legal, "joe")
    with pytest.raises(PermissionDenied):
        annotate.note(ws.store, ws.clock, legal, "joe", "hi")


def test_no_role_reaches_a_case_outside_its_sight_through_the_commands(ws):
    """The commands ask the same policy as the pages: a spoke's liaison and the legal approver
    cannot act on each other's queues from the CLI or a script either."""
    care, legal = open_case(ws, ws.clock), open_case(ws, ws.clock, LEGAL)
    for member, cid in (("priya", legal), ("omar", care)):
        with pytest.raises(NotVisible):
            annotate.note(ws.store, ws.clock, cid, member, "hi")
        with pytest.raises(NotVisible):
            annotate.tag(ws.store, ws.clock, cid, member, add=["x"])
        with pytest.raises(NotVisible):
            annotate.audit_trail(ws.store, cid, member)
        with pytest.raises(NotVisible):
            cases.claim(ws.store, ws.clock, cid, member)


def test_strangers_and_the_system_actor_may_do_nothing(ws):
    cid = open_case(ws, ws.clock)
    for who in ("mallory", ev.SYSTEM, ""):
        with pytest.raises(PermissionDenied, match="not a member"):
            cases.claim(ws.store, ws.clock, cid, who)


def test_refusals_say_which_roles_may(ws):
    cid = open_case(ws, ws.clock)
    with pytest.raises(PermissionDenied) as info:
        cases.claim(ws.store, ws.clock, cid, "eva")
    assert "eva (analyst) may not claim" in str(info.value)
    assert "community_manager" in str(info.value)
