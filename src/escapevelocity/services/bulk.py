"""Bulk actions: assign, tag or resolve many cases at once, with a result per case.

The acting member needs the bulk permission; each case then runs through the same command a
single click would (its own transaction, permission and scope check, claim guard), so a bulk
action can never do what the member could not do case by case. One case failing does not stop
the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.case_errors import ClaimTaken
from escapevelocity.domain.clock import Clock
from escapevelocity.services import annotate, cases
from escapevelocity.services.casetx import CaseError, again_if_changed, authorize

ACTIONS = ("assign", "tag", "untag", "flag", "resolve")
MAX_CASES = 500
__all__ = ["ACTIONS", "MAX_CASES", "Result", "run"]


@dataclass(frozen=True)
class Result:
    case_id: str
    ok: bool
    message: str


def run(store: SqlStore, clock: Clock, member: str, case_ids: Sequence[str], action: str, *,
        to: str | None = None, team: str | None = None, tags: Sequence[str] = (),
        note: str = "", cap: int = MAX_CASES) -> list[Result]:
    """Apply `action` to every case (at most `cap`: the web's "all matching" allows more than
    a hand-ticked list); returns one Result per case id, in order."""
    if action not in ACTIONS:
        raise CaseError(f"unknown bulk action {action!r}; one of {', '.join(ACTIONS)}")
    ids = list(dict.fromkeys(case_ids))
    if len(ids) > cap:
        raise CaseError(f"at most {cap} cases at once; got {len(ids)}")
    if action in ("tag", "untag", "flag") and not tags:
        raise CaseError("give at least one tag")
    with store.begin() as tx:
        authorize(tx, member, perm.BULK)
    out = []
    for case_id in ids:
        try:  # a case written meanwhile (a clock job, a colleague) is read again and retried
            out.append(Result(case_id, True, again_if_changed(
                lambda c=case_id: _one(store, clock, member, c, action, to, team, tags, note))))
        except (CaseError, ClaimTaken, perm.PermissionDenied, ValueError) as exc:
            out.append(Result(case_id, False, str(exc)))
    return out


def _one(store: SqlStore, clock: Clock, member: str, case_id: str, action: str,
         to: str | None, team: str | None, tags: Sequence[str], note: str) -> str:
    """Run `action` on one case through its own command; returns what it did, in words."""
    if action == "assign":
        cases.assign(store, clock, case_id, member, to, team)
        return f"assigned to {to or 'the queue'}"
    if action == "resolve":
        cases.resolve(store, clock, case_id, member, note)
        return "resolved"
    if action == "flag":
        return "flagged" if annotate.flag(store, clock, case_id, member, add=tags) \
            else "already flagged"
    add, remove = (tags, ()) if action == "tag" else ((), tags)
    e = annotate.tag(store, clock, case_id, member, add=add, remove=remove)
    return ("tagged" if action == "tag" else "untagged") if e else "no change"
