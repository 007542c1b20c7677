"""Roles and what each may do: one matrix, the role layer of the access policy.

Actions that concern no single case (configure, edit the playbook, bulk) are checked here with
`check`; anything done to a case goes through domain/access.py, which narrows this matrix by
the member's reason to see the case and the case's state. Roles are the ones in DESIGN.md
(domain/org.ROLES).
"""

from __future__ import annotations

from collections.abc import Iterable

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
ADMINISTER = "administer"  # members, roles, teams, shifts, SLA policies: the admin pages
# (admins, and strategists: the program lead holds every action)

ACTIONS = (VIEW, CLAIM, RELEASE, REPLY, RESOLVE, REOPEN, ASSIGN, NOTE, TAG, CRM_LINK, APPROVE,
           OVERRIDE_CLAIM, BULK, AUDIT, FOLLOWUP, CONFIGURE, EDIT_PLAYBOOK, ADMINISTER)

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
