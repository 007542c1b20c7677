"""Events: every change to a case is one of these, appended to the log with its time and actor.

The log is the record. The inbox, dashboards and reports are projections of it (cases.py);
`ev workspace rebuild` recomputes the projection from the log alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

# Case lifecycle. Adding a kind means adding its projection in cases.apply.
OPENED = "opened"  # a new conversation; data: mention, author, channel, title
MENTION_ADDED = "mention_added"  # a reply or follow-up joined the case
DECIDED = "decided"  # the playbook's decision and the signals it used
ASSIGNED = "assigned"  # routing's answer (member may be None: queued)
CLAIMED = "claimed"  # a member took the lease to answer
RELEASED = "released"  # the lease was given up or expired
REPLIED = "replied"  # a reply was sent (dry-run in the skeleton)
RESOLVED = "resolved"
REOPENED = "reopened"
NOTE_ADDED = "note_added"

KINDS = (OPENED, MENTION_ADDED, DECIDED, ASSIGNED, CLAIMED, RELEASED, REPLIED, RESOLVED,
         REOPENED, NOTE_ADDED)

# Incidents (crisis mode). Their stream id is "incident:<id>", never a case id: the case
# projection ignores them (SqlStore.all_case_ids) and services/crisis.py folds them instead.
INCIDENT_OPENED = "incident_opened"  # data: level, reason, by (a person or "system")
INCIDENT_DETECTED = "incident_detected"  # a detector alert; data: the Alert and its reason
INCIDENT_LEVEL = "incident_level"  # data: level, previous, reason, by
INCIDENT_PAGED = "incident_paged"  # data: role, member, channel, ok, detail
INCIDENT_NOTE = "incident_note"  # decisions, approved holding statements; data: text, kind
INCIDENT_STOOD_DOWN = "incident_stood_down"  # ended by a person; data: by, note

INCIDENT_KINDS = (INCIDENT_OPENED, INCIDENT_DETECTED, INCIDENT_LEVEL, INCIDENT_PAGED,
                  INCIDENT_NOTE, INCIDENT_STOOD_DOWN)
INCIDENT_PREFIX = "incident:"

SYSTEM = "system"


class Event(msgspec.Struct, frozen=True):
    case_id: str
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any] = {}
    seq: int | None = None  # assigned by the store
