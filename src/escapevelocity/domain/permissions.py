"""Roles and what each may do: one matrix, checked by every service command.

The web pages and the API only translate requests; the service commands call `check` (and
`check_case` for the per-case scope) before they touch anything, so no path can skip a rule.
Roles are the ones in DESIGN.md (domain/org.ROLES); a member may hold several.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from escapevelocity.domain.org import ROLES

# Every action a service command can ask about.
VIEW = "view"  # read cases, their mentions and notes
CLAIM = "claim"  # take (and extend) the lease to answer
RELEASE = "release"
REPLY = "reply"  # send, or submit for approval when approval is needed
RESOLVE = "resolve"
REOPEN = "reopen"
ASSIGN = "assign"  # hand a case to someone else
NOTE = "note"  # internal notes with @mentions
TAG = "tag"  # tags and flags
CRM_LINK = "crm_link"
APPROVE = "approve"  # edit, approve or reject a draft awaiting approval
OVERRIDE_CLAIM = "override_claim"  # take a case from the member holding its lease
BULK = "bulk"  # act on many cases at once (each case is still checked on its own)
AUDIT = "audit"  # read the audit trail
FOLLOWUP = "followup"  # record a customer's satisfaction answer
CONFIGURE = "configure"  # approval rotations, risk list, follow-up policy
EDIT_PLAYBOOK = "edit_playbook"  # save playbook versions and activate them (or ask approval)

ACTIONS = (VIEW, CLAIM, RELEASE, REPLY, RESOLVE, REOPEN, ASSIGN, NOTE, TAG, CRM_LINK, APPROVE,
           OVERRIDE_CLAIM, BULK, AUDIT, FOLLOWUP, CONFIGURE, EDIT_PLAYBOOK)

_WORK = (VIEW, CLAIM, RELEASE, REPLY, RESOLVE, NOTE, TAG)

MATRIX: dict[str, frozenset[str]] = {
    # program lead: everything, including approving as the exec on call
    "strategist": frozenset(ACTIONS),
    # hub: works the shared inbox, hands cases out, follows up
    "community_manager": frozenset((*_WORK, REOPEN, ASSIGN, CRM_LINK, BULK, AUDIT, FOLLOWUP)),
    # business-unit spoke: answers what is routed to it
    "liaison": frozenset((*_WORK, REOPEN, CRM_LINK, AUDIT, FOLLOWUP)),
    # legal / compliance on call: approves sensitive replies, answers legal cases
    "approver": frozenset((*_WORK, APPROVE, AUDIT)),
    # dashboards and reports only
    "analyst": frozenset((VIEW, AUDIT)),
    # outsourced overflow: works its own teams' cases only, and its replies need approval
    "agency": frozenset(_WORK),
    "admin": frozenset(ACTIONS),
}

# Roles that may only touch cases of their own teams.
LIMITED_SCOPE = frozenset({"agency"})

assert set(MATRIX) == set(ROLES), "every role in org.ROLES needs a row in the matrix"


class PermissionDenied(PermissionError):
    """The acting member may not do this; the message says what and why."""

    def __init__(self, message: str, *, action: str = "", member: str = "") -> None:
        self.action, self.member = action, member
        super().__init__(message)


def allowed(member_roles: Iterable[str], action: str) -> bool:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    return any(action in MATRIX.get(role, ()) for role in member_roles)


def check(member_roles: Iterable[str], action: str, *, member: str = "") -> None:
    """Raise PermissionDenied unless one of the roles allows `action`."""
    roles = tuple(member_roles)
    if not allowed(roles, action):
        who = member or "this member"
        held = ", ".join(roles) or "no role"
        can = sorted(r for r, acts in MATRIX.items() if action in acts)
        raise PermissionDenied(f"{who} ({held}) may not {action.replace('_', ' ')}; "
                               f"roles that may: {', '.join(can)}", action=action, member=member)


def check_case(member_roles: Iterable[str], member_teams: Sequence[str], case: dict,
               action: str, *, member: str = "") -> None:
    """`check`, plus the scope rule: limited roles act only on their own teams' cases (or
    cases assigned to them)."""
    roles = tuple(member_roles)
    check(roles, action, member=member)
    if (roles and all(r in LIMITED_SCOPE for r in roles)
            and case.get("team") not in member_teams and case.get("assignee") != member):
        raise PermissionDenied(
            f"{member or 'this member'} works only on cases of {', '.join(member_teams)}; "
            f"this case belongs to {case.get('team') or 'no team'}",
            action=action, member=member)
