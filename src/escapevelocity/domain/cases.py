"""The case projection: fold a case's events into its current state.

Pure and shared: the store applies it incrementally as events are appended, and the rebuild
command replays the whole log through it, so the two can never disagree.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from escapevelocity.domain import events as ev
from escapevelocity.domain.events import Event

STATES = ("queued", "assigned", "claimed", "replied", "resolved")
OPEN_STATES = ("queued", "assigned", "claimed", "replied")
TITLE_CHARS = 140
_HOLDING = frozenset({ev.ASSIGNED, ev.CLAIMED, ev.RELEASED})


def case_id_for(mention_key: str) -> str:
    """Deterministic: re-ingesting the same first mention can never open a second case."""
    return "c" + hashlib.blake2b(mention_key.encode(), digest_size=6).hexdigest()


def empty(case_id: str) -> dict[str, Any]:
    return {
        "id": case_id, "state": "queued", "team": None, "assignee": None, "track": None,
        "priority": "p4", "respond": True, "visibility": "public", "approval": "",
        "sla_minutes": None, "sla_due": None,
        "opened_at": None, "updated_at": None, "last_mention_at": None,
        "first_response_at": None, "resolved_at": None, "author_handle": "", "channel": "",
        "title": "", "claimed_by": None, "claim_until": None, "mention_count": 0,
        "rule_id": None, "playbook_version": None, "situation": None, "sentiment": None,
        "author_class": None, "version": 0,
        # engagement (issue 6); tags and flags are comma-joined, sorted
        "tags": "", "flags": "", "approval_state": "", "approval_draft": None, "approver": None,
        "approval_due": None, "followup_state": "", "followup_due": None, "csat": None,
        "crm_id": None,
        # when the SLA tick must look at the case again (its next warning, breach or ladder
        # step; the time of any other event, which may move the clocks); None: never
        "next_deadline": None,
    }


def apply(case: dict[str, Any], event: Event) -> dict[str, Any]:
    """Return the case after `event`. Never mutates its input."""
    c = dict(case)
    d = event.data
    c["updated_at"] = event.at
    c["version"] = c["version"] + 1
    kind = event.kind
    # An event that may move the SLA clocks makes the tick look again at its time; the tick's
    # own sla_clock event carries the next deadline it computed. Who holds or is assigned the
    # case moves no deadline (the tick itself writes those on presence changes).
    if kind not in _HOLDING:
        c["next_deadline"] = event.at
    if kind == ev.OPENED:
        c.update(opened_at=event.at, author_handle=d["author"], channel=d["channel"],
                 title=d["title"][:TITLE_CHARS], last_mention_at=_dt(d.get("mention_at", event.at)),
                 mention_count=1)
    elif kind == ev.MENTION_ADDED:
        c["mention_count"] += 1
        c["last_mention_at"] = _dt(d.get("mention_at", event.at))
    elif kind == ev.DECIDED:
        dec, sig = d["decision"], d["signals"]
        c.update(track=dec["track"], team=dec["team"], priority=dec["priority"],
                 respond=dec["respond"], visibility=dec.get("visibility", "public"),
                 approval=dec.get("approval", ""), sla_minutes=dec["sla_minutes"],
                 rule_id=dec["rule_id"],
                 playbook_version=dec["playbook_version"], situation=sig["situation"],
                 sentiment=sig["sentiment_label"], author_class=sig.get("author_class", "customer"))
        start = c["opened_at"] or event.at
        c["sla_due"] = start + timedelta(minutes=dec["sla_minutes"])
        c["tags"] = _joined(c["tags"], dec.get("tags", ()), ())
        c["flags"] = _joined(c["flags"], dec.get("flags", ()), ())
    elif kind == ev.SIGNALS_REVISED:
        if d.get("first"):
            sig = d["signals"]
            c.update(situation=sig["situation"], sentiment=sig["sentiment_label"])
    elif kind == ev.ASSIGNED:
        c["team"] = d["team"]
        c["assignee"] = d.get("member")
        if c["state"] in ("queued", "assigned"):
            c["state"] = "assigned" if d.get("member") else "queued"
    elif kind == ev.CLAIMED:
        c.update(claimed_by=event.actor, claim_until=_dt(d["until"]), state="claimed")
        if c["assignee"] is None:
            c["assignee"] = event.actor
    elif kind == ev.RELEASED:
        c.update(claimed_by=None, claim_until=None)
        if c["state"] == "claimed":
            c["state"] = "assigned" if c["assignee"] else "queued"
    elif kind == ev.REPLIED:
        c.update(state="replied", claimed_by=None, claim_until=None)
        if c["first_response_at"] is None:
            c["first_response_at"] = event.at
    elif kind == ev.RESOLVED:
        c.update(state="resolved", resolved_at=event.at, claimed_by=None, claim_until=None,
                 next_deadline=None)  # the tick watches open cases only
    elif kind == ev.SLA_CLOCK:  # due on the track's business calendar; None while paused
        c["sla_due"] = _dt(d["due"]) if d.get("due") else None
        if "next" in d:
            c["next_deadline"] = _dt(d["next"]) if d["next"] else None
    elif kind == ev.REOPENED:
        c.update(state="assigned" if c["assignee"] else "queued", resolved_at=None)
        if c["followup_state"] == "scheduled":  # the customer came back: no survey on top
            c.update(followup_state="cancelled", followup_due=None)
    else:
        _apply_engagement(c, event)
    return c


def _apply_engagement(c: dict[str, Any], event: Event) -> None:
    d, kind = event.data, event.kind
    if kind == ev.APPROVAL_REQUESTED:
        c.update(approval_state="pending", approval_draft=d["draft"], approver=d["approver"],
                 approval_due=_dt(d["due"]), claimed_by=None, claim_until=None)
        if c["state"] == "claimed":
            c["state"] = "assigned" if c["assignee"] else "queued"
    elif kind == ev.APPROVAL_ESCALATED:
        c.update(approver=d["to"], approval_due=_dt(d["due"]))
    elif kind in (ev.APPROVED, ev.REJECTED, ev.APPROVAL_WITHDRAWN):
        state = {ev.APPROVED: "approved", ev.REJECTED: "rejected"}.get(kind, "withdrawn")
        c.update(approval_state=state, approval_due=None)
    elif kind == ev.TAGS_CHANGED:
        c["tags"] = _joined(c["tags"], d.get("add", ()), d.get("remove", ()))
    elif kind == ev.FLAGS_CHANGED:
        c["flags"] = _joined(c["flags"], d.get("add", ()), d.get("remove", ()))
    elif kind == ev.CRM_LINKED:
        c["crm_id"] = d["crm_id"] or None
    elif kind == ev.FOLLOWUP_SCHEDULED:
        c.update(followup_state="scheduled", followup_due=_dt(d["due"]))
    elif kind == ev.FOLLOWUP_SENT:
        c.update(followup_state="asked", followup_due=None)
    elif kind == ev.FOLLOWUP_ANSWERED:
        c["followup_state"] = "answered"
        if d.get("csat") is not None:
            c["csat"] = int(d["csat"])
    elif kind == ev.FOLLOWUP_INVITED:
        c["followup_state"] = "invited"
    elif kind == ev.FOLLOWUP_CANCELLED:
        c.update(followup_state="cancelled", followup_due=None)
    elif kind == ev.SEND_FAILED and d.get("what") == "followup":
        c.update(followup_state="failed", followup_due=None)


def split(value: str | None) -> list[str]:
    """The tags or flags of a case as a list."""
    return [x for x in (value or "").split(",") if x]


def _joined(current: str, add: Any, remove: Any) -> str:
    return ",".join(sorted((set(split(current)) | set(add)) - set(remove)))


def replay(case_id: str, events: list[Event]) -> dict[str, Any]:
    case = empty(case_id)
    for e in events:
        case = apply(case, e)
    return case


def _dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
