"""Engagement pages: the approval queue, a case's notes, tags, flags, CRM link and hand-off, its
audit trail, the member's @mentions, and bulk actions.

Every form only parses input and calls one service command (services/approvals, annotate,
bulk, cases): the rules live there and in the access policy (domain/access), so this module
decides nothing; the case comes from web/deps.visible_case (404 unless in sight). A refusal
re-renders the page with the reason and a 403 (not allowed) or 409 (the case moved on) status;
success redirects back (303) with a message.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import access
from escapevelocity.domain import cases as projection
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.case_errors import ClaimTaken
from escapevelocity.domain.org import Member
from escapevelocity.domain.pii import mask_pii
from escapevelocity.services import annotate, approvals, cases, replies
from escapevelocity.services.casetx import CaseError
from escapevelocity.web.auth import member_of, org_of
from escapevelocity.web.deps import CaseAccess, load_visible, visible_case
from escapevelocity.web.views import conversation, flash, pop_flash

router = APIRouter(tags=["engagement"])
DRAFT_ID = re.compile(r"^d[0-9]{1,9}$")


def _draft(draft_id: str) -> None:
    if not DRAFT_ID.fullmatch(draft_id):
        raise HTTPException(404, "no such draft on this case")


def _back(request: Request, url: str, message: str) -> RedirectResponse:
    flash(request, message)  # in the session, not the URL: a link cannot forge it
    return RedirectResponse(url, status_code=303)


async def _act(request: Request, seen: CaseAccess, run: Callable[[], Any],
               done: str | Callable[[Any], str], back: str) -> Response:
    """Run one service command on a case the member may see (visible_case checked login, CSRF
    and sight); on refusal re-render the engagement page with the reason."""
    try:
        result = await run_in_threadpool(run)
    except perm.PermissionDenied as exc:
        if isinstance(exc, access.NotVisible):
            raise
        return await _engage_page(request, seen.member, seen.id, error=str(exc), status=403)
    except (ClaimTaken, CaseError, ValueError) as exc:
        return await _engage_page(request, seen.member, seen.id, error=str(exc), status=409)
    return _back(request, back, done(result) if callable(done) else done)


# --- the case's engagement page -------------------------------------------------------------

def _engage_data(request: Request, member: Member, case_id: str) -> dict[str, Any]:
    ws = request.app.state.workspace
    seen = load_visible(request, member, case_id)
    case = projection.replace(seen.case, title=mask_pii(seen.case.title))
    drafts = approvals.drafts(ws.store, case_id, member.id)
    pending = next((d for d in drafts if d.id == case.approval_draft
                    and d.state == "pending"), None)
    can = access.allowed_actions(seen.org, member, case, seen.now,
                                 submitter=pending.submitter if pending else None)
    trail = annotate.audit_trail(ws.store, case_id, member.id) if access.AUDIT in can else []
    with ws.store.begin() as tx:
        notes = [e for e in tx.events.stream(case_id) if e.kind == "note_added"]
        mentions = conversation(tx.mentions.of_case(case_id))
    team_members = [m for m in seen.org.members if case.team in m.teams]
    return {"case": case, "drafts": drafts, "notes": notes, "trail": trail[-5:],
            "mentions": mentions[-3:], "tags": projection.split(case.tags),
            "flags": projection.split(case.flags), "team_members": team_members,
            "teams": seen.org.teams, "me": member, "max_note": annotate.MAX_NOTE_CHARS,
            "max_draft": approvals.MAX_TEXT, "can": {a: a in can for a in access.CASE_ACTIONS}}


async def _engage_page(request: Request, member: Member, case_id: str, *, message: str = "",
                       error: str = "", status: int = 200) -> HTMLResponse:
    data = await run_in_threadpool(_engage_data, request, member, case_id)
    return request.app.state.render(request, "engage_case.html",
                                    {**data, "message": message, "error": error}, status)


@router.get("/cases/{case_id}/engage", response_class=HTMLResponse)
async def engage_page(request: Request, seen: CaseAccess = Depends(visible_case)
                      ) -> HTMLResponse:
    message, error = pop_flash(request)
    return await _engage_page(request, seen.member, seen.id, message=message, error=error)


@router.post("/cases/{case_id}/notes")
async def add_note(request: Request, seen: CaseAccess = Depends(visible_case),
                   text: str = Form("", max_length=annotate.MAX_NOTE_CHARS * 2)) -> Response:
    ws, case_id = request.app.state.workspace, seen.id
    return await _act(request, seen,
                      lambda: annotate.note(ws.store, ws.clock, case_id, seen.member.id, text),
                      lambda e: "Note added" + (f"; told {', '.join(e.data['mentions'])}"
                                                if e.data["mentions"] else "."),
                      f"/cases/{case_id}/engage")


def _words(value: str) -> list[str]:
    return [w for w in re.split(r"[,\s]+", value) if w][:50]


@router.post("/cases/{case_id}/tags")
async def change_tags(request: Request, seen: CaseAccess = Depends(visible_case),
                      add: str = Form("", max_length=1000), remove: str = Form("", max_length=1000),
                      kind: str = Form("tag", pattern="^(tag|flag)$")) -> Response:
    ws, case_id = request.app.state.workspace, seen.id
    command = annotate.tag if kind == "tag" else annotate.flag
    return await _act(request, seen,
                      lambda: command(ws.store, ws.clock, case_id, seen.member.id,
                                      add=_words(add), remove=_words(remove)),
                      lambda e: f"{kind.title()}s updated." if e else "Nothing changed.",
                      f"/cases/{case_id}/engage")


@router.post("/cases/{case_id}/crm")
async def crm_link(request: Request, seen: CaseAccess = Depends(visible_case),
                   crm_id: str = Form("", max_length=128)) -> Response:
    ws, case_id = request.app.state.workspace, seen.id
    return await _act(request, seen,
                      lambda: annotate.link_crm(ws.store, ws.clock, case_id, seen.member.id,
                                                crm_id.strip() or None),
                      lambda e: f"Linked to CRM record {e.data['crm_id']}.",
                      f"/cases/{case_id}/engage")


@router.post("/cases/{case_id}/assign")
async def assign(request: Request, seen: CaseAccess = Depends(visible_case),
                 to: str = Form("", max_length=64), team: str = Form("", max_length=64)
                 ) -> Response:
    ws, case_id = request.app.state.workspace, seen.id
    return await _act(request, seen,
                      lambda: cases.assign(ws.store, ws.clock, case_id, seen.member.id, to or None,
                                           team or None),
                      f"Assigned to {to or 'the team queue'}.", f"/cases/{case_id}/engage")


# --- approvals -------------------------------------------------------------------------------

@router.post("/cases/{case_id}/drafts/{draft_id}/{action}")
async def decide(request: Request, draft_id: str, action: str,
                 seen: CaseAccess = Depends(visible_case),
                 text: str = Form("", max_length=approvals.MAX_TEXT * 3),
                 note: str = Form("", max_length=approvals.MAX_TEXT * 3),
                 choice: int | None = Form(None, ge=0, le=50),
                 next: str = Form("", max_length=10)) -> Response:
    """approve (with an optional edited `text` or an option `choice`), edit, reject (with a
    `note`), alternative (the submitter's other wording) or withdraw."""
    _draft(draft_id)
    ws, me, case_id = request.app.state.workspace, seen.member.id, seen.id
    s, c = ws.store, ws.clock
    edited = text.strip() or None
    runs: dict[str, tuple[Callable[[], Any], str]] = {
        "approve": (lambda: _approve_and_send(request, case_id, me, draft_id, edited, choice,
                                              note), "Approved."),
        "edit": (lambda: approvals.edit(s, c, case_id, me, draft_id, text), "Draft edited."),
        "reject": (lambda: approvals.reject(s, c, case_id, me, draft_id, note),
                   "Rejected; the submitter sees your note."),
        "alternative": (lambda: approvals.offer_alternative(s, c, case_id, me, draft_id, text),
                        "Alternative offered to the approver."),
        "withdraw": (lambda: approvals.withdraw(s, c, case_id, me, draft_id), "Draft withdrawn."),
    }
    if action not in runs:
        raise HTTPException(404, "no such action")
    run, done = runs[action]
    back = "/approvals" if action in ("approve", "edit", "reject") else f"/cases/{case_id}/engage"
    if next == "case":  # the case page's withdraw button comes back to the case page
        back = f"/cases/{case_id}"
    return await _act(request, seen, run, done, back)


def _approve_and_send(request: Request, case_id: str, me: str, draft_id: str,
                      edited: str | None, choice: int | None, note: str) -> Any:
    """Approve; a live reply is then sent through its connection (services/replies.py), its
    outcome on the case."""
    from escapevelocity.web.routes_case import _sealer

    ws = request.app.state.workspace
    sent = approvals.approve(ws.store, ws.clock, case_id, me, draft_id, text=edited,
                             choice=None if edited else choice, note=note)
    if not sent.data.get("dry_run"):
        replies.deliver(ws.store, ws.clock, case_id, sealer=_sealer(request))
    return sent


def _queue(request: Request, member: Member, everyone: bool) -> dict[str, Any]:
    ws = request.app.state.workspace
    if not perm.allowed((member.role,), perm.APPROVE):
        return {"items": [], "may_approve": False}
    org = org_of(request)
    rows = approvals.queue(ws.store, member.id, everyone=everyone)  # only drafts in sight
    items = []
    now = ws.clock.now()
    for case in rows:
        drafts = {d.id: d for d in approvals.drafts(ws.store, case.id, member.id)}
        with ws.store.begin() as tx:
            said = conversation(tx.mentions.of_case(case.id))
            way = replies.route(tx, case, now)
        case = projection.replace(case, title=mask_pii(case.title))
        draft = drafts.get(case.approval_draft)
        can = access.allowed_actions(org, member, case, now,
                                     submitter=draft.submitter if draft else None)
        items.append({"case": case, "draft": draft, "said": said[-3:], "can": can,
                      "send_label": "Approve and " + way.label(
                          draft.visibility if draft else case.visibility).replace(
                          "Send", "send", 1), "live": not way.dry_run})
    return {"items": items, "may_approve": True}


@router.get("/approvals", response_class=HTMLResponse)
async def approval_queue(request: Request, member: Member = Depends(member_of),
                         everyone: bool = Query(False)) -> HTMLResponse:
    data = await run_in_threadpool(_queue, request, member, everyone)
    message, _ = pop_flash(request)
    return request.app.state.render(request, "engage_approvals.html", {
        **data, "everyone": everyone, "message": message, "me": member,
        "max_draft": approvals.MAX_TEXT})


# --- audit trail, mentions -------------------------------------------------------------------

@router.get("/cases/{case_id}/audit", response_class=HTMLResponse)
async def audit(request: Request, seen: CaseAccess = Depends(visible_case)) -> HTMLResponse:
    """A refusal (the role may not read audit trails) is the error page's 403."""
    ws = request.app.state.workspace
    trail = await run_in_threadpool(annotate.audit_trail, ws.store, seen.id, seen.member.id)
    case = projection.replace(seen.case, title=mask_pii(seen.case.title))
    return request.app.state.render(request, "engage_audit.html",
                                    {"case": case, "trail": trail, "me": seen.member})


@router.get("/mentions", response_class=HTMLResponse)
async def my_mentions(request: Request, member: Member = Depends(member_of)) -> HTMLResponse:
    ws = request.app.state.workspace
    notes = await run_in_threadpool(annotate.mentions_of, ws.store, member.id)
    return request.app.state.render(request, "engage_mentions.html",
                                    {"notes": notes, "me": member})


# --- bulk: web/routes_bulk.py (a filtered selection, counts and pages; issue 18) ---------
