"""Working notes on a case: internal notes with @mentions, tags and flags, the CRM link, and
the audit trail (every event, its actor and time).

Each change is one event in one transaction, checked against the role matrix like every other
case command. Notes are internal: they never leave the workspace.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import engagement, yamlsafe
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.services.casetx import CaseError, authorize, commit, load

MAX_NOTE_CHARS = 5_000
CUSTOMERS_DOCUMENT = "customers"


# --- notes -----------------------------------------------------------------------------------

def note(store: SqlStore, clock: Clock, case_id: str, member: str, text: str) -> Event:
    """An internal note; colleagues @mentioned in it (by member id) are listed in the event so
    their mention inbox finds it."""
    text = text.strip()
    if not text:
        raise CaseError("the note is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise CaseError(f"the note is {len(text)} characters; the limit is {MAX_NOTE_CHARS}")
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.NOTE, case)
        known = [m.id for m in tx.org.load().members]
        event = ev.NoteAdded(stream=case_id, at=clock.now(), actor=member, text=text,
                             mentions=engagement.mentions(text, known))
        commit(tx, case, event)
        return event


def mentions_of(store: SqlStore, member: str, *, since: datetime | None = None,
                limit: int = 100) -> list[Event]:
    """Notes that @mention `member`, newest first."""
    with store.begin() as tx:
        authorize(tx, member, perm.VIEW)
        notes = tx.events.of_kinds((ev.NOTE_ADDED,), since=since, limit=5_000)
    return [e for e in notes if member in e.data.get("mentions", ())][:limit]


# --- tags and flags --------------------------------------------------------------------------

_LABELS: dict[str, type[ev.TagsChanged] | type[ev.FlagsChanged]] = {
    ev.TAGS_CHANGED: ev.TagsChanged, ev.FLAGS_CHANGED: ev.FlagsChanged}


def _change(store: SqlStore, clock: Clock, case_id: str, member: str, kind: str,
            add: Iterable[str], remove: Iterable[str]) -> Event | None:
    add, remove = engagement.clean_tags(add), engagement.clean_tags(remove)
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.TAG, case)
        field = "tags" if kind == ev.TAGS_CHANGED else "flags"
        now = set(_split(case.tags if field == "tags" else case.flags))
        add = [t for t in add if t not in now]
        remove = [t for t in remove if t in now]
        if not add and not remove:
            return None  # nothing to change: no event
        if len(now | set(add)) > engagement.MAX_TAGS:
            raise CaseError(f"a case holds at most {engagement.MAX_TAGS} {field}")
        event = _LABELS[kind](stream=case_id, at=clock.now(), actor=member, add=add,
                              remove=remove)
        commit(tx, case, event)
        return event


def _split(value: str) -> list[str]:
    return [x for x in (value or "").split(",") if x]


def tag(store: SqlStore, clock: Clock, case_id: str, member: str, add: Iterable[str] = (),
        remove: Iterable[str] = ()) -> Event | None:
    """Add and remove tags; returns None when nothing changed."""
    return _change(store, clock, case_id, member, ev.TAGS_CHANGED, add, remove)


def flag(store: SqlStore, clock: Clock, case_id: str, member: str, add: Iterable[str] = (),
         remove: Iterable[str] = ()) -> Event | None:
    """Flags are tags that call for attention (pii, vip, escalate)."""
    return _change(store, clock, case_id, member, ev.FLAGS_CHANGED, add, remove)


# --- CRM link by customer list ---------------------------------------------------------------

# A CRM id as the case keeps it (cases.crm_id): one rule for a member's id and the list's.
MAX_CRM_ID = 128


class Customer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    crm_id: str
    name: str = ""
    handles: list[str] = []  # "channel:handle" or a bare handle (any channel)
    lists: list[str] = []  # vip, churn_risk, …


def load_customers(text: str | None) -> list[Customer]:
    data = yamlsafe.load(text) if text else None
    try:
        return msgspec.convert(data or [], list[Customer])
    except msgspec.ValidationError as exc:
        raise ValueError(f"customer list: {exc}") from None


def check_customers(customers: list[Customer]) -> list[Customer]:
    """The list as it may be set: PostgreSQL would refuse a longer crm_id only when a case is
    linked to it (SQLite never), so the list is refused when it is set, on every backend."""
    long = next((c.crm_id for c in customers if len(c.crm_id) > MAX_CRM_ID), None)
    if long is not None:
        raise ValueError(f"customer list: a crm_id is at most {MAX_CRM_ID} characters: "
                         f"{long[:40]!r}… has {len(long)}")
    return customers


def set_customers(store: SqlStore, clock: Clock, member: str, text: str) -> int:
    """Replace the customer list (YAML: crm_id, name, handles, lists)."""
    customers = check_customers(load_customers(text))
    with store.begin() as tx:
        authorize(tx, member, perm.CONFIGURE)
        tx.documents.put(CUSTOMERS_DOCUMENT, text, clock.now())
    return len(customers)


def find_customer(customers: list[Customer], channel: str, handle: str) -> Customer | None:
    """The customer whose handles include this author (pure)."""
    h = handle.lower().lstrip("@")
    for c in customers:
        for known in c.handles:
            ch, _, name = known.lower().rpartition(":")
            if name.lstrip("@") == h and ch in ("", channel):
                return c
    return None


def link_crm(store: SqlStore, clock: Clock, case_id: str, member: str,
             crm_id: str | None = None) -> Event:
    """Link the case to a CRM record: `crm_id` as given (checked against the customer list when
    there is one), or looked up by the case's author."""
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.CRM_LINK, case)
        customers = load_customers(tx.documents.get(CUSTOMERS_DOCUMENT))
        if crm_id is None:
            found = find_customer(customers, case.channel, case.author_handle)
            if found is None:
                raise CaseError(f"{case.author_handle} on {case.channel} is not on the "
                                "customer list; give the CRM id")
            source = "customer list"
        else:
            crm_id = crm_id.strip()
            if not crm_id or len(crm_id) > MAX_CRM_ID:
                raise CaseError(f"a CRM id is 1 to {MAX_CRM_ID} characters")
            found = next((c for c in customers if c.crm_id == crm_id), None)
            if customers and found is None:
                raise CaseError(f"no customer {crm_id!r} on the customer list")
            source = "member"
        record = found or Customer(crm_id=crm_id or "")
        if len(record.crm_id) > MAX_CRM_ID:  # a list set before the rule (check_customers)
            raise CaseError(f"the customer list's crm_id {record.crm_id[:40]!r}… is longer "
                            f"than {MAX_CRM_ID} characters: correct the list")
        event = ev.CrmLinked(stream=case_id, at=clock.now(), actor=member,
                             crm_id=record.crm_id, name=record.name, lists=list(record.lists),
                             source=source)
        commit(tx, case, event)
        return event


# --- audit trail -----------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditEntry:
    seq: int | None
    at: datetime
    actor: str
    kind: str
    summary: str
    data: dict[str, Any]


def audit_trail(store: SqlStore, case_id: str, member: str) -> list[AuditEntry]:
    """Every event of a case in order, with its actor, time and a one-line summary."""
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.AUDIT, case)
        log = tx.events.stream(case_id)
    return [AuditEntry(e.seq, e.at, e.actor, e.kind, summarise(e), e.data) for e in log]


def _clip(text: Any, n: int = 80) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


def summarise(e: Event) -> str:
    """One line a person can read for an event (pure)."""
    d = e.data
    k = e.kind
    lines = {
        ev.OPENED: lambda: f"opened from {d.get('channel')} by {d.get('author')}: "
                           f"{_clip(d.get('title'))}",
        ev.MENTION_ADDED: lambda: "a new message joined the case",
        ev.DECIDED: lambda: "playbook decided track {track}, team {team}, {priority} "
                            "(rule {rule_id})".format(**{k: d["decision"].get(k) for k in (
                                "track", "team", "priority", "rule_id")}),
        ev.ASSIGNED: lambda: f"assigned to {d.get('member') or 'the queue'} of {d.get('team')}",
        ev.CLAIMED: lambda: ("took over the claim" + (f" from {d['from']}" if d.get("from")
                                                        else "") if d.get("override")
                             else "claimed") + f" until {d.get('until', '')[11:16]}",
        ev.RELEASED: lambda: "released the claim",
        ev.REPLIED: lambda: ("replied" + (" (dry run)" if d.get("dry_run") else "")
                             + (f" (approved by {d['approved_by']})"
                                if d.get("approved_by") else "")
                             + f": {_clip(d.get('text'))}"),
        ev.RESOLVED: lambda: "resolved" + (f": {_clip(d['note'])}" if d.get("note") else ""),
        ev.REOPENED: lambda: "reopened",
        ev.NOTE_ADDED: lambda: f"note: {_clip(d.get('text'))}",
        ev.APPROVAL_REQUESTED: lambda: f"reply held for approval by {d.get('approver')} "
                                       f"({'; '.join(d.get('reasons', []))})",
        ev.APPROVAL_ALTERNATIVE: lambda: f"offered an alternative: {_clip(d.get('text'))}",
        ev.APPROVAL_EDITED: lambda: f"edited the draft: {_clip(d.get('text'))}",
        ev.APPROVED: lambda: "approved" + (f": {_clip(d['note'])}" if d.get("note") else ""),
        ev.REJECTED: lambda: f"rejected: {_clip(d.get('note'))}",
        ev.APPROVAL_ESCALATED: lambda: f"approval overdue: escalated from {d.get('from')} "
                                       f"to {d.get('to')}",
        ev.APPROVAL_WITHDRAWN: lambda: "withdrew the draft",
        ev.TAGS_CHANGED: lambda: _changes("tag", d),
        ev.FLAGS_CHANGED: lambda: _changes("flag", d),
        ev.CRM_LINKED: lambda: f"linked to CRM record {d.get('crm_id')}"
                               + (f" ({d['name']})" if d.get("name") else ""),
        ev.FOLLOWUP_SCHEDULED: lambda: f"follow-up ({d.get('ask')}) due {d.get('due', '')[:16]}",
        ev.FOLLOWUP_SENT: lambda: (f"{'would ask (dry run)' if d.get('dry_run') else 'asked'} "
                                   f"for satisfaction{' by ' + d['via'] if d.get('via') else ''}"
                                   f": {_clip(d.get('text'))}"),
        ev.SEND_FAILED: lambda: (f"SEND FAILED ({d.get('what')} by {d.get('via') or 'nothing'}"
                                 f", {d.get('attempts', 0)} tries): {_clip(d.get('error'))}"),
        ev.REPLY_SENT: lambda: (f"reply sent to {d.get('via')} ({d.get('connection')}) as "
                                f"{d.get('network_id')}, {d.get('attempts', 0)} tries"),
        ev.CONFIG_CHANGED: lambda: f"changed {d.get('what')} {d.get('name') or ''}".strip(),
        ev.FOLLOWUP_ANSWERED: lambda: "satisfaction: " + (
            f"{d['csat']}/5" if d.get("csat") is not None else f"thumbs {d.get('thumbs')}"),
        ev.FOLLOWUP_INVITED: lambda: "invited the customer to update the public post",
        ev.FOLLOWUP_CANCELLED: lambda: "follow-up cancelled",
        ev.ANSWER_USED: lambda: (("linked the peer answer " + str(d.get("ref")))
                                 if d.get("linked") else
                                 f"replied with {d.get('source')} answer {d.get('entry')}"
                                 + (" (edited)" if d.get("edited") else "")),
        ev.COMMUNITY_RESOLVED: lambda: f"answered by the community: {_clip(d.get('ref'))}",
        ev.AUTO_REPLIED: lambda: (f"AUTOMATED reply ({d.get('path')}"
                                  + (f" asked by {d['by']}" if d.get("by") else "")
                                  + f", answer {d.get('entry')}, "
                                  f"score {d.get('score')}): {_clip(d.get('text'))}"),
        ev.AUTO_REPLY_WITHDRAWN: lambda: "withdrew the automated reply"
                                         + (f": {_clip(d['note'])}" if d.get("note") else ""),
    }
    try:
        return lines[k]() if k in lines else k.replace("_", " ")
    except (KeyError, TypeError, AttributeError):
        return k.replace("_", " ")


def _changes(word: str, d: dict[str, Any]) -> str:
    parts = [f"+{t}" for t in d.get("add", ())] + [f"-{t}" for t in d.get("remove", ())]
    return f"{word}s {' '.join(parts)}"
