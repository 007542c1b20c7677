"""Governance commands: the readiness checklist, spoke requests and approval, shadow drafts,
policies and acknowledgements, drill scores. The shell around domain/governance.

Each command checks the acting member, appends its event to a "governance:…" stream and, in
the same transaction, refolds the `Program` projection kept as the "governance" document
(which the organisation store overlays on every load, so routing and the access policy see a
spoke's mode as soon as the transaction commits). `rebuild` recomputes it from the log alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.domain import access, governance
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.case_errors import CaseError, CaseNotFound
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.domain.governance import Program
from escapevelocity.domain.org import Member
from escapevelocity.services.casetx import acting

MAX_DRAFT = 2_000
MAX_FIELD = 500


class GovernanceError(ValueError):
    """A governance command that cannot be done; the message says why (pages answer 409)."""


def program_in(tx: Tx) -> Program:
    return governance.decode(tx.documents.get(governance.DOCUMENT))


def program(store: SqlStore) -> Program:
    with store.begin() as tx:
        return program_in(tx)


def _record(tx: Tx, *events: Event) -> Program:
    """Append and refold the projection in the same transaction."""
    tx.events.append(list(events))
    p = program_in(tx)
    for e in events:
        governance.apply(p, e)
    tx.documents.put(governance.DOCUMENT, governance.encode(p), events[-1].at)
    return p


def rebuild(store: SqlStore, clock: Clock) -> Program:
    """The projection from the log alone."""
    with store.begin() as tx:
        p = governance.replay(tx.events.after(0, governance.KINDS, limit=1_000_000))
        tx.documents.put(governance.DOCUMENT, governance.encode(p), clock.now())
        return p


def _configurer(tx: Tx, member_id: str) -> Member:
    who = acting(tx, member_id)
    perm.check((who.role,), perm.CONFIGURE, member=who.id)
    return who


def _text(value: str, what: str, limit: int = MAX_FIELD) -> str:
    value = " ".join((value or "").split())
    if len(value) > limit:
        raise GovernanceError(f"{what} is {len(value)} characters; the limit is {limit}")
    return value


# --- readiness -------------------------------------------------------------------------------

def save_checklist(store: SqlStore, clock: Clock, member: str, items: list[dict[str, str]],
                   note: str = "") -> int:
    """A new version of the hub's readiness checklist; returns its version."""
    checked = governance.check_items(items)
    with store.begin() as tx:
        _configurer(tx, member)
        version = program_in(tx).checklist_version + 1
        _record(tx, ev.ChecklistSaved(
            stream=ev.GOVERNANCE_PREFIX + "checklist", at=clock.now(), actor=member,
            version=version, note=_text(note, "the note"),
            items=[{"id": i.id, "text": i.text} for i in checked]))
    return version


def request_spoke(store: SqlStore, clock: Clock, member: str, *, team: str, name: str,
                  hub: str, unit: str = "", reason: str = "",
                  members: list[str] | None = None) -> governance.Spoke:
    """A business unit asks for a spoke of its own. It exists at once, in shadow mode: its
    members see what they would get and draft, and nothing they write is sent."""
    team = team.strip().lower()
    if not governance.ID_RE.match(team):
        raise GovernanceError(f"team id {team!r}: use a-z, 0-9, '-' or '_' (up to 32)")
    name = _text(name, "the name", 80) or team
    with store.begin() as tx:
        who = acting(tx, member)
        org = tx.org.load()
        if org.team(team) is not None or team in program_in(tx).spokes:
            raise GovernanceError(f"team {team} already exists")
        hub_team = org.team(hub)
        if hub_team is None or hub_team.kind != "hub":
            raise GovernanceError(f"{hub!r} is not a hub")
        staff = list(dict.fromkeys([who.id, *(members or [])]))
        unknown = [m for m in staff if org.member(m) is None]
        if unknown:
            raise GovernanceError(f"unknown members: {', '.join(unknown)}")
        p = _record(tx, ev.SpokeRequested(
            stream=ev.GOVERNANCE_PREFIX + "spoke:" + team, at=clock.now(), actor=who.id,
            team=team, name=name, hub=hub, unit=_text(unit, "the business unit", 80),
            reason=_text(reason, "the reason"), members=staff))
        return p.spokes[team]


def _spoke(p: Program, team: str) -> governance.Spoke:
    s = p.spokes.get(team)
    if s is None:
        raise GovernanceError(f"no spoke {team!r} was requested")
    return s


def complete_item(store: SqlStore, clock: Clock, member: str, team: str, item: str,
                  evidence: str = "") -> None:
    """The spoke (or the hub) records that a checklist item is met, with its evidence."""
    with store.begin() as tx:
        who = acting(tx, member)
        p = program_in(tx)
        s = _spoke(p, team)
        if who.id not in s.members and not perm.allowed((who.role,), perm.CONFIGURE):
            raise perm.PermissionDenied(f"{who.id} is not on spoke {team}", member=who.id)
        if item not in {i.id for i in p.items()}:
            raise GovernanceError(f"the checklist has no item {item!r}")
        if s.mode == governance.LIVE:
            raise GovernanceError(f"{team} is already live")
        _record(tx, ev.ReadinessItemDone(
            stream=ev.GOVERNANCE_PREFIX + "spoke:" + team, at=clock.now(), actor=who.id,
            team=team, item=item, evidence=_text(evidence, "the evidence")))


def approve_spoke(store: SqlStore, clock: Clock, member: str, team: str, note: str = "") -> None:
    """The hub approves a completed checklist: the spoke gets live routing and reply rights."""
    with store.begin() as tx:
        who = _configurer(tx, member)
        p = program_in(tx)
        why = governance.approvable(p, team, who)
        if why:
            raise GovernanceError(why)
        _record(tx, ev.SpokeApproved(
            stream=ev.GOVERNANCE_PREFIX + "spoke:" + team, at=clock.now(), actor=who.id,
            team=team, note=_text(note, "the note"), checklist_version=p.checklist_version))


@dataclass(frozen=True)
class ShadowCase:
    """A case the spoke would have got, and the drafts its members wrote for it."""

    id: str
    title: str
    routed_to: str | None
    at: datetime
    drafts: list[tuple[str, str]]  # (member, text)


def shadow_queue(store: SqlStore, team: str, limit: int = 100) -> list[ShadowCase]:
    """What the playbook decided for the shadow spoke since it was requested: the cases it
    would have got (its hub answered them)."""
    with store.begin() as tx:
        s = _spoke(program_in(tx), team)
        decided = [e for e in tx.events.of_kinds([ev.DECIDED], since=s.requested_at, limit=5000)
                   if (e.decision or {}).get("team") == team][:limit]
        drafts: dict[str, list[tuple[str, str]]] = {}
        for e in reversed(tx.events.stream(ev.GOVERNANCE_PREFIX + "spoke:" + team)):
            if isinstance(e, ev.ShadowDrafted):
                drafts.setdefault(e.case, []).append((e.actor, e.text))
        out, seen = [], set()
        for e in decided:
            if e.stream in seen:
                continue
            seen.add(e.stream)
            case = tx.cases.get(e.stream)
            out.append(ShadowCase(e.stream, case.title if case else "",
                                  case.team if case else None, e.at,
                                  drafts.get(e.stream, [])))
        return out


def shadow_draft(store: SqlStore, clock: Clock, member: str, team: str, case_id: str,
                 text: str) -> Event:
    """Record the reply a shadow spoke's member would have sent. Nothing is sent: the draft
    lives in the spoke's governance stream, not on the case."""
    text = text.strip()
    if not text or len(text) > MAX_DRAFT:
        raise GovernanceError(f"a draft has 1 to {MAX_DRAFT} characters")
    with store.begin() as tx:
        who = acting(tx, member)
        s = _spoke(program_in(tx), team)
        if who.id not in s.members:
            raise perm.PermissionDenied(f"{who.id} is not on spoke {team}", member=who.id)
        if s.mode != governance.SHADOW:
            raise GovernanceError(f"{team} is live: answer from the inbox")
        if tx.cases.get(case_id) is None:
            raise CaseNotFound(f"no case {case_id!r}")
        if not any(isinstance(e, ev.Decided) and (e.decision or {}).get("team") == team
                   for e in tx.events.stream(case_id)):
            raise access.NotVisible(f"no such case in {team}'s shadow queue", member=who.id)
        event = ev.ShadowDrafted(stream=ev.GOVERNANCE_PREFIX + "spoke:" + team, at=clock.now(),
                                 actor=who.id, team=team, case=case_id, text=text)
        _record(tx, event)
        return event


# --- training --------------------------------------------------------------------------------

def publish_policy(store: SqlStore, clock: Clock, member: str, policy: str, title: str,
                   text: str) -> int:
    """A new version of a policy; everyone must acknowledge it again. Returns the version."""
    policy = policy.strip().lower()
    if not governance.ID_RE.match(policy):
        raise GovernanceError(f"policy id {policy!r}: use a-z, 0-9, '-' or '_' (up to 32)")
    text = (text or "").strip()
    if not text or len(text) > governance.MAX_TEXT:
        raise GovernanceError(f"a policy text has 1 to {governance.MAX_TEXT} characters")
    with store.begin() as tx:
        _configurer(tx, member)
        current = program_in(tx).policies.get(policy)
        version = (current.version if current else 0) + 1
        _record(tx, ev.PolicyPublished(
            stream=ev.GOVERNANCE_PREFIX + "policy:" + policy, at=clock.now(), actor=member,
            policy=policy, version=version, title=_text(title, "the title", 120), text=text))
    return version


def acknowledge(store: SqlStore, clock: Clock, member: str, policy: str) -> int:
    """The member has read the current version of the policy."""
    with store.begin() as tx:
        who = acting(tx, member)
        current = program_in(tx).policies.get(policy)
        if current is None:
            raise GovernanceError(f"no policy {policy!r}")
        _record(tx, ev.PolicyAcknowledged(
            stream=ev.GOVERNANCE_PREFIX + "member:" + who.id, at=clock.now(), actor=who.id,
            policy=policy, version=current.version))
        return current.version


def set_min_score(store: SqlStore, clock: Clock, member: str, score: int) -> None:
    if not 0 <= score <= 100:
        raise GovernanceError("the pass mark is between 0 and 100")
    with store.begin() as tx:
        _configurer(tx, member)
        _record(tx, ev.TrainingRuleSet(stream=ev.GOVERNANCE_PREFIX + "training",
                                       at=clock.now(), actor=member, min_drill_score=score))


def record_drill_score(store: SqlStore, clock: Clock, member: str, drill: str, score: float,
                       details: dict[str, Any] | None = None, *, actor: str = ev.SYSTEM) -> bool:
    """A member's score in a drill played by people, recorded in the live workspace (the
    drill ran in its sandbox). Returns whether it passed."""
    with store.begin() as tx:
        if tx.org.member(member) is None:
            raise GovernanceError(f"{member} is not a member of this workspace")
        p = program_in(tx)
        _record(tx, ev.DrillScored(
            stream=ev.GOVERNANCE_PREFIX + "member:" + member, at=clock.now(), actor=actor,
            member=member, drill=drill[:80], score=round(float(score), 1),
            min_score=p.min_score, details=details or {}))
        return score >= p.min_score


def training_gaps(store: SqlStore, member: str) -> list[str]:
    with store.begin() as tx:
        return governance.training_gaps(program_in(tx), member)


__all__ = ["CaseError", "GovernanceError", "ShadowCase", "acknowledge", "approve_spoke",
           "complete_item", "program", "program_in", "publish_policy", "rebuild",
           "record_drill_score", "request_spoke", "save_checklist", "set_min_score",
           "shadow_draft", "shadow_queue", "training_gaps"]
