"""The case projection: fold a case's events into its current state, a `Case`.

Pure and shared: the store applies it incrementally as events are appended, and the rebuild
command replays the whole log through it, so the two can never disagree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
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


class Case(msgspec.Struct, frozen=True):
    """A case as its events leave it: the inbox row, the case page, the SLA tick's input.

    Frozen: `apply` returns a new Case and never changes the one it was given, so a reader
    can hold one across a write. Fields in the order of the `cases` table's columns (the
    store builds a Case from a row positionally); the defaults are a case before any event.
    """

    id: str
    state: str = "queued"
    team: str | None = None
    assignee: str | None = None
    track: str | None = None
    priority: str = "p4"
    respond: bool = True
    visibility: str = "public"
    approval: str = ""
    sla_minutes: int | None = None
    sla_due: datetime | None = None
    opened_at: datetime | None = None
    updated_at: datetime | None = None
    last_mention_at: datetime | None = None
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    author_handle: str = ""
    channel: str = ""
    title: str = ""
    claimed_by: str | None = None
    claim_until: datetime | None = None
    mention_count: int = 0
    rule_id: str | None = None
    playbook_version: str | None = None
    situation: str | None = None
    sentiment: str | None = None
    author_class: str | None = None
    version: int = 0
    # engagement (issue 6); tags and flags are comma-joined, sorted
    tags: str = ""
    flags: str = ""
    approval_state: str = ""
    approval_draft: str | None = None
    approver: str | None = None
    approval_due: datetime | None = None
    followup_state: str = ""
    followup_due: datetime | None = None
    csat: int | None = None
    crm_id: str | None = None
    # when the SLA tick must look at the case again (its next warning, breach or ladder
    # step; the time of any other event, which may move the clocks); None: never
    next_deadline: datetime | None = None
    # reports (migration 0023): the first decision's topics, comma-joined and sorted; the
    # SLA calendar and the business minutes to the first answer and to resolution, which
    # the store fixes when it writes them (domain/kpis.py business_times)
    topics: str = ""
    sla_calendar: str = ""
    first_response_minutes: float | None = None
    resolution_minutes: float | None = None


FIELDS: tuple[str, ...] = Case.__struct_fields__
replace = msgspec.structs.replace


def empty(case_id: str) -> Case:
    return Case(id=case_id)


def apply(case: Case, event: Event) -> Case:
    """Return the case after `event`. Never mutates its input (a Case is frozen): the
    changes are gathered in `ch` and applied by one `replace`."""
    ch: dict[str, Any] = {"updated_at": event.at, "version": case.version + 1}
    # An event that may move the SLA clocks makes the tick look again at its time; the tick's
    # own sla_clock event carries the next deadline it computed. Who holds or is assigned the
    # case moves no deadline (the tick itself writes those on presence changes).
    if event.kind not in _HOLDING:
        ch["next_deadline"] = event.at
    match event:
        case ev.Opened():
            ch.update(opened_at=event.at, author_handle=event.author, channel=event.channel,
                      title=event.title[:TITLE_CHARS],
                      last_mention_at=event.mention_at or event.at, mention_count=1)
        case ev.MentionAdded():
            ch["mention_count"] = case.mention_count + 1
            ch["last_mention_at"] = event.mention_at or event.at
        case ev.Decided():
            dec, sig = event.decision, event.signals
            ch.update(track=dec["track"], team=dec["team"], priority=dec["priority"],
                      respond=dec["respond"], visibility=dec.get("visibility", "public"),
                      approval=dec.get("approval", ""), sla_minutes=dec["sla_minutes"],
                      rule_id=dec["rule_id"], playbook_version=dec["playbook_version"],
                      situation=sig["situation"], sentiment=sig["sentiment_label"],
                      author_class=sig.get("author_class", "customer"))
            start = case.opened_at or event.at
            ch["sla_due"] = start + timedelta(minutes=dec["sla_minutes"])
            ch["topics"] = topics_of(sig)
            ch["tags"] = _joined(case.tags, dec.get("tags", ()), ())
            ch["flags"] = _joined(case.flags, dec.get("flags", ()), ())
        case ev.SignalsRevised():
            if event.first:
                ch.update(situation=event.signals["situation"],
                          sentiment=event.signals["sentiment_label"],
                          topics=topics_of(event.signals))
        case ev.Assigned():
            ch["team"] = event.team
            ch["assignee"] = event.member
            if case.state in ("queued", "assigned"):
                ch["state"] = "assigned" if event.member else "queued"
        case ev.Claimed():
            ch.update(claimed_by=event.actor, claim_until=event.until, state="claimed")
            if case.assignee is None:
                ch["assignee"] = event.actor
        case ev.Released():
            ch.update(claimed_by=None, claim_until=None)
            if case.state == "claimed":
                ch["state"] = "assigned" if case.assignee else "queued"
        case ev.Replied():
            ch.update(state="replied", claimed_by=None, claim_until=None)
            if case.first_response_at is None:
                ch["first_response_at"] = event.at
        case ev.Resolved():
            ch.update(state="resolved", resolved_at=event.at, claimed_by=None, claim_until=None,
                      next_deadline=None)  # the tick watches open cases only
        case ev.SlaClock():  # due on the track's business calendar; None while paused
            ch["sla_due"] = event.due
            if event.next is not msgspec.UNSET:
                ch["next_deadline"] = event.next
        case ev.Reopened():
            ch.update(state="assigned" if case.assignee else "queued", resolved_at=None)
            if case.followup_state == "scheduled":  # the customer came back: no survey on top
                ch.update(followup_state="cancelled", followup_due=None)
        case _:
            _apply_engagement(case, ch, event)
    return replace(case, **ch)


def _apply_engagement(case: Case, ch: dict[str, Any], event: Event) -> None:
    match event:
        case ev.ApprovalRequested():
            ch.update(approval_state="pending", approval_draft=event.draft,
                      approver=event.approver, approval_due=event.due, claimed_by=None,
                      claim_until=None)
            if case.state == "claimed":
                ch["state"] = "assigned" if case.assignee else "queued"
        case ev.ApprovalEscalated():
            ch.update(approver=event.to, approval_due=event.due)
        case ev.Approved():
            ch.update(approval_state="approved", approval_due=None)
        case ev.Rejected():
            ch.update(approval_state="rejected", approval_due=None)
        case ev.ApprovalWithdrawn():
            ch.update(approval_state="withdrawn", approval_due=None)
        case ev.FlagsChanged():
            ch["flags"] = _joined(case.flags, event.add, event.remove)
        case ev.TagsChanged():
            ch["tags"] = _joined(case.tags, event.add, event.remove)
        case ev.CrmLinked():
            ch["crm_id"] = event.crm_id or None
        case ev.FollowupScheduled():
            ch.update(followup_state="scheduled", followup_due=event.due)
        case ev.FollowupSent():
            ch.update(followup_state="asked", followup_due=None)
        case ev.FollowupAnswered():
            ch["followup_state"] = "answered"
            if event.csat is not None:
                ch["csat"] = int(event.csat)
        case ev.FollowupInvited():
            ch["followup_state"] = "invited"
        case ev.FollowupCancelled():
            ch.update(followup_state="cancelled", followup_due=None)
        case ev.AutoReplyWithdrawn() if case.state == "replied":
            # the automated answer is taken back: the question waits for a person again
            ch["state"] = "assigned" if case.assignee else "queued"
        case ev.SendFailed() if event.what == "followup":
            ch.update(followup_state="failed", followup_due=None)


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


def apply_all(case: Case, events: Iterable[Event]) -> Case:
    """`case` with `events` applied in order."""
    for e in events:
        case = apply(case, e)
    return case


def replay(case_id: str, events: list[Event]) -> Case:
    return apply_all(empty(case_id), events)
