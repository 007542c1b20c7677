"""Case commands from people: claim, release, reply, resolve, reopen, assign.

Every command takes the acting member, checks the access policy (domain/access: sight, role)
and runs in one transaction that appends its events and updates the projection with an
optimistic version check; the caller publishes to live views only after it returns (after
commit), so no inbox ever shows a state that was rolled back. The web pages and the API call
these functions and nothing else, so every rule here holds on every path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.domain import cases as projection
from escapevelocity.domain import engagement, governance
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.answers import deflection
from escapevelocity.domain.case_errors import ClaimTaken
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.domain.plans import commands as plans
from escapevelocity.services import approvals, replies
from escapevelocity.services import governance as governance_service
from escapevelocity.services.casetx import (
    CONVERSATION_KINDS,
    CaseError,
    CaseNotFound,
    ConversationChanged,
    authorize,
    commit,
    load,
    policy,
)

__all__ = [
    "CLAIM_LEASE",
    "MAX_REPLY_CHARS",
    "CaseError",
    "CaseNotFound",
    "ClaimTaken",
    "ConversationChanged",
    "assign",
    "claim",
    "rebuild_projection",
    "release",
    "reopen",
    "reply",
    "resolve",
]

CLAIM_LEASE = timedelta(minutes=10)
MAX_REPLY_CHARS = plans.MAX_REPLY_CHARS


def claim(store: SqlStore, clock: Clock, case_id: str, member: str,
          lease: timedelta = CLAIM_LEASE, *, override: bool = False) -> Event:
    """Take (or, for the holder, extend) the lease to answer. Of two members claiming at once
    exactly one wins; the other gets ClaimTaken naming the holder. `override` (strategist,
    admin) takes the case from whoever holds it."""
    now = clock.now()
    until = now + lease
    with store.begin() as tx:
        case = tx.cases.get(case_id)
        if case is None:
            raise CaseNotFound(f"no case {case_id!r}")
        who = authorize(tx, member, perm.CLAIM, case)
        tx.org.touch(member, now)  # activity: keeps auto-away from setting in
        _refuse(plans.plan_claim(case, member, now, lease), perm.CLAIM, member)
        if override:
            perm.check((who.role,), perm.OVERRIDE_CLAIM, member=member)
        else:
            _take(tx, case_id, member, until, now)
        case = load(tx, case_id)
        event = _refuse(plans.plan_claim(case, member, now, lease, override=override),
                        perm.CLAIM, member)
        commit(tx, case, event)
        return event


def _take(tx: Tx, case_id: str, member: str, until: datetime,
          now: datetime) -> None:
    """The atomic conditional UPDATE. When it loses but the holder let go in between (replied
    and so released), try again rather than report a holder who no longer exists."""
    for _ in range(3):
        if tx.cases.try_claim(case_id, member, until, now):
            return
        case = tx.cases.get(case_id)
        if case.state == "resolved":
            raise CaseError("the case was resolved meanwhile")
        if _claimed_by_other(case, member, now):
            raise ClaimTaken(case.claimed_by, case.claim_until)
    raise CaseError("the case keeps changing hands; try again")


def release(store: SqlStore, clock: Clock, case_id: str, member: str) -> Event:
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.RELEASE, case)
        if case.claimed_by != member:
            raise CaseError("you do not hold the claim on this case")
        event = ev.Released(stream=case_id, at=clock.now(), actor=member)
        commit(tx, case, event)
        return event


_claimed_by_other = plans.claimed_by_other


def _refuse(planned: Any, action: str, member: str) -> Any:
    """The plan's events, or its Refusal raised as the error callers know."""
    if not isinstance(planned, plans.Refusal):
        return planned
    if planned.kind == "claim":
        raise ClaimTaken(planned.holder, planned.until)
    if planned.kind == "permission":
        raise perm.PermissionDenied(planned.reason, action=action, member=member)
    if planned.kind == "changed":
        raise ConversationChanged(list(planned.changed))
    raise CaseError(planned.reason)


def changes_since(tx: Tx, case_id: str, seen_seq: int,
                  member: str) -> list[Event]:
    """What others added to the conversation after event `seen_seq` (the send-time guard)."""
    return [e for e in tx.events.stream(case_id)
            if e.seq is not None and e.seq > seen_seq and e.kind in CONVERSATION_KINDS
            and e.actor != member]


def reply(store: SqlStore, clock: Clock, case_id: str, member: str, text: str, *,
          template: str = "", seen_seq: int | None = None,
          along: Callable[[Event], Sequence[Event]] | None = None) -> Event:
    """Record a reply (live or dry run by the outbound switch: services/replies.deliver sends a
    live one after this commits), or, when it
    needs approval (playbook, the member's role or training, the risk list), hold it as a draft
    routed to the approver on call: the returned event's kind says which (REPLIED or
    APPROVAL_REQUESTED). Only the member holding the claim may reply; `seen_seq` (the last event
    the member saw) rejects the send if others added to the conversation since. `along`: the
    events that go with a sent reply, in its transaction (services/answers: which suggested
    answer it used)."""
    text = text.strip()
    if not text:
        raise CaseError("the reply is empty")
    if len(text) > MAX_REPLY_CHARS:
        raise CaseError(f"the reply is {len(text)} characters; the limit is {MAX_REPLY_CHARS}")
    now = clock.now()
    with store.begin() as tx:
        case = load(tx, case_id)
        who = authorize(tx, member, perm.REPLY, case)
        tx.org.touch(member, now)  # activity: keeps auto-away from setting in
        rules = policy(tx)
        changed = (changes_since(tx, case_id, seen_seq, member)
                   if seen_seq is not None else None)
        way = replies.route(tx, case, now)
        if not way.dry_run and way.max_chars and len(text) > way.max_chars:
            raise CaseError(f"the reply is {len(text)} characters; {way.title} takes "
                            f"{way.max_chars}")
        event = _refuse(plans.plan_reply(case, member, text, now, rules, template=template,
                                         changed=changed, dry_run=way.dry_run,
                                         connection=way.connection or None),
                        perm.REPLY, member)
        # a member whose training is not complete (domain/governance) waits for approval
        untrained = governance.training_gaps(governance_service.program_in(tx), who.id)
        need = engagement.approval_need(case, who, text, rules, untrained, tx.org.load())
        if need is not None:
            return approvals.hold(tx, case, who, text, template, need, now, rules)
        commit(tx, case, event, *(along(event) if along else ()))
        return event


def resolve(store: SqlStore, clock: Clock, case_id: str, member: str, note: str = "") -> Event:
    """Resolve, and schedule the track's follow-up (satisfaction question) if it has one."""
    now = clock.now()
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.RESOLVE, case)
        events = _refuse(plans.plan_resolve(case, member, now, policy(tx), note),
                         perm.RESOLVE, member)
        if case.first_response_at is None:  # no reply from us: did a peer answer?
            ref = deflection.resolved_by_community(
                case.author_handle, [r.author_handle for r in tx.mentions.of_case(case_id)],
                replied=False)
            if ref:
                events = [*events, ev.CommunityResolved(stream=case_id, at=now, actor=member,
                                                        ref=ref, note="detected at resolve")]
        commit(tx, case, *events)
        return events[0]


def reopen(store: SqlStore, clock: Clock, case_id: str, member: str, note: str = "") -> Event:
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.REOPEN, case)
        if case.state != "resolved":
            raise CaseError("the case is not resolved")
        event = ev.Reopened(stream=case_id, at=clock.now(), actor=member,
                            note=note[:MAX_REPLY_CHARS])
        commit(tx, case, event)
        return event


def assign(store: SqlStore, clock: Clock, case_id: str, member: str, to: str | None,
           team: str | None = None) -> Event:
    """Hand the case to member `to` (None: back to the team queue), optionally moving it to
    `team`; `to` must belong to the resulting team."""
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.ASSIGN, case)
        org = tx.org.load()
        team = team or case.team
        if team is None or org.team(team) is None:
            raise CaseError(f"no team {team!r}")
        if org.team(team).mode == "shadow" and team != case.team:
            raise CaseError(f"{team} is in shadow mode: its hub answers its cases until the "
                            "hub approves its readiness checklist")
        if to is not None:
            target = org.member(to)
            if target is None:
                raise CaseError(f"no member {to!r}")
            if team not in target.teams:
                raise CaseError(f"{to} is not on team {team}")
            if not perm.allowed((target.role,), perm.REPLY):
                raise CaseError(f"{to} ({target.role}) cannot work cases")
        event = ev.Assigned(stream=case_id, at=clock.now(), actor=member, team=team, member=to,
                            by=member)
        commit(tx, case, event)
        return event


def rebuild_projection(store: SqlStore) -> int:
    """Recompute every case from the event log alone (the log is the record)."""
    with store.begin() as tx:
        ids = tx.events.case_streams()
        cases = [projection.replay(i, tx.events.stream(i)) for i in ids]
        tx.cases.replace_all(cases)
        tx.events.rebuild_rollups()
    return len(cases)
