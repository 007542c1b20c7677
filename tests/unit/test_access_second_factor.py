"""The access policy's second-factor rule, with no database: a role that requires a second
factor may not reply publicly or approve without one; private replies and every other action
stay as the role allows; enrolment, or the role not being listed, lifts it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escapevelocity.domain.access import (
    SecondFactor,
    SecondFactorRequired,
    allowed_actions,
    check,
)
from escapevelocity.domain.org import Member, Organisation, Team

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
ORG = Organisation(teams=[Team("care", "Care")],
                   members=[Member("priya", "Priya", ["care"], role="liaison"),
                            Member("lena", "Lena", ["care"], role="approver"),
                            Member("tom", "Tom", ["care"], role="liaison")])
PRIYA, LENA = ORG.member("priya"), ORG.member("lena")


def _case(visibility="public", **kw):
    return {"team": "care", "state": "assigned", "claimed_by": "priya",
            "claim_until": NOW + timedelta(minutes=5), "visibility": visibility,
            "approval_state": "", "approver": None, "assignee": None, **kw}


NEEDED = SecondFactor(frozenset({"liaison", "approver"}))


def test_without_a_factor_no_public_reply_but_the_rest_stays():
    plain = allowed_actions(ORG, PRIYA, _case(), NOW)
    guarded = allowed_actions(ORG, PRIYA, _case(), NOW, factor=NEEDED)
    assert "reply" in plain and plain - guarded == {"reply"}
    with pytest.raises(SecondFactorRequired, match="second factor"):
        check(ORG, PRIYA, _case(), "reply", NEEDED)
    check(ORG, PRIYA, _case(), "note", NEEDED)  # a note is not words to the customer
    # a private reply (a DM) is allowed
    assert "reply" in allowed_actions(ORG, PRIYA, _case("private"), NOW, factor=NEEDED)
    check(ORG, PRIYA, _case("private"), "reply", NEEDED)


def test_approving_needs_it_too_and_enrolment_lifts_both():
    pending = _case(approval_state="pending", approver="lena", claimed_by=None)
    assert "approve" in allowed_actions(ORG, LENA, pending, NOW, submitter="tom")
    assert "approve" not in allowed_actions(ORG, LENA, pending, NOW, submitter="tom",
                                            factor=NEEDED)
    with pytest.raises(SecondFactorRequired):
        check(ORG, LENA, pending, "approve", NEEDED)
    enrolled = SecondFactor(NEEDED.roles, frozenset({"lena", "priya"}))
    check(ORG, LENA, pending, "approve", enrolled)
    check(ORG, PRIYA, _case(), "reply", enrolled)
    other_roles = SecondFactor(frozenset({"admin"}))
    check(ORG, PRIYA, _case(), "reply", other_roles)
