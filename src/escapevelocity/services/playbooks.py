"""Playbook versions as a workflow: save, list, activate, and the approval of an activation.

This module is the one place these rules live; the CLI (`ev playbook save/versions/activate/
approve/reject`) and the web page only translate:

- Every save is a new version with its author, time and change note. The source is compiled
  first: a broken playbook raises PlaybookError (file, line, rule) and is never stored, so it
  can never replace the active version.
- Only members whose role may EDIT_PLAYBOOK (domain/permissions) save and activate versions.
- Activating version N needs approval when `activation_approval(active, N)` names a team or a
  role: the request, the approval or rejection (with a note) and the activation are events in
  the stream "playbook:<N>", and N becomes active only when a member of that team or role who
  is neither N's author nor the requester approves.
- An approval is given for replacing the version that was active at the request: if another
  version was activated meanwhile, approving is refused and the activation must be requested
  again (the approver would otherwise sign off a change they did not see).

`Workspace.save_playbook` (seed, drills, tests) goes through `install`: the operator's setup
path, which records the same events but checks no member and asks no approval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import Member, Organisation
from escapevelocity.domain.playbook import Playbook, activation_approval, compile_playbook

MAX_SOURCE_BYTES = 512_000  # a playbook is a document, not a data dump
MAX_NOTE = 2_000

ACTIVE, PENDING, REJECTED, RETIRED, DRAFT = "active", "pending", "rejected", "retired", "draft"


class PlaybookWorkflowError(Exception):
    """A step that cannot be taken now, with a message a person can act on."""


@dataclass(frozen=True, slots=True)
class Version:
    """One saved version and where it stands, folded from its row and its event stream."""

    number: int
    name: str
    author: str
    note: str
    created_at: datetime
    active: bool
    status: str  # active, pending, rejected, retired (was active once) or draft
    approver: str = ""  # the team or role asked to approve (the latest request)
    requested_by: str = ""
    requested_at: datetime | None = None
    request_note: str = ""
    replaces: int | None = None  # the version active when activation was requested
    decided_by: str = ""  # who approved or rejected the latest request
    decided_at: datetime | None = None
    decision_note: str = ""
    activated_by: str = ""  # the latest activation
    activated_at: datetime | None = None
    approved_by: str = ""  # the approver of the latest activation, if it needed one
    history: tuple[Event, ...] = ()

    @property
    def stream(self) -> str:
        return stream(self.number)


@dataclass(frozen=True, slots=True)
class Outcome:
    version: int
    status: str  # active (activated), pending (approval requested) or draft (only saved)
    approver: str = ""
    message: str = ""


def stream(version: int) -> str:
    return ev.playbook_stream(version)


# --- pure rules ---------------------------------------------------------------------------------

def may_approve(member: Member, approver: str) -> bool:
    """A member approves for a team they belong to or a role they hold."""
    return bool(approver) and (approver in member.teams or member.role == approver)


def approvers(org: Organisation, approver: str, *, excluding: set[str]) -> list[str]:
    return [m.id for m in org.members if may_approve(m, approver) and m.id not in excluding]


def fold(row: dict[str, Any], events: list[Event]) -> Version:
    """A version's state from its row (authoritative for `active`) and its events, in order."""
    req: dict[str, Any] = {}
    decided: dict[str, Any] = {}
    activated: dict[str, Any] = {}
    pending = rejected = False
    for e in events:
        if e.kind == ev.PLAYBOOK_REQUESTED:
            req = {"approver": e.data.get("approver", ""), "requested_by": e.actor,
                   "requested_at": e.at, "request_note": e.data.get("note", ""),
                   "replaces": e.data.get("replaces")}
            decided = {}
            pending, rejected = True, False
        elif e.kind == ev.PLAYBOOK_APPROVED:
            decided = {"decided_by": e.actor, "decided_at": e.at,
                       "decision_note": e.data.get("note", "")}
            pending = False
        elif e.kind == ev.PLAYBOOK_REJECTED:
            decided = {"decided_by": e.actor, "decided_at": e.at,
                       "decision_note": e.data.get("note", "")}
            pending, rejected = False, True
        elif e.kind == ev.PLAYBOOK_ACTIVATED:
            activated = {"activated_by": e.actor, "activated_at": e.at,
                         "approved_by": e.data.get("approved_by", "")}
            pending = False
    active = bool(row["active"])
    status = (ACTIVE if active else PENDING if pending else REJECTED if rejected
              else RETIRED if activated else DRAFT)
    return Version(number=row["version"], name=row["name"], author=row["author"],
                   note=row["note"] or "", created_at=row["created_at"], active=active,
                   status=status, history=tuple(events), **req, **decided, **activated)


# --- reading ------------------------------------------------------------------------------------

def versions(store: SqlStore) -> list[Version]:
    """Every version, newest first."""
    with store.begin() as tx:
        return _versions(tx)[::-1]


def version(store: SqlStore, number: int) -> tuple[Version, str]:
    """One version and its source."""
    with store.begin() as tx:
        found = {v.number: v for v in _versions(tx)}.get(number)
        if found is None:
            raise PlaybookWorkflowError(_no_such(number, found_any=bool(_versions(tx))))
        return found, tx.playbooks.source(number) or ""


def _versions(tx: Tx, *, lock: bool = False) -> list[Version]:
    rows = tx.playbooks.versions(lock=lock)
    logs = tx.events.streams([stream(r["version"]) for r in rows])
    return [fold(r, logs.get(stream(r["version"]), [])) for r in rows]


def _no_such(number: int, *, found_any: bool) -> str:
    hint = "list them with `ev playbook versions`" if found_any else "none is saved yet"
    return f"there is no playbook version {number}; {hint}"


# --- commands -----------------------------------------------------------------------------------

def _compile(source: str, origin: str) -> Playbook:
    if not source.strip():
        raise PlaybookWorkflowError("the playbook is empty")
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise PlaybookWorkflowError(f"a playbook is limited to {MAX_SOURCE_BYTES:,} bytes")
    return compile_playbook(source, version="draft", source=origin)  # raises PlaybookError


def _note(note: str, *, required: str = "") -> str:
    note = (note or "").strip()
    if required and not note:
        raise PlaybookWorkflowError(required)
    if len(note) > MAX_NOTE:
        raise PlaybookWorkflowError(f"the note is {len(note)} characters; the limit is "
                                    f"{MAX_NOTE}")
    return note


def _editor(tx: Tx, member_id: str) -> Member:
    from escapevelocity.services.casetx import acting

    member = acting(tx, member_id)
    perm.check((member.role,), perm.EDIT_PLAYBOOK, member=member.id)
    return member


def _insert(tx: Tx, clock: Clock, playbook: Playbook, source: str,
            author: str, note: str) -> int:
    now = clock.now()
    number = tx.playbooks.save(name=playbook.name, source=source, author=author,
                                 note=note, at=now, activate=False)
    tx.events.append([ev.PlaybookSaved(stream=stream(number), at=now, actor=author,
                                       name=playbook.name, note=note)])
    return number


def _make_active(tx: Tx, clock: Clock, number: int, actor: str,
                 previous: int | None, approved_by: str = "") -> None:
    tx.playbooks.activate(number)
    tx.events.append([ev.PlaybookActivated(stream=stream(number), at=clock.now(), actor=actor,
                                           previous=previous, approved_by=approved_by)])


def install(store: SqlStore, clock: Clock, source: str, *, author: str, note: str = "",
            activate: bool = True) -> int:
    """The operator's setup path (seed, drills, tests): save and, by default, activate at once,
    with no member check and no approval. A broken playbook raises PlaybookError."""
    playbook = compile_playbook(source, version="draft")
    with store.begin() as tx:
        current = tx.playbooks.active()
        number = _insert(tx, clock, playbook, source, author, note)
        if activate:
            _make_active(tx, clock, number, author, current[0] if current else None)
    return number


def save(store: SqlStore, clock: Clock, source: str, *, member: str, note: str,
         activate: bool = False, origin: str = "draft") -> Outcome:
    """Save `source` as a new version by `member`; with `activate`, also activate it (or ask
    for approval) in the same transaction, so a refused activation saves nothing either.
    `origin` names the file in error messages."""
    playbook = _compile(source, origin)
    note = _note(note, required="say what changed: a version needs a change note")
    with store.begin_write() as tx:  # the versions are read locked (Store.begin_write)
        who = _editor(tx, member)
        rows = tx.playbooks.versions(lock=True)
        if rows and tx.playbooks.source(rows[-1]["version"]) == source:
            raise PlaybookWorkflowError(f"nothing changed: this is the text of version "
                                        f"{rows[-1]['version']}")
        number = _insert(tx, clock, playbook, source, who.id, note)
        if not activate:
            return Outcome(number, DRAFT, message=f"saved version {number}")
        return _activate(tx, clock, who, number, note="")


def activate(store: SqlStore, clock: Clock, number: int, *, member: str,
             note: str = "") -> Outcome:
    """Activate version `number` now, or ask for the approval its activation needs."""
    note = _note(note)
    with store.begin_write() as tx:  # the versions are read locked (Store.begin_write)
        who = _editor(tx, member)
        return _activate(tx, clock, who, number, note=note)


def _activate(tx: Tx, clock: Clock, who: Member, number: int, *,
              note: str) -> Outcome:
    found = {v.number: v for v in _versions(tx, lock=True)}
    target = found.get(number)
    if target is None:
        raise PlaybookWorkflowError(_no_such(number, found_any=bool(found)))
    if target.active:
        raise PlaybookWorkflowError(f"version {number} is already the active playbook")
    if target.status == PENDING:
        raise PlaybookWorkflowError(
            f"version {number} already awaits approval by {target.approver} (asked by "
            f"{target.requested_by} at {target.requested_at:%Y-%m-%d %H:%M} UTC)")
    current = next((v for v in found.values() if v.active), None)
    new = _compile(tx.playbooks.source(number) or "", f"version {number}")
    old = (compile_playbook(tx.playbooks.source(current.number) or "",
                            version=f"v{current.number}", stored=True) if current else None)
    needed = activation_approval(old, new)
    previous = current.number if current else None
    if not needed:
        _make_active(tx, clock, number, who.id, previous)
        return Outcome(number, ACTIVE, message=f"version {number} is now the active playbook")
    org = tx.org.load()
    can = approvers(org, needed, excluding={who.id, target.author})
    if not can:
        raise PlaybookWorkflowError(
            f"activating version {number} needs approval by {needed!r}, but no member other "
            f"than {who.id} and the author {target.author} is in that team or holds that role; "
            "add one to the organisation first")
    tx.events.append([ev.PlaybookRequested(stream=stream(number), at=clock.now(), actor=who.id,
                                           approver=needed, replaces=previous, note=note,
                                           approvers=list(can))])
    return Outcome(number, PENDING, needed,
                   f"version {number} awaits approval by {needed} ({', '.join(can)})")


def _decider(tx: Tx, member_id: str, number: int, verb: str
             ) -> tuple[Member, Version, Version | None]:
    from escapevelocity.services.casetx import acting

    who = acting(tx, member_id)
    found = {v.number: v for v in _versions(tx, lock=True)}
    target = found.get(number)
    if target is None:
        raise PlaybookWorkflowError(_no_such(number, found_any=bool(found)))
    if target.status != PENDING:
        raise PlaybookWorkflowError(f"version {number} is not awaiting approval (it is "
                                    f"{target.status}); its activation must be requested "
                                    "first")
    if not may_approve(who, target.approver):
        raise perm.PermissionDenied(
            f"{who.id} may not {verb} version {number}: it needs a member of the team or role "
            f"{target.approver!r}", action=perm.APPROVE, member=who.id)
    if who.id in (target.author, target.requested_by):
        raise perm.PermissionDenied(f"{who.id} may not {verb} version {number}: nobody "
                                    "approves a version they wrote or asked to activate",
                                    action=perm.APPROVE, member=who.id)
    current = next((v for v in found.values() if v.active), None)
    return who, target, current


def approve(store: SqlStore, clock: Clock, number: int, *, member: str,
            note: str = "") -> Outcome:
    """Approve the pending activation of `number`; it becomes active in the same transaction."""
    note = _note(note)
    with store.begin_write() as tx:
        who, target, current = _decider(tx, member, number, "approve")
        now_active = current.number if current else None
        if now_active != target.replaces:
            raise PlaybookWorkflowError(
                f"the active playbook changed since the request (it was version "
                f"{target.replaces}, now {now_active}); reject this request and ask again so "
                "the approver sees the change against the current version")
        now = clock.now()
        tx.events.append([ev.PlaybookApproved(stream=stream(number), at=now, actor=who.id,
                                              note=note, approver=target.approver)])
        _make_active(tx, clock, number, who.id, now_active, approved_by=who.id)
        return Outcome(number, ACTIVE, target.approver,
                       f"approved: version {number} is now the active playbook")


def reject(store: SqlStore, clock: Clock, number: int, *, member: str, note: str) -> Outcome:
    """Refuse the pending activation of `number`, saying why; the active version stays."""
    note = _note(note, required="say why: a rejection needs a note for the author")
    with store.begin_write() as tx:
        who, target, _ = _decider(tx, member, number, "reject")
        tx.events.append([ev.PlaybookRejected(stream=stream(number), at=clock.now(),
                                              actor=who.id, note=note,
                                              approver=target.approver)])
        return Outcome(number, REJECTED, target.approver, f"rejected version {number}")
