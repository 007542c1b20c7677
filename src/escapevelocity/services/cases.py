"""Case commands from people: claim, release, reply, resolve, note.

Every command is one transaction that appends its event and updates the projection with an
optimistic version check; the caller publishes to live views only after it returns (after
commit), so no inbox ever shows a state that was rolled back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from escapevelocity.adapters.store.sql import ClaimTaken, SqlStore
from escapevelocity.domain import cases as projection
from escapevelocity.domain import events as ev
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event

CLAIM_LEASE = timedelta(minutes=10)
MAX_REPLY_CHARS = 2_000


class CaseError(Exception):
    """A command that cannot be carried out, with a message a person can act on."""


class CaseNotFound(CaseError):
    pass


def _load(store: SqlStore, conn: Any, case_id: str) -> dict[str, Any]:
    case = store.get_case(conn, case_id, for_update=True)
    if case is None:
        raise CaseNotFound(f"no case {case_id!r}")
    return case


def _commit(store: SqlStore, conn: Any, case: dict[str, Any], event: Event) -> Event:
    updated = projection.apply(case, event)
    if not store.update_case(conn, updated, case["version"]):
        raise CaseError("the case changed while you were working on it; reload and try again")
    store.append(conn, [event])
    return event


def claim(store: SqlStore, clock: Clock, case_id: str, member: str,
          lease: timedelta = CLAIM_LEASE) -> Event:
    """Take the lease to answer. Of two members claiming at once exactly one wins; the other
    gets ClaimTaken naming the holder."""
    now = clock.now()
    until = now + lease
    with store.begin() as conn:
        if not store.try_claim(conn, case_id, member, until, now):
            case = store.get_case(conn, case_id)
            if case is None:
                raise CaseNotFound(f"no case {case_id!r}")
            raise ClaimTaken(case["claimed_by"], case["claim_until"])
        case = _load(store, conn, case_id)
        return _commit(store, conn, case, Event(case_id, ev.CLAIMED, now, member,
                                                {"until": until.isoformat()}))


def release(store: SqlStore, clock: Clock, case_id: str, member: str) -> Event:
    with store.begin() as conn:
        case = _load(store, conn, case_id)
        if case["claimed_by"] != member:
            raise CaseError("you do not hold the claim on this case")
        return _commit(store, conn, case, Event(case_id, ev.RELEASED, clock.now(), member, {}))


def _holds(case: dict[str, Any], member: str, now: datetime) -> bool:
    return case["claimed_by"] == member and case["claim_until"] is not None and (
        case["claim_until"] >= now)


def reply(store: SqlStore, clock: Clock, case_id: str, member: str, text: str, *,
          template: str = "") -> Event:
    """Send a reply (dry-run: recorded, not posted, until channel adapters exist). Only the
    member holding the claim may reply."""
    text = text.strip()
    if not text:
        raise CaseError("the reply is empty")
    if len(text) > MAX_REPLY_CHARS:
        raise CaseError(f"the reply is {len(text)} characters; the limit is {MAX_REPLY_CHARS}")
    now = clock.now()
    with store.begin() as conn:
        case = _load(store, conn, case_id)
        if case["state"] == "resolved":
            raise CaseError("the case is resolved; reopen it to reply")
        if not _holds(case, member, now):
            holder = case["claimed_by"]
            if holder and holder != member and case["claim_until"] and case["claim_until"] >= now:
                raise ClaimTaken(holder, case["claim_until"])
            raise CaseError("claim the case before replying")
        visibility = case["visibility"]
        return _commit(store, conn, case, Event(case_id, ev.REPLIED, now, member, {
            "text": text, "template": template, "visibility": visibility, "dry_run": True}))


def resolve(store: SqlStore, clock: Clock, case_id: str, member: str, note: str = "") -> Event:
    now = clock.now()
    with store.begin() as conn:
        case = _load(store, conn, case_id)
        if case["state"] == "resolved":
            raise CaseError("the case is already resolved")
        holder = case["claimed_by"]
        if holder and holder != member and case["claim_until"] and case["claim_until"] >= now:
            raise ClaimTaken(holder, case["claim_until"])
        return _commit(store, conn, case, Event(case_id, ev.RESOLVED, now, member,
                                                {"note": note[:MAX_REPLY_CHARS]}))


def rebuild_projection(store: SqlStore) -> int:
    """Recompute every case from the event log alone (the log is the record)."""
    with store.begin() as conn:
        ids = store.all_case_ids(conn)
        cases = [projection.replay(i, store.case_events(conn, i)) for i in ids]
        store.replace_projection(conn, cases)
    return len(cases)
