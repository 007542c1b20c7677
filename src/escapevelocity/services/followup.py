"""Follow-up after resolution: ask satisfaction, then invite a happy customer to update the post.

`cases.resolve` schedules a follow-up when the case's track has one in the engagement policy
(e.g. support: 24 h later, CSAT 1–5). `tick` sends the question when it falls due (dry-run, like
replies); `answer` records the customer's answer and, when they are happy, the invitation to
update their public post. Each step is an event, so reports count them from the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from escapevelocity.adapters.store.sql import SqlStore
from escapevelocity.domain import engagement
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.engagement import answer_events
from escapevelocity.domain.events import Event
from escapevelocity.domain.plans.commands import schedule_followup
from escapevelocity.services.casetx import CaseError, authorize, commit, load, policy

schedule = schedule_followup  # the rule is pure: domain/plans/commands.py


def tick(store: SqlStore, clock: Clock, now: datetime | None = None) -> list[Event]:
    """Send every satisfaction question that has fallen due."""
    now = now or clock.now()
    out: list[Event] = []
    with store.begin() as conn:
        due = store.cases_due(conn, "followup_due", "followup_state", "scheduled", now)
    for case_id in due:
        with store.begin() as conn:
            case = load(store, conn, case_id)
            if case["followup_state"] != "scheduled" or case["followup_due"] > now:
                continue
            rules = policy(store, conn)
            rule = rules.followups.get(case["track"] or "")
            ask = rule.ask if rule else "csat"
            text = engagement.fill(rules.ask_csat if ask == "csat" else rules.ask_thumbs, case)
            event = Event(case_id, ev.FOLLOWUP_SENT, now, ev.SYSTEM, {
                "ask": ask, "text": text, "visibility": case["visibility"], "dry_run": True})
            commit(store, conn, case, event)
            out.append(event)
    return out


def answer(store: SqlStore, clock: Clock, case_id: str, member: str, *,
           csat: int | None = None, thumbs: str | None = None, text: str = "") -> list[Event]:
    """Record the customer's answer (a number 1–5, thumbs up/down, or their words, parsed);
    `member` is who records it (ev.SYSTEM when a channel adapter does). A happy answer also
    sends the invitation to update the public post."""
    if csat is None and thumbs is None and text:
        csat, thumbs = engagement.parse_answer(text)
    if csat is not None and not 1 <= int(csat) <= 5:
        raise CaseError("CSAT is a number from 1 to 5")
    if thumbs is not None and thumbs not in ("up", "down"):
        raise CaseError("thumbs is up or down")
    if csat is None and thumbs is None:
        raise CaseError("no satisfaction answer: give 1–5 or thumbs up/down")
    now = clock.now()
    with store.begin() as conn:
        case = load(store, conn, case_id)
        if member != ev.SYSTEM:
            authorize(store, conn, member, perm.FOLLOWUP, case)
        if case["followup_state"] not in ("asked", "scheduled"):
            raise CaseError("no satisfaction question is open on this case")
        events = answer_events(case, csat, thumbs, text, member, now, policy(store, conn))
        commit(store, conn, case, *events)
        return events


@dataclass
class Satisfaction:
    asked: int
    answered: int
    csat_count: int
    csat_mean: float | None
    thumbs_up: int
    thumbs_down: int
    invited: int

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.asked if self.asked else None


def summary(store: SqlStore, member: str, since: datetime | None = None) -> Satisfaction:
    """Satisfaction figures from the event log, for reports."""
    with store.begin() as conn:
        authorize(store, conn, member, perm.AUDIT)
        log = store.events_of_kinds(conn, (ev.FOLLOWUP_SENT, ev.FOLLOWUP_ANSWERED,
                                           ev.FOLLOWUP_INVITED), since=since, limit=1_000_000)
    answers = [e.data for e in log if e.kind == ev.FOLLOWUP_ANSWERED]
    scores = [int(a["csat"]) for a in answers if a.get("csat") is not None]
    return Satisfaction(
        asked=sum(e.kind == ev.FOLLOWUP_SENT for e in log), answered=len(answers),
        csat_count=len(scores), csat_mean=sum(scores) / len(scores) if scores else None,
        thumbs_up=sum(a.get("thumbs") == "up" for a in answers),
        thumbs_down=sum(a.get("thumbs") == "down" for a in answers),
        invited=sum(e.kind == ev.FOLLOWUP_INVITED for e in log))
