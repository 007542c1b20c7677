"""The case commands' rules: claim, reply, resolve as plans over the case as read. Pure.

Each plan takes the case (the projection row), the acting member and `now`, and answers with
the events to append, or a `Refusal` saying why not. The services (services/cases.py) read
the case, authorize the member (domain/permissions), call the plan, raise the refusal as the
matching error and write the events, so the same rule holds on every path (pages, API, CLI)
and the rules are tested without a database (tests/unit/test_plans.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from escapevelocity.domain import access, engagement
from escapevelocity.domain import events as ev
from escapevelocity.domain.cases import Case
from escapevelocity.domain.events import Event

MAX_REPLY_CHARS = 2_000


@dataclass(frozen=True)
class Refusal:
    """Why a command cannot be done: `kind` "case" (the case's state forbids it), "claim"
    (another member holds the claim: `holder`, `until`), "permission" or "changed" (others
    wrote to the conversation since the member looked: `changed`)."""

    kind: str
    reason: str
    holder: str | None = None
    until: datetime | None = None
    changed: tuple[Event, ...] = ()


def holds(case: Case, member: str, now: datetime) -> bool:
    return access.holder(case, now) == member  # the lease rule is the access policy's


def claimed_by_other(case: Case, member: str, now: datetime) -> bool:
    return access.held_by_other(case, member, now)


def _taken(case: Case) -> Refusal:
    return Refusal("claim", "claimed by another member", case.claimed_by, case.claim_until)


def plan_claim(case: Case, member: str, now: datetime, lease: timedelta, *,
               override: bool = False) -> Event | Refusal:
    """The claim event (the shell takes the lease with one conditional UPDATE first, so of two
    racing members exactly one wins; `override` takes it from whoever holds it)."""
    if case.state == "resolved":
        return Refusal("case", "the case is resolved; reopen it to work on it")
    return ev.Claimed(stream=case.id, at=now, actor=member, until=now + lease,
                      override=override, from_=case.claimed_by if override else None)


def plan_reply(case: Case, member: str, text: str, now: datetime,
               rules: engagement.Policy, *, template: str = "",
               changed: list[Event] | None = None, dry_run: bool = True,
               connection: str | None = None) -> Event | Refusal:
    """The reply event, or a Refusal. `changed`: what others added to the conversation since
    the member looked (the send-time guard). A reply that needs approval
    (engagement.approval_need) is held as a draft by the shell instead of sent. `dry_run` and
    `connection`: the switch and the way out, as the shell read them (services/replies.py)."""
    text = text.strip()
    if not text:
        return Refusal("case", "the reply is empty")
    if len(text) > MAX_REPLY_CHARS:
        return Refusal("case", f"the reply is {len(text)} characters; the limit is "
                               f"{MAX_REPLY_CHARS}")
    if case.state == "resolved":
        return Refusal("case", "the case is resolved; reopen it to reply")
    if case.approval_state == "pending":
        return Refusal("case", f"a reply to this case is awaiting approval by "
                               f"{case.approver}; wait for it or withdraw it")
    if (case.team in rules.assignee_only_teams and case.assignee
            and case.assignee != member):
        return Refusal("permission", f"on team {case.team} only the assignee "
                                     f"({case.assignee}) may reply")
    if not holds(case, member, now):
        if claimed_by_other(case, member, now):
            return _taken(case)
        return Refusal("case", "claim the case before replying")
    if changed:
        return Refusal("changed", "others wrote to the conversation meanwhile",
                       changed=tuple(changed))
    return ev.Replied(stream=case.id, at=now, actor=member, text=text, template=template,
                      visibility=case.visibility, dry_run=dry_run,
                      connection=connection or None)


def plan_resolve(case: Case, member: str, now: datetime, rules: engagement.Policy,
                 note: str = "") -> list[Event] | Refusal:
    """Resolve, and schedule the track's follow-up (satisfaction question) if it has one and
    somebody was ever answered."""
    if case.state == "resolved":
        return Refusal("case", "the case is already resolved")
    if claimed_by_other(case, member, now):
        return _taken(case)
    if case.approval_state == "pending":
        return Refusal("case", f"a reply is awaiting approval by {case.approver}; approve, "
                               "reject or withdraw it before resolving")
    return [ev.Resolved(stream=case.id, at=now, actor=member, note=note[:MAX_REPLY_CHARS]),
            *schedule_followup(case, now, rules)]


def schedule_followup(case: Case, now: datetime, rules: engagement.Policy
                      ) -> list[Event]:
    """The follow-up events to append with a resolution: none when the track has no
    follow-up or nobody was ever answered."""
    rule = rules.followups.get(case.track or "")
    if rule is None or case.first_response_at is None:
        return []
    due = now + timedelta(minutes=rule.after_minutes)
    return [ev.FollowupScheduled(stream=case.id, at=now, actor=ev.SYSTEM, due=due,
                                 ask=rule.ask)]
