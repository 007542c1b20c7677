"""The pure engagement rules: the role matrix, approval needs, rotations, mentions, tags,
satisfaction answers and the engagement projection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from escapevelocity.domain import cases, engagement, permissions
from escapevelocity.domain import events as ev
from escapevelocity.domain.org import ROLES, Member, Organisation, Shift, Team

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
ORG = Organisation(teams=[Team("legal", "Legal"), Team("care", "Care")], members=[
    Member("omar", "Omar", ["legal"], role="approver",
           shift=Shift(days=["mon", "tue", "wed", "thu"])),  # off on Fridays
    Member("lena", "Lena", ["legal"], role="approver"),
    Member("sam", "Sam", ["care"], role="strategist"),
    Member("ana", "Ana", ["care"]),
    Member("joe", "Joe", ["care"], role="agency"),
])


def test_every_role_has_a_row_and_refusals_explain():
    assert set(permissions.MATRIX) == set(ROLES)
    assert permissions.allowed(["analyst", "liaison"], "reply")  # any role suffices
    with pytest.raises(permissions.PermissionDenied, match=r"roles that may: .*approver"):
        permissions.check(["liaison"], "approve", member="priya")
    with pytest.raises(ValueError):
        permissions.allowed(["admin"], "fly")
    # the per-case scope is domain/access.py's (tests/unit/test_access_policy.py)


def test_approval_need_names_every_reason():
    policy = engagement.Policy(in_training=["ana"])
    ana, joe, sam = ORG.member("ana"), ORG.member("joe"), ORG.member("sam")
    assert engagement.approval_need(cases.Case(id="c1"), sam, "Sorry!", policy) is None
    need = engagement.approval_need(cases.Case(id="c1", approval="legal"), ana,
                                    "We admit liability.", policy)
    assert need.group == "legal" and len(need.reasons) == 3
    need = engagement.approval_need(cases.Case(id="c1"), joe, "Sorry!", policy)
    assert need.group == "approvers" and need.reasons == ("replies by the agency role need "
                                                          "approval",)
    # whole words only: "guaranteed" matches, "guarantees" in "unguaranteeable" does not
    assert engagement.risk_matches("it's GUARANTEED", ["guaranteed"]) == ["guaranteed"]
    assert engagement.risk_matches("unguaranteedish", ["guaranteed"]) == []


def test_rotation_on_call_and_next_approver():
    order = engagement.rotation("legal", ORG, engagement.Policy())
    assert order == ["omar", "lena", "sam"]
    friday = T0  # 20 Nov 2026 is a Friday: omar is off shift
    assert engagement.on_call(order, ORG, friday) == "lena"
    assert engagement.on_call(order, ORG, friday - timedelta(days=1)) == "omar"
    assert engagement.on_call(order, ORG, friday, exclude=["lena"]) == "sam"
    assert engagement.next_approver(order, "lena") == "sam"
    assert engagement.next_approver(order, "sam") == "omar"
    assert engagement.next_approver(["omar"], "omar") == "omar"
    assert engagement.next_approver(order, "sam", exclude=["omar"]) == "lena"
    assert engagement.next_approver(["ana"], None, exclude=["ana"]) is None
    custom = engagement.Policy(rotations={"legal": ["lena"]})
    assert engagement.rotation("legal", ORG, custom) == ["lena"]
    assert engagement.check_policy(engagement.Policy(rotations={"x": ["ana"]}), ORG) == [
        "rotation 'x': ana (community_manager) may not approve"]


def test_mentions_tags_and_answers():
    known = ["ana", "omar", "sam"]
    assert engagement.mentions("@Ana and @omar. also @ana, email a@sam.com, @ghost", known) == [
        "ana", "omar"]
    assert engagement.clean_tags([" Billing ", "vip", "billing", "big outage"]) == [
        "billing", "vip", "big-outage"]
    with pytest.raises(ValueError):
        engagement.clean_tags(["a" * 41])
    assert engagement.parse_answer("5") == (5, None)
    assert engagement.parse_answer("4/5 thanks") == (4, None)
    assert engagement.parse_answer("👍") == (None, "up")
    assert engagement.parse_answer("no") == (None, "down")
    assert engagement.parse_answer("my router still blinks") == (None, None)
    policy = engagement.Policy()
    assert engagement.happy(4, None, policy) and not engagement.happy(3, None, policy)
    assert engagement.happy(None, "up", policy) and not engagement.happy(None, "down", policy)
    assert engagement.fill("Hi {author_name} {unknown}",
                           cases.Case(id="c1", author_handle="kim")) == (
        "Hi kim {unknown}")


def test_policy_document_errors_are_clear():
    assert engagement.load_policy("") == engagement.Policy()
    with pytest.raises(ValueError, match="ask must be one of"):
        engagement.load_policy("followups: {support: {ask: stars}}")
    with pytest.raises(ValueError, match="engagement policy"):
        engagement.load_policy("rotations: 3")


def test_engagement_projection_folds_approval_tags_and_followup():
    log = [ev.make("c1", ev.APPROVAL_REQUESTED, T0, "ana", {
        "draft": "d4", "text": "x", "approver": "omar",
        "due": (T0 + timedelta(minutes=15)).isoformat(), "group": "legal", "reasons": []}),
        ev.make("c1", ev.APPROVAL_ESCALATED, T0, ev.SYSTEM, {
            "draft": "d4", "from": "omar", "to": "lena",
            "due": (T0 + timedelta(minutes=30)).isoformat()}),
        ev.make("c1", ev.TAGS_CHANGED, T0, "ana", {"add": ["b", "a"], "remove": []}),
        ev.make("c1", ev.TAGS_CHANGED, T0, "ana", {"add": [], "remove": ["b"]}),
        ev.make("c1", ev.APPROVED, T0, "lena", {"draft": "d4", "text": "x"}),
        ev.make("c1", ev.FOLLOWUP_SCHEDULED, T0, ev.SYSTEM, {"due": T0.isoformat(),
                                                           "ask": "csat"}),
        ev.make("c1", ev.FOLLOWUP_ANSWERED, T0, ev.SYSTEM, {"csat": 4})]
    c = cases.replay("c1", log)
    assert (c.approval_state, c.approver, c.approval_due) == ("approved", "lena", None)
    assert c.tags == "a" and cases.split(c.tags) == ["a"]
    assert (c.followup_state, c.csat) == ("answered", 4)


def test_the_documented_policy_example_loads():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "engagement.md").read_text()
    example = doc.split("```yaml\n")[1].split("```")[0]
    policy = engagement.load_policy(example)
    assert policy.rotations == {"legal": ["omar", "sam"]}
    assert policy.followups["sales_lead"].ask == "thumbs"
    assert engagement.check_policy(policy, ORG) == []
