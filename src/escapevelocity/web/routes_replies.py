"""The saved-reply library page: every saved reply by team and situation, its variables, how
it fits each channel, how often it was used; leads and admins create, edit and delete (each
change an audited event, services/saved_replies.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import access
from escapevelocity.domain import saved_replies as lib
from escapevelocity.domain.org import Member
from escapevelocity.domain.playbook.spec import SITUATIONS
from escapevelocity.services import saved_replies
from escapevelocity.services.cases import MAX_REPLY_CHARS
from escapevelocity.web.auth import check_csrf, member_of, org_of
from escapevelocity.web.views import flash, pop_flash

router = APIRouter(tags=["saved replies"])
SHOWN_CHANNELS = ("twitter", "bluesky", "mastodon", "instagram", "facebook", "email")


def _view(request: Request, member: Member) -> dict[str, Any]:
    ws = request.app.state.workspace
    with ws.store.begin() as tx:
        replies = saved_replies.library(tx)
        used = saved_replies.usage(tx)
    sample = {"author": "Alex Example", "handle": "alex", "agent": member.name,
              "team": "care", "case": "c000000000000"}
    rows = []
    for r in sorted(replies.values(), key=lambda r: (r.team, r.name)):
        text = lib.fill(r.text, sample)
        rows.append({"reply": r, "preview": text, "used": used.get(r.name, 0),
                     "fits": {c: lib.too_long(text, c, MAX_REPLY_CHARS) for c in SHOWN_CHANNELS}})
    org = org_of(request)
    return {"rows": rows, "channels": SHOWN_CHANNELS, "situations": SITUATIONS,
            "teams": [t.id for t in org.teams], "variables": lib.VARIABLES,
            "may_edit": access.may_edit_saved_replies(org, member), "me": member}


@router.get("/replies", response_class=HTMLResponse)
async def replies_page(request: Request, member: Member = Depends(member_of)) -> HTMLResponse:
    message, error = pop_flash(request)
    data = await run_in_threadpool(_view, request, member)
    return request.app.state.render(request, "replies.html",
                                    {**data, "message": message, "error": error})


@router.post("/replies", dependencies=[Depends(check_csrf)])
async def save_reply(request: Request, member: Member = Depends(member_of),
                     name: str = Form(..., max_length=64), text: str = Form(..., max_length=4000),
                     title: str = Form("", max_length=120), team: str = Form("", max_length=64),
                     situations: list[str] = Form([])) -> Response:
    ws = request.app.state.workspace
    reply = lib.SavedReply(name=name.strip().lower(), text=text, title=title, team=team,
                           situations=tuple(s for s in situations[:20] if s))
    try:  # PermissionDenied (not a lead or admin) goes on to the 403 page
        saved = await run_in_threadpool(saved_replies.save, ws.store, ws.clock, member.id, reply)
        flash(request, f"Saved reply {saved.name} saved.", "")
    except lib.ReplyError as exc:
        flash(request, "", f"Not saved: {exc}")
    return RedirectResponse("/replies", status_code=303)


@router.post("/replies/{name}/delete", dependencies=[Depends(check_csrf)])
async def delete_reply(request: Request, name: str, member: Member = Depends(member_of)
                       ) -> Response:
    ws = request.app.state.workspace
    try:
        await run_in_threadpool(saved_replies.delete, ws.store, ws.clock, member.id, name)
        flash(request, f"Saved reply {name} deleted.", "")
    except lib.ReplyError as exc:
        flash(request, "", str(exc))
    return RedirectResponse("/replies", status_code=303)
