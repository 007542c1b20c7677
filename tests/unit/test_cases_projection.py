from datetime import UTC, datetime, timedelta

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
    assert (c["state"], c["assignee"], c["sla_due"]) == ("assigned", "ana", T0 + timedelta(hours=1))
    t1 = T0 + timedelta(minutes=5)
    log += [ev.make("c1", ev.CLAIMED, t1, "ana",
                    {"until": (t1 + timedelta(minutes=10)).isoformat()}),
            ev.make("c1", ev.REPLIED, t1, "ana", {"text": "sorry"}),
            ev.make("c1", ev.RESOLVED, t1, "ana", {})]
    c = cases.replay("c1", log)
    assert c["state"] == "resolved" and c["first_response_at"] == t1 and c["claimed_by"] is None
    assert c["version"] == len(log)


def test_apply_does_not_mutate_and_ids_are_deterministic():
    c0 = cases.empty("c1")
    cases.apply(c0, opened()[0])
    assert c0["state"] == "queued" and c0["version"] == 0
    assert cases.case_id_for("twitter:1") == cases.case_id_for("twitter:1")
    assert cases.case_id_for("twitter:1") != cases.case_id_for("twitter:2")
