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

# SLAs and escalation (issue 5). `clock` is first_response / next_response / resolution and
# `since` the instant that clock started, so each (clock, since) warns and breaches once.
SLA_CLOCK = "sla_clock"  # the running clock's due time on its business calendar; data: clock,
# due, and next: when the tick must look again (the next warning, breach or ladder step)
SLA_WARNING = "sla_warning"  # data: clock, since, budget, used, due
SLA_BREACHED = "sla_breached"  # data: clock, since, budget, used, due
ESCALATED = "escalated"  # one rung of the ladder; data: clock, since, step, action, to

KINDS += (SLA_CLOCK, SLA_WARNING, SLA_BREACHED, ESCALATED)

# Engagement (issue 6): approvals, tags and flags, CRM link, follow-up and satisfaction.
APPROVAL_REQUESTED = "approval_requested"  # reply held as a draft; data: draft, text, approver, due
APPROVAL_ALTERNATIVE = "approval_alternative"  # the submitter offers another wording
APPROVAL_EDITED = "approval_edited"  # the approver changed the draft's text
APPROVED = "approved"  # the approver approved; the reply is sent in the same transaction
REJECTED = "rejected"  # the approver rejected it, with a note
APPROVAL_ESCALATED = "approval_escalated"  # the approval SLA ran out: next approver on call
APPROVAL_WITHDRAWN = "approval_withdrawn"  # the submitter took the draft back
TAGS_CHANGED = "tags_changed"  # data: add, remove (tags)
FLAGS_CHANGED = "flags_changed"  # data: add, remove (flags)
CRM_LINKED = "crm_linked"  # data: crm_id, name, source
FOLLOWUP_SCHEDULED = "followup_scheduled"  # data: due, ask (csat / thumbs)
FOLLOWUP_SENT = "followup_sent"  # the satisfaction question went out (dry-run)
FOLLOWUP_ANSWERED = "followup_answered"  # data: csat 1-5 or thumbs up/down, happy
FOLLOWUP_INVITED = "followup_invited"  # a happy customer was invited to update the public post
FOLLOWUP_CANCELLED = "followup_cancelled"
# A message to the customer could not be sent (after its retries); data: what (followup,
# reply), via, error, attempts. Shown on the case; the follow-up state becomes "failed".
SEND_FAILED = "send_failed"

KINDS += (APPROVAL_REQUESTED, APPROVAL_ALTERNATIVE, APPROVAL_EDITED, APPROVED, REJECTED,
          APPROVAL_ESCALATED, APPROVAL_WITHDRAWN, TAGS_CHANGED, FLAGS_CHANGED, CRM_LINKED,
          FOLLOWUP_SCHEDULED, FOLLOWUP_SENT, FOLLOWUP_ANSWERED, FOLLOWUP_INVITED,
          FOLLOWUP_CANCELLED, SEND_FAILED)

# Learning: a member corrects one signal of a case's mention; per-signal models learn from
# these (services/learning.py). The case projection only counts it as an update.
CORRECTED = "corrected"  # data: signal, label, was, text, mention
# A learned model with sentence vectors answered at ingest from its words alone (the vectors
# are a transformer pass, too slow for the hot path); the refine job reads the vectors in
# batches and records the full answer. The case projection takes the revised situation and
# sentiment when it is the case's first mention; the decision stands.
SIGNALS_REVISED = "signals_revised"  # data: mention, first, changed (signals), signals
KINDS += (CORRECTED, SIGNALS_REVISED)

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

# Playbook versions (services/playbooks.py). Their stream id is "playbook:<version>", never a
# case id: the case projection ignores them (SqlStore.all_case_ids).
PLAYBOOK_SAVED = "playbook_saved"  # a new version; data: name, note
PLAYBOOK_REQUESTED = "playbook_requested"  # activation asked; data: approver, replaces, note
PLAYBOOK_APPROVED = "playbook_approved"  # data: note, approver (the team or role it stood for)
PLAYBOOK_REJECTED = "playbook_rejected"  # data: note (required)
PLAYBOOK_ACTIVATED = "playbook_activated"  # data: previous, approved_by

PLAYBOOK_KINDS = (PLAYBOOK_SAVED, PLAYBOOK_REQUESTED, PLAYBOOK_APPROVED, PLAYBOOK_REJECTED,
                  PLAYBOOK_ACTIVATED)
PLAYBOOK_PREFIX = "playbook:"

SYSTEM = "system"


class Event(msgspec.Struct, frozen=True):
    case_id: str
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any] = {}
    seq: int | None = None  # assigned by the store
