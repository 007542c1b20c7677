"""The case projection: fold a case's events into its current state.

Pure and shared: the store applies it incrementally as events are appended, and the rebuild
command replays the whole log through it, so the two can never disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import msgspec

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
        # reports (migration 0023): the first decision's topics, comma-joined and sorted; the
        # SLA calendar and the business minutes to the first answer and to resolution, which
        # the store fixes when it writes them (domain/kpis.py business_times)
        "topics": "", "sla_calendar": "", "first_response_minutes": None,
        "resolution_minutes": None,
    }


def apply(case: dict[str, Any], event: Event) -> dict[str, Any]:
    """Return the case after `event`. Never mutates its input."""
    c = dict(case)
    c["updated_at"] = event.at
    c["version"] = c["version"] + 1
    # An event that may move the SLA clocks makes the tick look again at its time; the tick's
    # own sla_clock event carries the next deadline it computed. Who holds or is assigned the
    # case moves no deadline (the tick itself writes those on presence changes).
    if event.kind not in _HOLDING:
        c["next_deadline"] = event.at
    match event:
        case ev.Opened():
            c.update(opened_at=event.at, author_handle=event.author, channel=event.channel,
                     title=event.title[:TITLE_CHARS], last_mention_at=event.mention_at or event.at,
                     mention_count=1)
        case ev.MentionAdded():
            c["mention_count"] += 1
            c["last_mention_at"] = event.mention_at or event.at
        case ev.Decided():
            dec, sig = event.decision, event.signals
            c.update(track=dec["track"], team=dec["team"], priority=dec["priority"],
                     respond=dec["respond"], visibility=dec.get("visibility", "public"),
                     approval=dec.get("approval", ""), sla_minutes=dec["sla_minutes"],
                     rule_id=dec["rule_id"], playbook_version=dec["playbook_version"],
                     situation=sig["situation"], sentiment=sig["sentiment_label"],
                     author_class=sig.get("author_class", "customer"))
            start = c["opened_at"] or event.at
            c["sla_due"] = start + timedelta(minutes=dec["sla_minutes"])
            c["topics"] = topics_of(sig)
            c["tags"] = _joined(c["tags"], dec.get("tags", ()), ())
            c["flags"] = _joined(c["flags"], dec.get("flags", ()), ())
        case ev.SignalsRevised():
            if event.first:
                c.update(situation=event.signals["situation"],
                         sentiment=event.signals["sentiment_label"],
                         topics=topics_of(event.signals))
        case ev.Assigned():
            c["team"] = event.team
            c["assignee"] = event.member
            if c["state"] in ("queued", "assigned"):
                c["state"] = "assigned" if event.member else "queued"
        case ev.Claimed():
            c.update(claimed_by=event.actor, claim_until=event.until, state="claimed")
            if c["assignee"] is None:
                c["assignee"] = event.actor
        case ev.Released():
            c.update(claimed_by=None, claim_until=None)
            if c["state"] == "claimed":
                c["state"] = "assigned" if c["assignee"] else "queued"
        case ev.Replied():
            c.update(state="replied", claimed_by=None, claim_until=None)
            if c["first_response_at"] is None:
                c["first_response_at"] = event.at
        case ev.Resolved():
            c.update(state="resolved", resolved_at=event.at, claimed_by=None, claim_until=None,
                     next_deadline=None)  # the tick watches open cases only
        case ev.SlaClock():  # due on the track's business calendar; None while paused
            c["sla_due"] = event.due
            if event.next is not msgspec.UNSET:
                c["next_deadline"] = event.next
        case ev.Reopened():
            c.update(state="assigned" if c["assignee"] else "queued", resolved_at=None)
            if c["followup_state"] == "scheduled":  # the customer came back: no survey on top
                c.update(followup_state="cancelled", followup_due=None)
        case _:
            _apply_engagement(c, event)
    return c


def _apply_engagement(c: dict[str, Any], event: Event) -> None:
    match event:
        case ev.ApprovalRequested():
            c.update(approval_state="pending", approval_draft=event.draft,
                     approver=event.approver, approval_due=event.due, claimed_by=None,
                     claim_until=None)
            if c["state"] == "claimed":
                c["state"] = "assigned" if c["assignee"] else "queued"
        case ev.ApprovalEscalated():
            c.update(approver=event.to, approval_due=event.due)
        case ev.Approved():
            c.update(approval_state="approved", approval_due=None)
        case ev.Rejected():
            c.update(approval_state="rejected", approval_due=None)
        case ev.ApprovalWithdrawn():
            c.update(approval_state="withdrawn", approval_due=None)
        case ev.FlagsChanged():
            c["flags"] = _joined(c["flags"], event.add, event.remove)
        case ev.TagsChanged():
            c["tags"] = _joined(c["tags"], event.add, event.remove)
        case ev.CrmLinked():
            c["crm_id"] = event.crm_id or None
        case ev.FollowupScheduled():
            c.update(followup_state="scheduled", followup_due=event.due)
        case ev.FollowupSent():
            c.update(followup_state="asked", followup_due=None)
        case ev.FollowupAnswered():
            c["followup_state"] = "answered"
            if event.csat is not None:
                c["csat"] = int(event.csat)
        case ev.FollowupInvited():
            c["followup_state"] = "invited"
        case ev.FollowupCancelled():
            c.update(followup_state="cancelled", followup_due=None)
        case ev.AutoReplyWithdrawn() if c["state"] == "replied":
            # the automated answer is taken back: the question waits for a person again
            c["state"] = "assigned" if c["assignee"] else "queued"
        case ev.SendFailed() if event.what == "followup":
            c.update(followup_state="failed", followup_due=None)


def split(value: str | None) -> list[str]:
    """The tags or flags of a case as a list."""
    return [x for x in (value or "").split(",") if x]


MAX_TOPICS, TOPIC_CHARS = 8, 32


def topics_of(signals: Any) -> str:
    """The topics of a decision's signals as the case keeps them: comma-joined, sorted, at
    most MAX_TOPICS of TOPIC_CHARS each (a workspace's topic names, but bounded all the same:
    they come from configuration that may be edited, and key the report rollups)."""
    raw = signals.get("topics") if isinstance(signals, dict) else None
    if not isinstance(raw, list | tuple):
        return ""
    clean = {str(x)[:TOPIC_CHARS].replace(",", " ").replace("|", "/").strip() for x in raw}
    return ",".join(sorted(x for x in clean if x)[:MAX_TOPICS])


def _joined(current: str, add: Any, remove: Any) -> str:
    return ",".join(sorted((set(split(current)) | set(add)) - set(remove)))


def apply_all(case: dict[str, Any], events: Iterable[Event]) -> dict[str, Any]:
    """`case` with `events` applied in order."""
    for e in events:
        case = apply(case, e)
    return case


def replay(case_id: str, events: list[Event]) -> dict[str, Any]:
    return apply_all(empty(case_id), events)
