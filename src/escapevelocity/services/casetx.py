"""What every case command shares: load under lock, authorise the acting member, commit events.

A command runs inside one `store.begin()` transaction: it loads the case (FOR UPDATE on
PostgreSQL), checks the acting member against the access policy (domain/access: sight, role,
reason to see), folds its events
into the projection and writes both with an optimistic version check. Nothing is published
before the transaction commits.
"""

from __future__ import annotations

from typing import Any

from escapevelocity.adapters.store.sql import SqlStore
from escapevelocity.domain import access, engagement, permissions
from escapevelocity.domain import cases as projection
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import Member
from escapevelocity.domain.permissions import PermissionDenied


class CaseError(Exception):
    """A command that cannot be carried out, with a message a person can act on."""


class CaseNotFound(CaseError):
    pass


class ConversationChanged(CaseError):
    """The send-time guard: the conversation moved on since the draft began."""

    def __init__(self, changes: list[Event]) -> None:
        self.changes = changes
        what = ", ".join(f"{e.kind.replace('_', ' ')} by {e.actor} at {e.at:%H:%M}"
                         for e in changes[:5])
        super().__init__(f"the conversation changed since you started: {what}; "
                         "read it and send again")


# Kinds that change what a member replying should have read first.
CONVERSATION_KINDS = ("mention_added", "replied", "note_added", "approval_requested",
                      "reopened")


def load(store: SqlStore, conn: Any, case_id: str) -> dict[str, Any]:
    case = store.get_case(conn, case_id, for_update=True)
    if case is None:
        raise CaseNotFound(f"no case {case_id!r}")
    return case


def commit(store: SqlStore, conn: Any, case: dict[str, Any], *events: Event) -> dict[str, Any]:
    """Fold `events` into the case and write log and projection together; returns the case."""
    updated = case
    for e in events:
        updated = projection.apply(updated, e)
    if not store.update_case(conn, updated, case["version"]):
        raise CaseError("the case changed while you were working on it; reload and try again")
    store.append(conn, list(events))
    return updated


def acting(store: SqlStore, conn: Any, member_id: str) -> Member:
    """The acting member's record; someone not in the organisation may do nothing."""
    member = store.member(conn, member_id) if member_id else None
    if member is None:
        raise PermissionDenied(f"{member_id or 'nobody'} is not a member of this workspace",
                               member=member_id or "")
    return member


def authorize(store: SqlStore, conn: Any, member_id: str, action: str,
              case: dict[str, Any] | None = None) -> Member:
    """The acting member, once the policy allows `action` (on `case`, when given: a case out
    of their sight raises access.NotVisible, a PermissionDenied)."""
    member = acting(store, conn, member_id)
    if case is None:
        permissions.check((member.role,), action, member=member.id)
    else:
        access.check(store.load_org(conn), member, case, action)
    return member


def policy(store: SqlStore, conn: Any) -> engagement.Policy:
    return engagement.load_policy(store.document(conn, engagement.POLICY_DOCUMENT))
