"""Follow-up after resolution: ask satisfaction, then invite a happy customer to update the post.

`cases.resolve` schedules a follow-up when the case's track has one in the engagement policy
(e.g. support: 24 h later, CSAT 1–5). `tick` sends the question when it falls due (through the
outbound port, domain/outbound.py: dry run until the workspace or connection is live);
`answer` records the customer's answer and, when they are happy, the invitation to
update their public post. Each step is an event, so reports count them from the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from msgspec.structs import asdict

from escapevelocity.adapters.outbound import DryRunSender, Senders, send_with_retries
from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import engagement, outbound
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.cases import Case
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.engagement import answer_events
from escapevelocity.domain.events import Event
from escapevelocity.domain.plans.commands import schedule_followup
from escapevelocity.services import replies
from escapevelocity.services.casetx import CaseError, authorize, commit, load, policy

schedule = schedule_followup  # the rule is pure: domain/plans/commands.py


def tick(store: SqlStore, clock: Clock, now: datetime | None = None, *,
         senders: Senders | None = None, sealer: Any = None,
         sleep: Callable[[float], None] = time.sleep) -> list[Event]:
    """Send every satisfaction question that has fallen due: privately through the connection
    the customer wrote from when it can (services/replies.private_sender, by its switch), else
    through the case's channel, else by email when we know the address; in dry run it is
    recorded as would-be-sent. The send happens between two transactions (no lock held while a
    network answers); a send that fails after its retries is a `send_failed` event on the
    case. `sleep` waits between a send's tries (replaced in tests, which need not wait)."""
    now = now or clock.now()
    senders = senders or Senders()
    out: list[Event] = []
    with store.begin() as tx:
        due = tx.cases.due("followup_due", "followup_state", "scheduled", now)
    for case_id in due:
        with store.begin() as tx:
            case = load(tx, case_id)
            if case.followup_state != "scheduled" or case.followup_due > now:
                continue
            rules = policy(tx)
            rule = rules.followups.get(case.track or "")
            ask = rule.ask if rule else "csat"
            text = engagement.fill(rules.ask_csat if ask == "csat" else rules.ask_thumbs, case)
            crm = [e.data for e in tx.events.stream(case_id) if e.kind == ev.CRM_LINKED]
            mode = outbound.load_mode(tx.documents.get(outbound.MODE_DOCUMENT))
            key = f"ev-{case_id}-followup-{int(case.followup_due.timestamp())}"
            own = replies.private_sender(tx, case, key, now, sealer=sealer)
        if own is not None:  # the connection the customer came by
            way, sender, target = own
            route = outbound.Route(way.channel, str(target["to"]), way.dry_run)
            event = _send(case, text, ask, route, senders, now, sleep, own=(sender, target))
        else:
            route = outbound.private_route(case, mode, senders.private(),
                                           outbound.customer_email(case, crm))
            event = _send(case, text, ask, route, senders, now, sleep)
        with store.begin() as tx:
            case = load(tx, case_id)
            if case.followup_state != "scheduled":
                continue  # the customer came back meanwhile (cancelled)
            commit(tx, case, event)
            out.append(event)
    return out


def _send(case: Case, text: str, ask: str, route: outbound.Route, senders: Senders,
          now: datetime, sleep: Callable[[float], None],
          own: tuple[Any, dict[str, Any]] | None = None) -> Event:
    if not route.via:
        return ev.SendFailed(
            stream=case.id, at=now, actor=ev.SYSTEM, what="followup", via="", attempts=0,
            text=text, error="no private channel to this customer and no email address known")
    if route.dry_run:
        result, tries = send_with_retries(DryRunSender(route.via), asdict(case), text,
                                         "private", sleep=sleep)
    elif own is not None and own[0] is not None:
        try:
            result, tries = send_with_retries(own[0], own[1], text, "private", sleep=sleep)
        finally:
            replies.close(own[0])
    else:
        sender = senders.get(route.via)
        if sender is None:
            result, tries = outbound.SendResult(error=f"no live sender for {route.via}"), 0
        else:
            result, tries = send_with_retries(sender, {**asdict(case), "to": route.to}, text,
                                             "private", sleep=sleep)
    if not result.ok:
        return ev.SendFailed(stream=case.id, at=now, actor=ev.SYSTEM, what="followup",
                             via=route.via, attempts=tries, text=text,
                             error=(result.error or "")[:300])
    return ev.FollowupSent(stream=case.id, at=now, actor=ev.SYSTEM, ask=ask, text=text,
                           via=route.via, to=route.to, visibility="private",
                           dry_run=result.dry_run, network_id=result.network_id, attempts=tries)


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
    with store.begin() as tx:
        case = load(tx, case_id)
        if member != ev.SYSTEM:
            authorize(tx, member, perm.FOLLOWUP, case)
        if case.followup_state not in ("asked", "scheduled"):
            raise CaseError("no satisfaction question is open on this case")
        events = answer_events(case, csat, thumbs, text, member, now, policy(tx))
        commit(tx, case, *events)
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
    with store.begin() as tx:
        authorize(tx, member, perm.AUDIT)
        log = tx.events.of_kinds((ev.FOLLOWUP_SENT, ev.FOLLOWUP_ANSWERED,
                                           ev.FOLLOWUP_INVITED), since=since, limit=1_000_000)
    answers = [e.data for e in log if e.kind == ev.FOLLOWUP_ANSWERED]
    scores = [int(a["csat"]) for a in answers if a.get("csat") is not None]
    return Satisfaction(
        asked=sum(e.kind == ev.FOLLOWUP_SENT for e in log), answered=len(answers),
        csat_count=len(scores), csat_mean=sum(scores) / len(scores) if scores else None,
        thumbs_up=sum(a.get("thumbs") == "up" for a in answers),
        thumbs_down=sum(a.get("thumbs") == "down" for a in answers),
        invited=sum(e.kind == ev.FOLLOWUP_INVITED for e in log))
