"""Simulated responders for drills: the team works the sandbox inbox through the real commands.

Each member on duty takes the most urgent open case of their teams that needs an answer
(priority, then SLA due), holds the claim for the handling time of its priority, then replies
and resolves through services/cases (the same write path people use). A reply that needs an
approval is held as a draft by services/approvals for the approver on call, who approves it
(which sends it) when free; approvers on call work only once they were paged, so a late or
missing page shows up as slow approvals and SLA breaches.
When the incident reaches a crisis level, PR drafts a holding statement that Legal approves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from escapevelocity.domain import events as ev
from escapevelocity.domain.case_errors import ClaimTaken
from escapevelocity.domain.clock import Clock, utc
from escapevelocity.domain.org import Organisation
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.drill.scenario import Responders as Spec
from escapevelocity.services import approvals, cases
from escapevelocity.services.casetx import CaseError
from escapevelocity.services.crisis import CrisisMode

PRIORITY = {"p1": 0, "p2": 1, "p3": 2, "p4": 3}
REPLY = "Thanks for telling us. We're looking into this now and will update you here."
STATEMENT = ("Holding statement: we are aware of reports and are investigating urgently. "
             "Customer safety comes first; we will share an update within the hour.")


@dataclass
class Approval:
    case_id: str
    draft: str
    approver: str  # who it was routed to (the rotation's member on call)
    member: str  # who drafted the reply
    requested_at: datetime
    granted_at: datetime | None = None
    by: str | None = None


@dataclass
class _Work:
    case_id: str
    until: datetime
    granting: Approval | None = None  # an approver's work: the approval being given


@dataclass
class SimulatedTeam:
    store: Any
    clock: Clock
    org: Organisation
    spec: Spec
    mode: CrisisMode
    approvals: list[Approval] = field(default_factory=list)
    replies: int = 0
    failures: int = 0
    statement_at: datetime | None = None
    _busy: dict[str, _Work] = field(default_factory=dict)
    _taken: set[str] = field(default_factory=set)
    _statement_due: datetime | None = None
    _waiting: dict[str, Approval] = field(default_factory=dict)  # case id -> pending approval

    def __post_init__(self) -> None:
        approver_roles = {"approver", "strategist", "analyst"}
        self.on_duty = list(self.spec.on_duty) or [
            m.id for m in self.org.members if m.role not in approver_roles]
        self.paged_only = list(self.spec.paged_only)
        self.members = {m.id: m for m in self.org.members}
        self.legal = [m.id for m in self.org.members if "legal" in m.teams]

    # --- availability ------------------------------------------------------------------------

    def paged(self) -> set[str]:
        return {p.member for p in getattr(self.mode.pager, "pages", ())}

    def working(self) -> list[str]:
        paged = self.paged()
        return self.on_duty + [m for m in self.paged_only if m in paged and m not in self.on_duty]

    # --- the step ----------------------------------------------------------------------------

    def step(self, now: datetime) -> None:
        for member, work in list(self._busy.items()):
            if work.until <= now:
                del self._busy[member]
                self._finish(member, work, now)
        working = self.working()
        self._statement(now, working)
        idle = [m for m in working if m not in self._busy]
        if idle:
            self._approve(idle, now)
        free = [m for m in idle if m not in self._busy]
        if free:
            self._pick(free, now)

    def _finish(self, member: str, work: _Work, now: datetime) -> None:
        try:
            if work.granting is not None:
                a = work.granting
                approvals.approve(self.store, self.clock, a.case_id, member, a.draft)
                a.granted_at, a.by = now, member
                del self._waiting[a.case_id]
                self.replies += 1
                cases.resolve(self.store, self.clock, a.case_id, a.member, note="drill")
                return
            sent = cases.reply(self.store, self.clock, work.case_id, member, REPLY,
                               template="drill")
            if sent.kind == ev.APPROVAL_REQUESTED:  # held as a draft for the approver on call
                a = Approval(work.case_id, sent.data["draft"], sent.data["approver"], member, now)
                self.approvals.append(a)
                self._waiting[work.case_id] = a
                return
            self.replies += 1
            cases.resolve(self.store, self.clock, work.case_id, member, note="drill")
        except (CaseError, ClaimTaken, PermissionDenied):
            self.failures += 1  # the case changed under us, or the rules say no: move on
        finally:
            self._taken.discard(work.case_id)

    def _approve(self, idle: list[str], now: datetime) -> None:
        """Approvers work the drafts routed to them (the rotation escalates the ones they miss:
        approvals.tick, run by the drill)."""
        with self.store.begin() as tx:
            rows = tx.cases.pending_approvals(idle)
        for case_id, approver, draft in rows:
            if approver in self._busy:
                continue
            a = self._waiting.get(case_id)
            if a is None:  # a draft from before this run, or from a person: take it anyway
                a = self._waiting[case_id] = Approval(case_id, draft, approver, "", now)
            a.draft = draft
            self._busy[approver] = _Work(case_id, now + timedelta(
                minutes=self.spec.approval_minutes), granting=a)

    def _statement(self, now: datetime, working: list[str]) -> None:
        mode = self.mode
        if self.statement_at is not None or mode.state.incident is None:
            return
        if not mode.level.startswith("crisis"):
            return
        if self._statement_due is None:
            self._statement_due = now + timedelta(minutes=self.spec.statement_after_minutes)
        legal = [m for m in self.legal if m in working]
        if now >= self._statement_due and legal:
            mode.note(STATEMENT, by=legal[0], kind="statement")
            self.statement_at = now

    def _pick(self, free: list[str], now: datetime) -> None:
        by_teams: dict[tuple[str, ...], list[str]] = {}
        surge = self.mode.level.startswith("crisis")
        for member in free:
            teams = set(self.members[member].teams)
            if surge and member in self.spec.crisis_helpers:
                teams.add("pr")  # surge staffing: the crisis track is PR's
            by_teams.setdefault(tuple(sorted(teams)), []).append(member)
        for teams, members in by_teams.items():
            with self.store.begin() as tx:
                rows = [r for r in tx.cases.workable(teams, 4 * len(members) + len(self._taken))
                        if r.id not in self._taken]
            for member in members:
                if not rows:
                    break
                own = [r for r in rows if r.assignee == member]
                row = (own or rows)[0]
                rows.remove(row)
                self._start(member, row, now)

    def _start(self, member: str, row: Any, now: datetime) -> None:
        minutes = self.spec.handle_minutes.get(row.priority, 5)
        try:
            cases.claim(self.store, self.clock, row.id, member,
                        lease=timedelta(minutes=minutes + 5))
        except (CaseError, ClaimTaken, PermissionDenied):
            self.failures += 1
            return
        self._taken.add(row.id)
        self._busy[member] = _Work(row.id, now + timedelta(minutes=minutes))

    def summary(self) -> dict[str, Any]:
        granted = [a for a in self.approvals if a.granted_at is not None]
        waits = sorted((a.granted_at - a.requested_at).total_seconds() / 60 for a in granted)
        return {"replies": self.replies, "approvals_requested": len(self.approvals),
                "approvals_granted": len(granted), "approval_wait_minutes": waits,
                "failures": self.failures,
                "statement_at": utc(self.statement_at) if self.statement_at else None}
