from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from escapevelocity.domain import cases
from escapevelocity.domain import events as ev

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def opened(cid="c1"):
    return [
        ev.make(cid, ev.OPENED, T0, ev.SYSTEM, {"mention": "twitter:1", "author": "kim",
                                               "channel": "twitter", "title": "help"}),
        ev.make(cid, ev.DECIDED, T0, ev.SYSTEM, {
            "decision": {"track": "support", "team": "care", "priority": "p3", "respond": True,
                         "sla_minutes": 60, "rule_id": "complaint", "playbook_version": "v1"},
            "signals": {"situation": "complaint", "sentiment_label": "negative"}}),
        ev.make(cid, ev.ASSIGNED, T0, ev.SYSTEM, {"team": "care", "member": "ana"}),
    ]


def test_lifecycle_folds_to_expected_state():
    log = opened()
    c = cases.replay("c1", log)
    assert (c.state, c.assignee, c.sla_due) == ("assigned", "ana", T0 + timedelta(hours=1))
    t1 = T0 + timedelta(minutes=5)
    log += [ev.make("c1", ev.CLAIMED, t1, "ana",
                    {"until": (t1 + timedelta(minutes=10)).isoformat()}),
            ev.make("c1", ev.REPLIED, t1, "ana", {"text": "sorry"}),
            ev.make("c1", ev.RESOLVED, t1, "ana", {})]
    c = cases.replay("c1", log)
    assert c.state == "resolved" and c.first_response_at == t1 and c.claimed_by is None
    assert c.version == len(log)


def test_apply_does_not_mutate_and_ids_are_deterministic():
    c0 = cases.empty("c1")
    c1 = cases.apply(c0, opened()[0])
    assert c0 == cases.Case(id="c1") and c0.state == "queued" and c0.version == 0
    assert c1.version == 1 and c1.title == "help" and c1 is not c0
    assert cases.case_id_for("twitter:1") == cases.case_id_for("twitter:1")
    assert cases.case_id_for("twitter:1") != cases.case_id_for("twitter:2")


def test_a_case_is_frozen_and_typed():
    """No second way of reading or writing a case: attributes only, and no assignment."""
    c = cases.replay("c1", opened())
    with pytest.raises(AttributeError):
        c.state = "resolved"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c["state"]  # type: ignore[index]
    assert not hasattr(c, "get")


def test_empty_has_the_defaults_the_dict_had():
    """The defaults of the 44-key dict `empty` returned before Case existed."""
    want = {
        "id": "c1", "state": "queued", "team": None, "assignee": None, "track": None,
        "priority": "p4", "respond": True, "visibility": "public", "approval": "",
        "sla_minutes": None, "sla_due": None, "opened_at": None, "updated_at": None,
        "last_mention_at": None, "first_response_at": None, "resolved_at": None,
        "author_handle": "", "channel": "", "title": "", "claimed_by": None,
        "claim_until": None, "mention_count": 0, "rule_id": None, "playbook_version": None,
        "situation": None, "sentiment": None, "author_class": None, "version": 0, "tags": "",
        "flags": "", "approval_state": "", "approval_draft": None, "approver": None,
        "approval_due": None, "followup_state": "", "followup_due": None, "csat": None,
        "crm_id": None, "next_deadline": None, "topics": "", "sla_calendar": "",
        "first_response_minutes": None, "resolution_minutes": None,
    }
    assert msgspec.structs.asdict(cases.empty("c1")) == want
    assert tuple(want) == cases.FIELDS  # the order of the cases table's columns


def _engagement_log():
    t = [T0 + timedelta(minutes=i) for i in range(20)]
    return [*opened(), *[
        ev.make("c1", ev.CLAIMED, t[1], "ana",
                {"until": (t[1] + timedelta(minutes=10)).isoformat()}),
        ev.make("c1", ev.APPROVAL_REQUESTED, t[2], "ana",
                {"draft": "d1", "approver": "lee", "due": t[5].isoformat()}),
        ev.make("c1", ev.TAGS_CHANGED, t[3], "ana", {"add": ["vip", "billing"], "remove": []}),
        ev.make("c1", ev.FLAGS_CHANGED, t[3], "ana", {"add": ["legal"], "remove": []}),
        ev.make("c1", ev.APPROVED, t[4], "lee", {"draft": "d1"}),
        ev.make("c1", ev.REPLIED, t[5], "ana", {"text": "sorry"}),
        ev.make("c1", ev.RESOLVED, t[6], "ana", {}),
        ev.make("c1", ev.FOLLOWUP_SCHEDULED, t[6], ev.SYSTEM, {"due": t[9].isoformat()}),
        ev.make("c1", ev.MENTION_ADDED, t[7], ev.SYSTEM, {"mention": "twitter:2"}),
        ev.make("c1", ev.REOPENED, t[7], ev.SYSTEM, {}),
        ev.make("c1", ev.TAGS_CHANGED, t[8], "ana", {"add": [], "remove": ["vip"]}),
    ]]


def test_engagement_events_fold():
    c = cases.replay("c1", _engagement_log())
    assert (c.state, c.assignee, c.claimed_by, c.claim_until) == ("assigned", "ana", None, None)
    assert (c.approval_state, c.approver, c.approval_draft) == ("approved", "lee", "d1")
    assert c.approval_due is None
    assert (c.tags, c.flags) == ("billing", "legal")
    assert (c.followup_state, c.followup_due) == ("cancelled", None)  # the customer came back
    assert c.mention_count == 2 and c.resolved_at is None
    assert c.first_response_at == T0 + timedelta(minutes=5)
    assert c.topics == "" and c.situation == "complaint"


def test_incremental_application_equals_replay():
    """What the store does (one event at a time, each on the last result) and what the rebuild
    does (replay from empty) agree, and every step leaves the steps before it untouched."""
    log = _engagement_log()
    steps = [cases.empty("c1")]
    for e in log:
        steps.append(cases.apply(steps[-1], e))
    assert steps[-1] == cases.replay("c1", log)
    assert [s.version for s in steps] == list(range(len(log) + 1))
    again = [cases.replay("c1", log[:i]) for i in range(len(log) + 1)]
    assert steps == again
