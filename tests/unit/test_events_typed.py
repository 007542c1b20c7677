"""Typed events: every kind is a struct of the `Event` union, round-trips as a bus message and
as a stored row, and a payload missing what the projection needs fails where it is made."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from escapevelocity.domain import events as ev

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
REQUIRED = {  # the least each kind needs
    ev.OPENED: {"author": "kim", "channel": "twitter", "title": "help"},
    ev.DECIDED: {"decision": {"track": "support"}, "signals": {}},
    ev.ASSIGNED: {"team": "care"},
    ev.CLAIMED: {"until": "2026-11-20T14:10:00+00:00"},
    ev.APPROVAL_REQUESTED: {"draft": "d1", "approver": "lee", "due": "2026-11-20T15:00:00Z"},
    ev.APPROVAL_ESCALATED: {"to": "max", "due": "2026-11-20T15:00:00Z"},
    ev.CRM_LINKED: {"crm_id": "42"},
    ev.FOLLOWUP_SCHEDULED: {"due": "2026-11-21T14:00:00Z"},
    ev.CHECKLIST_SAVED: {"version": 1},
    ev.SPOKE_REQUESTED: {"team": "hr"},
    ev.READINESS_ITEM_DONE: {"team": "hr", "item": "tools"},
    ev.SPOKE_APPROVED: {"team": "hr"},
    ev.SHADOW_DRAFTED: {"team": "hr", "case": "c1"},
    ev.CHANNEL_REQUESTED: {"connection": "care-masto", "channel": "mastodon", "team": "care"},
    ev.CHANNEL_CONNECTED: {"connection": "care-masto"},
    ev.CHANNEL_APPROVED: {"connection": "care-masto"},
    ev.CHANNEL_REJECTED: {"connection": "care-masto", "reason": "no staff"},
    ev.CHANNEL_WITHDRAWN: {"connection": "care-masto"},
    ev.POLICY_PUBLISHED: {"policy": "social", "version": 1},
    ev.POLICY_ACKNOWLEDGED: {"policy": "social", "version": 1},
    ev.TRAINING_RULE_SET: {"min_drill_score": 70},
    ev.DRILL_SCORED: {"member": "ana"},
    ev.DRILL_SCORECARD: {"run": "service-outage-20261120-140000"},
    ev.VIEW_SAVED: {"name": "refunds", "owner_kind": "member", "owner": "ana",
                    "query": "q=refund"},
    ev.IDENTITIES_LINKED: {"identities": ["twitter:kim", "mastodon:kim"]},
    ev.IDENTITY_UNLINKED: {"identity": "mastodon:kim"},
}


@pytest.mark.parametrize("kind", ev.KINDS)
def test_every_kind_round_trips_on_the_bus_and_in_the_store(kind):
    e = ev.make("incident:1" if kind.startswith("incident") else "c1", kind, T0, "ana",
                REQUIRED.get(kind, {}), seq=7)
    assert e.kind == kind and type(e) is ev.TYPES[kind]
    assert msgspec.json.decode(msgspec.json.encode(e), type=ev.Event) == e
    row = ev.from_row(e.stream, e.kind, e.at, e.actor, ev.payload_json(e), e.seq)
    assert row == e


def test_a_missing_field_fails_where_the_event_is_made():
    with pytest.raises(msgspec.ValidationError, match="until"):
        ev.make("c1", ev.CLAIMED, T0, "ana", {})


def test_renamed_fields_keep_their_stored_names():
    e = ev.Claimed(stream="c1", at=T0, actor="max", until=T0, override=True, from_="ana")
    assert '"from":"ana"' in ev.payload_json(e) and e.data["from"] == "ana"


def test_streams_are_named_for_what_they_hold():
    assert ev.stream_kind("c0123456789ab") == ev.CASE
    assert ev.stream_kind(ev.incident_stream("x")) == ev.INCIDENT
    assert ev.stream_kind(ev.playbook_stream(3)) == ev.PLAYBOOK
    # every stream the rebuild skips as no case is named as no case here too
    assert all(ev.stream_kind(p + "x") not in (ev.CASE, "") for p in ev.NON_CASE_PREFIXES)
