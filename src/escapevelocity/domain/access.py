"""Who may see a case, and what they may do to it now: the one access policy.

Every path asks here: the service commands before they write (services/casetx.authorize), the
web's case dependency before a route runs, the inbox, the live stream, bulk actions and the
templates (which show a button only for an action in `allowed_actions`). Before this module four
hand-written rules (the organisation's team filter, the commands' scope check, the case page's
rule and the engagement pages' rule) had drifted apart; an approver kept access to another team's
case after deciding its draft.

The policy has three layers, each a pure function of plain records:
1. **Reasons to see** a case (`reasons`): its team is in the member's sight (a hub sees its
   spokes, a spoke or agency its own teams, strategists and admins every team); it is assigned
   to the member; or a draft on it awaits the member's decision. Without a reason the case does
   not exist for the member (callers answer 404, never 403, so nothing leaks).
2. **What the role may** (`domain/permissions.MATRIX`), narrowed by the reason: a member who sees
   a case only to decide its draft may view it, note on it, read its audit trail and decide the
   draft: nothing else, and nothing at all once the draft is decided or escalated past them.
3. **What the case's state allows now** (`allowed_actions`): claims and their lease, a draft
   awaiting approval, resolved or open. The commands check the same facts and explain refusals
   (ClaimTaken, CaseError); pages use this layer only to offer what would succeed.

A fourth rule crosses the layers: a role an admin marked "requires a second factor" may not
reply publicly or approve a draft until the member has enrolled one (`SecondFactor`); the
commands pass the workspace's record of it, so no path (page, API, CLI) sends words without it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import Member, Organisation
from escapevelocity.domain.permissions import PermissionDenied

# Actions on one case. Most are the role matrix's; a few are finer names for pages and forms,
# each checked against the matrix permission it needs (NEEDS).
VIEW, CLAIM, OVERRIDE_CLAIM, RELEASE = perm.VIEW, perm.CLAIM, perm.OVERRIDE_CLAIM, perm.RELEASE
REPLY, RESOLVE, REOPEN, ASSIGN = perm.REPLY, perm.RESOLVE, perm.REOPEN, perm.ASSIGN
NOTE, TAG, CRM_LINK, AUDIT, FOLLOWUP = perm.NOTE, perm.TAG, perm.CRM_LINK, perm.AUDIT, perm.FOLLOWUP
APPROVE = perm.APPROVE  # decide the draft awaiting approval: edit, approve or reject it
CORRECT = "correct"  # correct a signal of the case (a label, so the roles that may tag)
WITHDRAW = "withdraw"  # the submitter takes back a draft awaiting approval
ALTERNATIVE = "alternative"  # the submitter offers another wording for the approver

NEEDS: dict[str, str] = {CORRECT: TAG, WITHDRAW: REPLY, ALTERNATIVE: REPLY}
CASE_ACTIONS = (VIEW, CLAIM, OVERRIDE_CLAIM, RELEASE, REPLY, RESOLVE, REOPEN, ASSIGN, NOTE, TAG,
                CORRECT, CRM_LINK, APPROVE, WITHDRAW, ALTERNATIVE, AUDIT, FOLLOWUP)

# Reasons to see a case.
TEAM = "team"  # its team is in the member's sight
ASSIGNED = "assigned"  # handed to the member by name
DECIDING = "deciding"  # a draft on it awaits the member's decision

SEE_EVERY_TEAM = frozenset({"strategist", "admin"})
# What a member who sees a case only to decide its draft may do.
DECIDING_ACTIONS = frozenset({VIEW, APPROVE, NOTE, AUDIT})
# Open-case actions that the state layer below does not otherwise constrain.
_ANY_STATE = frozenset({VIEW, NOTE, TAG, CORRECT, CRM_LINK, AUDIT, FOLLOWUP, ASSIGN})


class NotVisible(PermissionDenied):
    """The case is outside the member's sight: shown as 'not found', so nothing leaks."""


class SecondFactorRequired(PermissionDenied):
    """The member's role must have a second factor to send words to customers."""

    code = "second_factor_required"


@dataclass(frozen=True, slots=True)
class SecondFactor:
    """Which roles must have a second factor, and which members have enrolled one."""

    roles: frozenset[str] = frozenset()
    enrolled: frozenset[str] = frozenset()

    def missing(self, member: Member) -> bool:
        return member.role in self.roles and member.id not in self.enrolled


NO_FACTOR_RULE = SecondFactor()


def _needs_factor(action: str, c: CaseFacts) -> bool:
    """Approving sends a reply; a reply needs it when it is public."""
    return action == APPROVE or (action == REPLY and c.visibility != "private")


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """The few fields of a case the policy reads; `of` takes the projection's dict (or any
    record with these attributes, such as a typed Case)."""

    team: str | None
    assignee: str | None
    state: str
    claimed_by: str | None
    claim_until: datetime | None
    approval_state: str
    approver: str | None
    visibility: str = "public"

    @classmethod
    def of(cls, case: Any) -> CaseFacts:
        if isinstance(case, CaseFacts):
            return case
        get = case.get if isinstance(case, Mapping) else (lambda k: getattr(case, k, None))
        return cls(get("team"), get("assignee"), get("state") or "queued", get("claimed_by"),
                   get("claim_until"), get("approval_state") or "", get("approver"),
                   get("visibility") or "public")


# --- layer 1: sight ---------------------------------------------------------------------------

def visible_teams(org: Organisation, member: Member) -> frozenset[str]:
    """Teams whose cases the member sees. Strategists and admins see every team. A hub member
    sees the hub, every spoke under it and every team under no hub; a spoke or agency member
    only the teams they belong to. A member the organisation does not know sees nothing; the
    organisation's record of the member counts, not the one a long-lived caller (an open live
    stream, a session) loaded earlier."""
    current = org.member(member.id)
    if current is None:
        return frozenset()
    member = current
    every = frozenset(t.id for t in org.teams)
    if member.role in SEE_EVERY_TEAM:
        return every
    seen: set[str] = set()
    for tid in member.teams:
        team = org.team(tid)
        if team is None:
            continue
        seen.add(tid)
        if team.kind == "hub" and member.role != "agency":
            seen |= {t.id for t in org.teams if t.hub == tid or (t.hub is None and t.kind != "hub")}
    return frozenset(seen)


def reasons(org: Organisation, member: Member, case: Any,
            teams: Collection[str] | None = None) -> frozenset[str]:
    """Why the member sees the case (empty: they do not). `teams`: `visible_teams`, when the
    caller checks many cases at once."""
    c = CaseFacts.of(case)
    teams = visible_teams(org, member) if teams is None else teams
    out = set()
    if c.team in teams:
        out.add(TEAM)
    if c.assignee == member.id and org.member(member.id) is not None:
        out.add(ASSIGNED)
    if c.approval_state == "pending" and c.approver == member.id:
        out.add(DECIDING)
    return frozenset(out)


def may_see(org: Organisation, member: Member, case: Any,
            teams: Collection[str] | None = None) -> bool:
    return bool(reasons(org, member, case, teams))


# --- layer 2: the role, narrowed by the reason ------------------------------------------------

def _role_allows(member: Member, action: str) -> bool:
    return perm.allowed((member.role,), NEEDS.get(action, action))


def permitted(org: Organisation, member: Member, case: Any,
              factor: SecondFactor = NO_FACTOR_RULE) -> frozenset[str]:
    """Actions the member's role and reason to see allow on this case, whatever its state."""
    why = reasons(org, member, case)
    if not why:
        return frozenset()
    member = org.member(member.id) or member  # the organisation's record counts
    scope = frozenset(CASE_ACTIONS) if why - {DECIDING} else DECIDING_ACTIONS
    c = CaseFacts.of(case)
    missing = factor.missing(member)
    if in_shadow(org, member, case):
        scope -= SHADOW_WITHHELD
    return frozenset(a for a in scope if _role_allows(member, a)
                     and not (missing and _needs_factor(a, c)))



# What a spoke in shadow mode (domain/governance: its readiness checklist not yet approved)
# may not do: anything that sends, or takes a case to send. Its members draft in shadow.
SHADOW_WITHHELD = frozenset({CLAIM, OVERRIDE_CLAIM, REPLY, APPROVE, WITHDRAW, ALTERNATIVE})


def shadow_only(org: Organisation, member: Member) -> bool:
    """The member belongs only to teams in shadow mode (strategists and admins never are)."""
    if member.role in SEE_EVERY_TEAM or not member.teams:
        return False
    teams = [org.team(t) for t in member.teams]
    return all(t is not None and t.mode == "shadow" for t in teams)


def in_shadow(org: Organisation, member: Member, case: Any) -> bool:
    """Nothing may be sent on this case by this member: its team is in shadow mode, or the
    member's only teams are."""
    team = org.team(CaseFacts.of(case).team or "")
    return (team is not None and team.mode == "shadow") or shadow_only(org, member)


def check(org: Organisation, member: Member, case: Any, action: str,
          factor: SecondFactor = NO_FACTOR_RULE) -> None:
    """Raise NotVisible when the case is out of the member's sight, PermissionDenied (with what
    and why) when their role or their reason to see it does not allow `action`, and
    SecondFactorRequired when their role must have a second factor for it and they have none."""
    if action not in CASE_ACTIONS:
        raise ValueError(f"unknown case action {action!r}")
    why = reasons(org, member, case)
    if not why:
        raise NotVisible(f"no such case in {member.id}'s teams' inboxes", action=action,
                         member=member.id)
    member = org.member(member.id) or member
    if not _role_allows(member, action):
        perm.check((member.role,), NEEDS.get(action, action), member=member.id)
    if factor.missing(member) and _needs_factor(action, CaseFacts.of(case)):
        raise SecondFactorRequired(
            f"{member.id} may not {'approve replies' if action == APPROVE else 'reply publicly'}"
            f" without a second factor: the {member.role.replace('_', ' ')} role requires one;"
            " set it up under Settings → Second factor", action=action, member=member.id)
    if action not in permitted(org, member, case):
        if in_shadow(org, member, case) and action in SHADOW_WITHHELD:
            raise PermissionDenied(
                f"{member.id} may not {action.replace('_', ' ')} this case: their spoke is in "
                "shadow mode until the hub approves its readiness checklist (draft in shadow "
                "instead)", action=action, member=member.id)
        raise PermissionDenied(
            f"{member.id} may not {action.replace('_', ' ')} this case: they see it only to "
            "decide the draft awaiting their approval", action=action, member=member.id)


# --- layer 3: what the state allows now -------------------------------------------------------

def holder(case: Any, now: datetime) -> str | None:
    """Who holds the claim now; an expired lease holds nothing (and is not shown as held)."""
    c = CaseFacts.of(case)
    if c.claimed_by and c.claim_until is not None and c.claim_until >= now:
        return c.claimed_by
    return None


def held_by_other(case: Any, member_id: str, now: datetime) -> bool:
    who = holder(case, now)
    return who is not None and who != member_id


def _possible(action: str, c: CaseFacts, member: Member, now: datetime, submitter: str | None,
              assignee_only: Collection[str]) -> bool:
    resolved, pending = c.state == "resolved", c.approval_state == "pending"
    mine, other = holder(c, now) == member.id, held_by_other(c, member.id, now)
    if action in _ANY_STATE:
        return True
    if action == REOPEN:
        return resolved
    if resolved:
        return False
    if action == CLAIM:
        return not other
    if action == OVERRIDE_CLAIM:
        return other
    if action == RELEASE:
        return mine
    if action == REPLY:
        return (mine and not pending
                and not (c.team in assignee_only and c.assignee and c.assignee != member.id))
    if action == RESOLVE:
        return not other and not pending
    if action == APPROVE:  # who is in the draft's rotation is services/approvals' question
        return pending and submitter != member.id
    if action == ALTERNATIVE:
        return pending and submitter == member.id
    if action == WITHDRAW:
        return pending and (submitter == member.id or member.role == "admin")
    raise ValueError(f"unknown case action {action!r}")


def allowed_actions(org: Organisation, member: Member, case: Any, now: datetime, *,
                    submitter: str | None = None,
                    assignee_only: Collection[str] = (),
                    factor: SecondFactor = NO_FACTOR_RULE) -> frozenset[str]:
    """What the member may do to the case now: the buttons a page offers. `submitter`: who
    submitted the draft awaiting approval, if any (drafts are folded from the case's events;
    when not given, nobody is offered alternative and only admins withdraw);
    `assignee_only`: the engagement policy's teams where only the assignee replies."""
    c = CaseFacts.of(case)
    member = org.member(member.id) or member
    return frozenset(a for a in permitted(org, member, case, factor)
                     if _possible(a, c, member, now, submitter, assignee_only))


REPORT_ROLES = frozenset({"analyst"})  # dashboards, reports, exports (DESIGN.md)


def may_read_reports(org: Organisation, member: Member) -> bool:
    """Whether the member reads every team's figures on the reports and the wall: members who
    see every team (strategists, admins, hub members over all spokes) and analysts. Anyone
    else reads the figures of the teams they see, never those of teams kept from them."""
    current = org.member(member.id)
    if current is None:
        return False
    return (current.role in REPORT_ROLES
            or visible_teams(org, current) == frozenset(t.id for t in org.teams))


def may_edit_saved_replies(org: Organisation, member: Member) -> bool:
    """The saved-reply library is edited by those who set the team's voice: roles that
    configure the workspace (strategist, admin) and the lead of any team."""
    return _role_allows(member, perm.CONFIGURE) or any(t.lead == member.id for t in org.teams)
