"""What every case command shares: load under lock, authorise the acting member, commit events.

A command runs inside one `store.begin()` transaction: it loads the case (FOR UPDATE on
PostgreSQL), checks the acting member against the access policy (domain/access: sight, role,
reason to see), folds its events
into the projection and writes both with an optimistic version check. Nothing is published
before the transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from escapevelocity.adapters.store import Tx
from escapevelocity.domain import access, engagement, permissions
from escapevelocity.domain import cases as projection
from escapevelocity.domain.case_errors import (  # noqa: F401 (re-exported)
    CaseChanged,
    CaseError,
    CaseNotFound,
    ClaimTaken,
    ConversationChanged,
)
from escapevelocity.domain.cases import Case
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import Member
from escapevelocity.domain.permissions import PermissionDenied

T = TypeVar("T")
ATTEMPTS = 3  # a command that lost the version check to a write meanwhile is run again


def again_if_changed(command: Callable[[], T], attempts: int = ATTEMPTS) -> T:
    """Run `command` (one whole case command: its own transaction, read, guards and write)
    again when it lost the optimistic version check to a write in between (a clock job, a
    colleague): what a person does on "reload and try again", for commands whose intent does
    not depend on the state they read (a tag, a correction), never for a reply written
    against what the member saw. The last CaseChanged is raised."""
    for attempt in range(1, attempts + 1):
        try:
            return command()
        except CaseChanged:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")


# Kinds that change what a member replying should have read first.
CONVERSATION_KINDS = ("mention_added", "replied", "note_added", "approval_requested",
                      "reopened")


def load(tx: Tx, case_id: str) -> Case:
    case = tx.cases.get(case_id, for_update=True)
    if case is None:
        raise CaseNotFound(f"no case {case_id!r}")
    return case


def commit(tx: Tx, case: Case, *events: Event) -> Case:
    """Fold `events` into the case and write log and projection together; returns the case."""
    updated = case
    for e in events:
        updated = projection.apply(updated, e)
    if not tx.cases.update(updated, case.version):
        raise CaseChanged("the case changed while you were working on it; reload and try "
                          "again")
    tx.events.append(list(events))
    return updated


def acting(tx: Tx, member_id: str) -> Member:
    """The acting member's record; someone not in the organisation may do nothing."""
    member = tx.org.member(member_id) if member_id else None
    if member is None:
        raise PermissionDenied(f"{member_id or 'nobody'} is not a member of this workspace",
                               member=member_id or "")
    return member


def authorize(tx: Tx, member_id: str, action: str,
              case: Case | None = None) -> Member:
    """The acting member, once the policy allows `action` (on `case`, when given: a case out
    of their sight raises access.NotVisible, a PermissionDenied)."""
    member = acting(tx, member_id)
    if case is None:
        permissions.check((member.role,), action, member=member.id)
    else:
        access.check(tx.org.load(), member, case, action, tx.signin.factor_rule())
    return member


def policy(tx: Tx) -> engagement.Policy:
    return engagement.load_policy(tx.documents.get(engagement.POLICY_DOCUMENT))
