"""Approvals: a reply that needs approval waits as a draft until an approver on call approves it.

A reply needs approval when the playbook says so (the case's `approval` group: legal, PR, …),
when the member's role or training requires it, or when its text matches the risk list
(domain/engagement.approval_need). `cases.reply` then calls `hold` instead of sending: the draft
goes to the first member of the group's rotation on shift, with the approval SLA. The approver
can edit, approve (which sends, in the same transaction) or reject with a note; the submitter
can offer alternatives or withdraw. `tick` escalates a draft whose SLA ran out to the next
approver in the rotation.

The only events that send a reply are `cases.reply` (when no approval is needed, decided inside
its transaction) and `approve` here: no path sends a reply that needs approval without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.domain import access, engagement, kpis
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.cases import Case
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import Member
from escapevelocity.services.casetx import CaseError, authorize, commit, load, policy

MAX_TEXT = 2_000


@dataclass
class Draft:
    """A draft reply awaiting approval (or decided), folded from the case's events."""

    id: str
    case_id: str
    submitter: str
    group: str
    reasons: list[str]
    text: str  # the current wording: the last edit, else the original
    options: list[str]  # the original, then the submitter's alternatives
    approver: str | None
    due: datetime | None
    state: str = "pending"  # pending / approved / rejected / withdrawn
    template: str = ""
    visibility: str = "public"
    submitted_at: datetime | None = None
    escalations: int = 0
    note: str = ""  # the approver's note on approval or rejection
    history: list[Event] = field(default_factory=list)


def fold_drafts(events: list[Event]) -> list[Draft]:
    """Every draft on a case, oldest first (pure)."""
    drafts: dict[str, Draft] = {}
    for e in events:
        if isinstance(e, ev.ApprovalRequested):
            drafts[e.draft] = Draft(
                id=e.draft, case_id=e.stream, submitter=e.actor, group=e.group,
                reasons=list(e.reasons), text=e.text, options=[e.text], approver=e.approver,
                due=e.due, template=e.template or "", visibility=e.visibility,
                submitted_at=e.at, history=[e])
            continue
        draft = drafts.get(getattr(e, "draft", None) or "")
        if draft is None:
            continue
        draft.history.append(e)
        match e:
            case ev.ApprovalAlternative():
                draft.options.append(e.text)
            case ev.ApprovalEdited():
                draft.text = e.text
            case ev.ApprovalEscalated():
                draft.approver, draft.due = e.to, e.due
                draft.escalations += 1
            case ev.Approved() | ev.Rejected() | ev.ApprovalWithdrawn():
                draft.state = {ev.APPROVED: "approved", ev.REJECTED: "rejected"}.get(
                    e.kind, "withdrawn")
                draft.note = getattr(e, "note", "")
                draft.due = None
                if isinstance(e, ev.Approved):
                    draft.text = e.text
    return list(drafts.values())


def hold(tx: Tx, case: Case, submitter: Member, text: str,
         template: str, need: engagement.ApprovalNeed, now: datetime,
         rules: engagement.Policy) -> Event:
    """Inside `cases.reply`'s transaction: store the reply as a draft for the approver on call."""
    org = tx.org.load()
    order = engagement.rotation(need.group, org, rules)
    approver = engagement.on_call(order, org, now, exclude=[submitter.id])
    if approver is None:
        raise CaseError(f"this reply needs approval ({'; '.join(need.reasons)}) but nobody "
                        f"other than you can approve for {need.group}: ask an admin to set "
                        "the approval rotation")
    due = now + timedelta(minutes=rules.approval_sla_minutes)
    event = ev.ApprovalRequested(
        stream=case.id, at=now, actor=submitter.id,
        draft=f"d{case.version + 1}", text=text, template=template,
        visibility=case.visibility, reasons=list(need.reasons), group=need.group,
        approver=approver, due=due, rotation=order)
    commit(tx, case, event)
    return event


def _pending(tx: Tx, case_id: str, draft_id: str
             ) -> tuple[Case, Draft]:
    case = load(tx, case_id)
    drafts = {d.id: d for d in fold_drafts(tx.events.stream(case_id))}
    draft = drafts.get(draft_id)
    if draft is None:
        raise CaseError(f"no draft {draft_id!r} on this case")
    if draft.state != "pending" or case.approval_draft != draft_id:
        raise CaseError(f"this draft is no longer awaiting approval (it was {draft.state})")
    return case, draft


def _waited(draft: Draft, now: datetime) -> float | None:
    """Minutes the draft waited for its decision (the reports' approval waiting time)."""
    at = getattr(draft, "submitted_at", None)
    return None if at is None else round((now - at).total_seconds() / 60, 2)


def _edited(draft: Draft, final: str | None) -> bool:
    """Whether the approver changed the wording (an edit, or sending another text)."""
    return (any(isinstance(e, ev.ApprovalEdited) for e in draft.history)
            or (final is not None and final != draft.options[0]))


def _approver(tx: Tx, member: str, case: Case,
              draft: Draft) -> Member:
    who = authorize(tx, member, perm.APPROVE, case)
    if who.id == draft.submitter:
        raise perm.PermissionDenied("nobody approves their own reply", action=perm.APPROVE,
                                    member=member)
    order = engagement.rotation(draft.group, tx.org.load(), policy(tx))
    if not engagement.may_approve(who, draft.group, order):
        raise perm.PermissionDenied(f"{member} is not in the approval rotation for "
                                    f"{draft.group} ({', '.join(order)})",
                                    action=perm.APPROVE, member=member)
    return who


def _text(text: str) -> str:
    text = text.strip()
    if not text:
        raise CaseError("the text is empty")
    if len(text) > MAX_TEXT:
        raise CaseError(f"the text is {len(text)} characters; the limit is {MAX_TEXT}")
    return text


def edit(store: SqlStore, clock: Clock, case_id: str, member: str, draft_id: str,
         text: str) -> Event:
    """The approver rewrites the draft before deciding."""
    text = _text(text)
    with store.begin() as tx:
        case, draft = _pending(tx, case_id, draft_id)
        _approver(tx, member, case, draft)
        event = ev.ApprovalEdited(stream=case_id, at=clock.now(), actor=member,
                                  draft=draft_id, text=text)
        commit(tx, case, event)
        return event


def approve(store: SqlStore, clock: Clock, case_id: str, member: str, draft_id: str, *,
            text: str | None = None, choice: int | None = None, note: str = "") -> Event:
    """Approve and send: `text` (an edit made while approving), or option `choice` (0: the
    original, 1…: the submitter's alternatives), or else the current wording. Returns the
    REPLIED event; both events are appended in one transaction."""
    now = clock.now()
    with store.begin() as tx:
        case, draft = _pending(tx, case_id, draft_id)
        _approver(tx, member, case, draft)
        if case.state == "resolved":
            raise CaseError("the case was resolved meanwhile; reject or withdraw the draft")
        if text is not None:
            final = _text(text)
        elif choice is not None:
            if not 0 <= choice < len(draft.options):
                raise CaseError(f"there are {len(draft.options)} options; pick 0 to "
                                f"{len(draft.options) - 1}")
            final = draft.options[choice]
        else:
            final = draft.text
        approved = ev.Approved(
            stream=case_id, at=now, actor=member, draft=draft_id, text=final,
            note=note[:MAX_TEXT], submitter=draft.submitter, waited=_waited(draft, now),
            approval_kind=kpis.approval_kind(draft.reasons, _edited(draft, final)))
        from escapevelocity.services import replies

        way = replies.route(tx, case, now)
        sent = ev.Replied(
            stream=case_id, at=now, actor=draft.submitter, text=final,
            template=draft.template, visibility=draft.visibility, dry_run=way.dry_run,
            draft=draft_id, approved_by=member, edited=final != draft.options[0],
            connection=way.connection or None)
        commit(tx, case, approved, sent)
        return sent


def reject(store: SqlStore, clock: Clock, case_id: str, member: str, draft_id: str,
           note: str) -> Event:
    note = note.strip()
    if not note:
        raise CaseError("say why: a rejection needs a note for the submitter")
    with store.begin() as tx:
        case, draft = _pending(tx, case_id, draft_id)
        _approver(tx, member, case, draft)
        now = clock.now()
        event = ev.Rejected(
            stream=case_id, at=now, actor=member, draft=draft_id, note=note[:MAX_TEXT],
            submitter=draft.submitter, waited=_waited(draft, now),
            approval_kind=kpis.approval_kind(draft.reasons, _edited(draft, None)))
        commit(tx, case, event)
        return event


def offer_alternative(store: SqlStore, clock: Clock, case_id: str, member: str, draft_id: str,
                      text: str) -> Event:
    """The submitter offers another wording for the approver to pick."""
    text = _text(text)
    with store.begin() as tx:
        case, draft = _pending(tx, case_id, draft_id)
        authorize(tx, member, perm.REPLY, case)
        if member != draft.submitter:
            raise perm.PermissionDenied("only the submitter offers alternatives",
                                        action=perm.REPLY, member=member)
        event = ev.ApprovalAlternative(stream=case_id, at=clock.now(), actor=member,
                                       draft=draft_id, text=text, option=len(draft.options))
        commit(tx, case, event)
        return event


def withdraw(store: SqlStore, clock: Clock, case_id: str, member: str, draft_id: str) -> Event:
    with store.begin() as tx:
        case, draft = _pending(tx, case_id, draft_id)
        who = authorize(tx, member, perm.REPLY, case)
        if member != draft.submitter and who.role != "admin":
            raise perm.PermissionDenied("only the submitter (or an admin) withdraws a draft",
                                        action=perm.REPLY, member=member)
        event = ev.ApprovalWithdrawn(stream=case_id, at=clock.now(), actor=member, draft=draft_id)
        commit(tx, case, event)
        return event


def tick(store: SqlStore, clock: Clock, now: datetime | None = None) -> list[Event]:
    """Escalate every draft whose approval SLA has run out to the next approver in its
    rotation, with a fresh SLA. Run it from the scheduler (or a test moving the clock)."""
    now = now or clock.now()
    out: list[Event] = []
    with store.begin() as tx:
        due = tx.cases.due("approval_due", "approval_state", "pending", now)
    for case_id in due:
        with store.begin() as tx:
            case = load(tx, case_id)
            if case.approval_state != "pending" or case.approval_due > now:
                continue  # decided or escalated by someone else meanwhile
            drafts = {d.id: d for d in fold_drafts(tx.events.stream(case_id))}
            draft = drafts[case.approval_draft]
            rules = policy(tx)
            order = engagement.rotation(draft.group, tx.org.load(), rules)
            nxt = engagement.next_approver(order, case.approver, exclude=[draft.submitter])
            nxt = nxt or case.approver
            event = ev.ApprovalEscalated(
                stream=case_id, at=now, actor=ev.SYSTEM, draft=draft.id,
                from_=case.approver, to=nxt,
                due=now + timedelta(minutes=rules.approval_sla_minutes),
                level=draft.escalations + 1,
                overdue_minutes=round((now - case.approval_due).total_seconds() / 60))
            commit(tx, case, event)
            out.append(event)
    return out


def drafts(store: SqlStore, case_id: str, member: str) -> list[Draft]:
    """Every draft on a case, for the case page."""
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.VIEW, case)
        return fold_drafts(tx.events.stream(case_id))


def queue(store: SqlStore, member: str, *, everyone: bool = False) -> list[Case]:
    """Cases with a draft awaiting approval: the member's own (on call for it), or all of them
    (`everyone`) for approvers watching the whole queue."""
    with store.begin() as tx:
        who = authorize(tx, member, perm.APPROVE)
        # Through the pending drafts' index, most urgent first, never more than a page of them.
        rows = tx.cases.awaiting_approval(None if everyone else member)
        org = tx.org.load()
    teams = access.visible_teams(org, who)  # the whole queue: only drafts on cases in sight
    seen = [c for c in rows if access.may_see(org, who, c, teams)]
    # Priority first (a P1 draft waits on nobody's P3), then the approval's due time.
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(seen, key=lambda c: (c.priority or "p9", c.approval_due or far))


def set_policy(store: SqlStore, clock: Clock, member: str, text: str) -> engagement.Policy:
    """Replace the engagement policy (rotations, SLA, risk list, follow-ups); checked against
    the organisation before it is saved."""
    rules = engagement.load_policy(text)
    with store.begin() as tx:
        authorize(tx, member, perm.CONFIGURE)
        problems = engagement.check_policy(rules, tx.org.load())
        if problems:
            raise ValueError("engagement policy: " + "; ".join(problems))
        tx.documents.put(engagement.POLICY_DOCUMENT, text, clock.now())
    return rules
