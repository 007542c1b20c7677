"""A case: the conversation, who is asking, the signals, the rule that decided it and why,
how it was routed, its history; and the actions a member takes on it (claim, reply, resolve).

Actions go through services/cases.py, the one place their rules live, so the web cannot do
what the CLI or the API may not. Forms work without JavaScript (303 back to the page); with
HTMX they swap the case panel in place and show why an action was refused.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.adapters.store import schema
from escapevelocity.adapters.store.sql import ClaimTaken
from escapevelocity.domain import correct
from escapevelocity.domain import events as ev
from escapevelocity.domain.org import Member
from escapevelocity.domain.pii import mask_pii
from escapevelocity.services import cases as commands
from escapevelocity.web.auth import check_csrf, member_of, org_of
from escapevelocity.web.views import CASE_ID, can_see, conversation, fill_template, flash, pop_flash

router = APIRouter(tags=["cases"])


def case_view(request: Request, member: Member, case_id: str) -> dict[str, Any]:
    workspace = request.app.state.workspace
    store = workspace.store
    with store.begin() as conn:
        case = store.get_case(conn, case_id)
        if case is None or not can_see(org_of(request), member, case):
            raise HTTPException(404, "no such case in your teams' inboxes")
        mentions = conversation(store.case_mentions(conn, case_id))
        history = store.case_events(conn, case_id)
        c = schema.cases.c
        earlier = conn.execute(sa.select(sa.func.count()).select_from(schema.cases).where(
            c.author_handle == case["author_handle"], c.channel == case["channel"],
            c.id != case_id)).scalar_one()
    case["title"] = mask_pii(case["title"])
    # the latest decision: a correction decides again (services/corrections.py)
    decided = next((e.data for e in reversed(history) if e.kind == ev.DECIDED), {})
    assigned = [e for e in history if e.kind == ev.ASSIGNED]
    decision = decided.get("decision", {})
    signals = decided.get("signals", {})
    # A learned model's full answer, read off the hot path after ingest (services/refine.py).
    last_decided = max((i for i, e in enumerate(history) if e.kind == ev.DECIDED), default=-1)
    revised = [e.data for e in history[last_decided + 1:]
               if e.kind == ev.SIGNALS_REVISED and e.data.get("first")]
    if revised:
        signals = revised[-1]["signals"]
    first = mentions[0]["mention"] if mentions else None
    timeline: list[dict[str, Any]] = [{"kind": "mention", "at": m["mention"].created_at, **m}
                                      for m in mentions]
    timeline += [{"kind": "reply", "at": e.at, "actor": e.actor, "text": e.data.get("text", ""),
                  "visibility": e.data.get("visibility", "public")}
                 for e in history if e.kind == ev.REPLIED]
    timeline.sort(key=lambda item: item["at"])
    playbook = workspace.triager().playbook
    templates = {name: fill_template(text, first.author.name if first else "",
                                     first.author.handle if first else "")
                 for name, text in playbook.spec.templates.items()}
    now = workspace.clock.now()
    holder = case["claimed_by"] if case["claim_until"] and case["claim_until"] >= now else None
    return {"case": case, "timeline": timeline, "author": first.author if first else None,
            "author_bio": mentions[0]["bio"] if mentions else "", "earlier_cases": earlier,
            "decision": decision, "signals": signals,
            "assignment": assigned[-1].data if assigned else {},
            "history": history, "templates": templates,
            "draft": templates.get(decision.get("template", ""), ""),
            "holder": holder, "mine": holder == member.id, "me": member,
            "correctable": correct.labels(playbook), "correct_chosen": "situation"}


async def _page(request: Request, member: Member, case_id: str, message: str = "",
                error: str = "", partial: bool = False, status: int = 200) -> HTMLResponse:
    data = await run_in_threadpool(case_view, request, member, case_id)
    name = "_case_panel.html" if partial else "case.html"
    return request.app.state.render(request, name,
                                    {**data, "message": message, "error": error}, status)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, case_id: str,
                    member: Member = Depends(member_of)) -> HTMLResponse:
    _valid(case_id)
    message, error = pop_flash(request)
    return await _page(request, member, case_id, message=message, error=error)



@router.get("/cases/{case_id}/panel", response_class=HTMLResponse)
async def case_panel(request: Request, case_id: str,
                     member: Member = Depends(member_of)) -> HTMLResponse:
    _valid(case_id)
    return await _page(request, member, case_id, partial=True)


def _valid(case_id: str) -> None:
    if not CASE_ID.fullmatch(case_id):
        raise HTTPException(404, "no such case")


def _visible(request: Request, member: Member, case_id: str) -> None:
    """404 unless the member may see the case (the page itself is rendered after the action)."""
    store = request.app.state.workspace.store
    with store.begin() as conn:
        case = store.get_case(conn, case_id)
    if case is None or not can_see(org_of(request), member, case):
        raise HTTPException(404, "no such case in your teams' inboxes")


async def _act(request: Request, member: Member, case_id: str, action: str,
               run: Any, done: str) -> Response:
    await check_csrf(request)
    _valid(case_id)
    await run_in_threadpool(_visible, request, member, case_id)
    message, error = "", ""
    try:
        result = await run_in_threadpool(run)
        message = done(result) if callable(done) else done
    except PermissionError as exc:  # not a conflict: the role may not, so 403 with the reason
        return await _page(request, member, case_id, error=f"You may not {action} this case: "
                           f"{exc}", partial=bool(request.headers.get("HX-Request")), status=403)
    except ClaimTaken as exc:
        until = f" until {exc.until:%H:%M}" if exc.until else ""
        message, error = "", (f"{exc.holder} has claimed this case{until}, so you cannot "
                              f"{action} it now. Pick another case or ask {exc.holder}.")
    except commands.CaseError as exc:
        message, error = "", f"Could not {action}: {exc}"
    if request.headers.get("HX-Request"):
        return await _page(request, member, case_id, message=message, error=error, partial=True)
    flash(request, message, error)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/claim")
async def claim(request: Request, case_id: str, member: Member = Depends(member_of)) -> Response:
    ws = request.app.state.workspace
    return await _act(request, member, case_id, "claim",
                      lambda: commands.claim(ws.store, ws.clock, case_id, member.id),
                      "You hold this case for the next 10 minutes.")


@router.post("/cases/{case_id}/release")
async def release(request: Request, case_id: str,
                  member: Member = Depends(member_of)) -> Response:
    ws = request.app.state.workspace
    return await _act(request, member, case_id, "release",
                      lambda: commands.release(ws.store, ws.clock, case_id, member.id),
                      "Released: the case is back in the queue.")


@router.post("/cases/{case_id}/reply")
async def reply(request: Request, case_id: str, member: Member = Depends(member_of),
                text: str = Form("", max_length=commands.MAX_REPLY_CHARS * 2),
                template: str = Form("", max_length=64),
                seen: int | None = Form(None, ge=0)) -> Response:
    """`seen` is the last event the member's page showed: if the customer or a colleague
    added to the conversation since, the send is refused and the page says what changed."""
    ws = request.app.state.workspace

    def sent(event: Any) -> str:
        if event.kind == ev.REPLIED:
            return "Reply recorded."
        approver = event.data.get("approver", "the approver on call")
        return f"This reply needs approval: it is held as a draft for {approver}."

    return await _act(request, member, case_id, "reply to",
                      lambda: commands.reply(ws.store, ws.clock, case_id, member.id, text,
                                             template=template, seen_seq=seen),
                      sent)


@router.post("/cases/{case_id}/resolve")
async def resolve(request: Request, case_id: str, member: Member = Depends(member_of),
                  note: str = Form("", max_length=commands.MAX_REPLY_CHARS)) -> Response:
    ws = request.app.state.workspace
    return await _act(request, member, case_id, "resolve",
                      lambda: commands.resolve(ws.store, ws.clock, case_id, member.id, note),
                      "Resolved.")
