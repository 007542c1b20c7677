"""The access policy, as a table: every role × case situation × action, with no database.

The expectations are written out here in three independent tables (what each role may, who sees
a case of which team, what each situation allows), not read from domain/permissions or
domain/access, so a change to the policy has to change this file too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escapevelocity.domain import access
from escapevelocity.domain.access import CASE_ACTIONS, allowed_actions, check, may_see
from escapevelocity.domain.org import Member, Organisation, Team
from escapevelocity.domain.permissions import PermissionDenied

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
LATER, EARLIER = NOW + timedelta(minutes=5), NOW - timedelta(minutes=1)

ORG = Organisation(
    teams=[Team("hub", "Hub", kind="hub"), Team("care", "Care", hub="hub"),
           Team("legal", "Legal", hub="hub"), Team("brand2", "Brand 2", kind="hub"),
           Team("b2care", "Brand 2 care", hub="brand2")],
    members=[Member("sam", "Sam", ["hub"], role="strategist"),
             Member("ana", "Ana", ["hub"], role="community_manager"),
             Member("priya", "Priya", ["care"], role="liaison"),
             Member("omar", "Omar", ["legal"], role="approver"),
             Member("eva", "Eva", ["hub"], role="analyst"),
             Member("joe", "Joe", ["care"], role="agency"),
             Member("ada", "Ada", ["hub"], role="admin"),
             Member("tom", "Tom", ["care"], role="liaison"),
             Member("lena", "Lena", ["legal"], role="approver")])
MEMBER = {"strategist": "sam", "community_manager": "ana", "liaison": "priya",
          "approver": "omar", "analyst": "eva", "agency": "joe", "admin": "ada"}

ALL = frozenset(CASE_ACTIONS)
WORK = {"view", "claim", "release", "reply", "resolve", "note", "tag", "correct", "withdraw",
        "alternative"}
ROLE_MAY = {
    "strategist": ALL,
    "admin": ALL,
    "community_manager": ALL - {"approve", "override_claim"},
    "liaison": WORK | {"reopen", "crm_link", "audit", "followup"},
    "approver": WORK | {"approve", "audit"},
    "analyst": {"view", "audit"},
    "agency": WORK,
}
# Who sees a case of each team (their team's queue, a hub's spokes, leads everything).
SEES_TEAM = {
    "care": {"strategist", "admin", "community_manager", "liaison", "analyst", "agency"},
    "legal": {"strategist", "admin", "community_manager", "approver", "analyst"},
    "b2care": {"strategist", "admin"},  # under another hub
}
DECIDING_ONLY = {"view", "approve", "note", "audit"}  # seen only to decide a draft
ALWAYS = {"view", "assign", "note", "tag", "correct", "crm_link", "audit", "followup"}


def case(team="care", **kw):
    base = {"id": "c000000000001", "team": team, "assignee": None, "state": "queued",
            "claimed_by": None, "claim_until": None, "approval_state": "", "approver": None}
    return base | kw


# situation -> (case for `me`, submitter of the pending draft, what the state allows `me`)
def situations(me: str) -> dict[str, tuple[dict, str | None, set[str]]]:
    pending = dict(state="queued", approval_state="pending", approval_draft="d3")
    return {
        "queued": (case(), None, ALWAYS | {"claim", "resolve"}),
        "held by me": (case(state="claimed", claimed_by=me, claim_until=LATER), None,
                       ALWAYS | {"claim", "release", "reply", "resolve"}),
        "held by another": (case(state="claimed", claimed_by="tom", claim_until=LATER), None,
                            ALWAYS | {"override_claim"}),
        "expired claim": (case(state="claimed", claimed_by="tom", claim_until=EARLIER), None,
                          ALWAYS | {"claim", "resolve"}),
        "draft with me": (case(**pending, approver=me), "tom", ALWAYS | {"claim", "approve"}),
        "my draft": (case(**pending, approver="lena"), me, ALWAYS | {"claim", "withdraw",
                                                                     "alternative"}),
        "draft with another": (case(**pending, approver="lena"), "tom", ALWAYS | {"claim"}),
        "decided by me": (case(state="replied", approval_state="approved", approver=me), None,
                          ALWAYS | {"claim", "resolve"}),
        "resolved": (case(state="resolved"), None, ALWAYS | {"reopen"}),
        "legal queue": (case(team="legal"), None, ALWAYS | {"claim", "resolve"}),
        "other hub": (case(team="b2care"), None, ALWAYS | {"claim", "resolve"}),
        "assigned to me, other team": (case(team="legal", state="assigned", assignee=me), None,
                                       ALWAYS | {"claim", "resolve"}),
    }


def expected(role: str, situation: str) -> set[str]:
    me = MEMBER[role]
    c, _, state_allows = situations(me)[situation]
    sees_team = role in SEES_TEAM[c["team"]]
    assigned = c["assignee"] == me
    deciding = c["approval_state"] == "pending" and c["approver"] == me
    if not (sees_team or assigned or deciding):
        return set()
    scope = ALL if (sees_team or assigned) else DECIDING_ONLY
    out = set(scope) & set(ROLE_MAY[role]) & state_allows
    if situation == "draft with another" and "approve" in ROLE_MAY[role]:
        out.add("approve")  # if in the draft's rotation: services/approvals checks that
    if c["approval_state"] == "pending" and role == "admin":
        out.add("withdraw")  # the submitter, or an admin, withdraws a draft
    return out


CELLS = [(role, s) for role in MEMBER for s in situations("x")]


@pytest.mark.parametrize("role,situation", CELLS, ids=[f"{r}-{s}" for r, s in CELLS])
def test_allowed_actions_for_every_role_and_situation(role, situation):
    me = ORG.member(MEMBER[role])
    c, submitter, _ = situations(me.id)[situation]
    got = allowed_actions(ORG, me, c, NOW, submitter=submitter)
    want = expected(role, situation)
    assert set(got) == want, (f"{role} / {situation}: missing {sorted(want - got)}, "
                              f"extra {sorted(got - want)}")


@pytest.mark.parametrize("role,situation", CELLS, ids=[f"{r}-{s}" for r, s in CELLS])
def test_check_agrees_with_sight_and_scope_for_every_action(role, situation):
    """`check` (what the commands call) refuses exactly what sight and role refuse: out of
    sight is NotVisible (shown as 404), the rest a PermissionDenied that says why."""
    me = ORG.member(MEMBER[role])
    c, _, _ = situations(me.id)[situation]
    seen = may_see(ORG, me, c)
    for action in CASE_ACTIONS:
        if not seen:
            with pytest.raises(access.NotVisible):
                check(ORG, me, c, action)
        elif action in access.permitted(ORG, me, c):
            check(ORG, me, c, action)
        else:
            with pytest.raises(PermissionDenied) as info:
                check(ORG, me, c, action)
            assert not isinstance(info.value, access.NotVisible)
            assert "may not" in str(info.value)
    with pytest.raises(ValueError):
        check(ORG, me, c, "fly")


def test_an_approver_sees_another_team_s_case_only_while_its_draft_awaits_him():
    """Issue 15.6: deciding a draft is the reason to see the case, and it ends with the draft."""
    omar = ORG.member("omar")
    waiting = case(approval_state="pending", approval_draft="d3", approver="omar")
    assert may_see(ORG, omar, waiting)
    check(ORG, omar, waiting, "approve")
    check(ORG, omar, waiting, "note")
    with pytest.raises(PermissionDenied, match="only to decide"):
        check(ORG, omar, waiting, "tag")
    for after in ({"approval_state": "approved"}, {"approval_state": "rejected"},
                  {"approval_state": "withdrawn"}, {"approver": "lena"}):  # or escalated
        gone = waiting | after
        assert not may_see(ORG, omar, gone)
        assert allowed_actions(ORG, omar, gone, NOW) == frozenset()
        for action in ("view", "note", "tag", "audit"):
            with pytest.raises(access.NotVisible):
                check(ORG, omar, gone, action)


def test_an_expired_claim_is_held_by_nobody():
    c = case(state="claimed", claimed_by="tom", claim_until=EARLIER)
    assert access.holder(c, NOW) is None and not access.held_by_other(c, "priya", NOW)
    assert access.holder(c | {"claim_until": LATER}, NOW) == "tom"
    assert access.holder(c | {"claim_until": NOW}, NOW) == "tom"  # the lease's last instant


def test_the_assignee_only_rule_of_the_engagement_policy():
    priya = ORG.member("priya")
    c = case(state="claimed", claimed_by="priya", claim_until=LATER, assignee="tom")
    assert "reply" in allowed_actions(ORG, priya, c, NOW)
    assert "reply" not in allowed_actions(ORG, priya, c, NOW, assignee_only={"care"})


def test_a_member_unknown_to_the_organisation_sees_nothing():
    ghost = Member("ghost", "Ghost", ["hub"], role="admin")
    assert access.visible_teams(ORG, ghost) == frozenset()
    assert not may_see(ORG, ghost, case(assignee="ghost"))


def test_a_typed_case_record_works_as_well_as_the_projection_dict():
    class Typed:  # the shape the typed Case of issue 14.4 will have
        team, assignee, state, claimed_by, claim_until = "care", None, "queued", None, None
        approval_state, approver = "", None

    assert allowed_actions(ORG, ORG.member("priya"), Typed(), NOW) == allowed_actions(
        ORG, ORG.member("priya"), case(), NOW)
