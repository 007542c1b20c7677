"""Super users and advocates: the candidates with their evidence (and the cases behind it),
the program's members with their ledger; a member invites a candidate and records
acceptances, activities and rewards (services/advocacy.py, each an event)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import advocacy as adv
from escapevelocity.domain.org import Member
from escapevelocity.services import advocacy
from escapevelocity.services.casetx import CaseError
from escapevelocity.web.auth import check_csrf, member_of
from escapevelocity.web.views import flash, pop_flash

router = APIRouter(tags=["advocates"])


def _view(request: Request) -> dict[str, Any]:
    store = request.app.state.workspace.store
    found = advocacy.candidates(store)
    with store.begin() as tx:
        members = advocacy.program(tx)
    return {"candidates": found, "program": sorted(members.values(),
                                                   key=lambda r: (r["channel"], r["handle"])),
            "entries": adv.LEDGER_ENTRIES}


@router.get("/advocates", response_class=HTMLResponse)
async def advocates_page(request: Request, member: Member = Depends(member_of)) -> HTMLResponse:
    message, error = pop_flash(request)
    data = await run_in_threadpool(_view, request)
    return request.app.state.render(request, "advocates.html",
                                    {**data, "me": member, "message": message, "error": error})


async def _do(request: Request, run: Any, done: str) -> Response:
    try:
        await run_in_threadpool(run)
        flash(request, done, "")
    except CaseError as exc:
        flash(request, "", str(exc))
    return RedirectResponse("/advocates", status_code=303)


@router.post("/advocates/invite", dependencies=[Depends(check_csrf)])
async def invite(request: Request, member: Member = Depends(member_of),
                 channel: str = Form(..., max_length=32),
                 handle: str = Form(..., max_length=200)) -> Response:
    ws = request.app.state.workspace
    return await _do(request, lambda: advocacy.invite(ws.store, ws.clock, member.id, channel,
                                                      handle),
                     f"@{handle} invited to the advocacy program.")


@router.post("/advocates/ledger", dependencies=[Depends(check_csrf)])
async def ledger(request: Request, member: Member = Depends(member_of),
                 channel: str = Form(..., max_length=32), handle: str = Form(..., max_length=200),
                 entry: str = Form(..., max_length=16), text: str = Form("", max_length=500),
                 case: str = Form("", max_length=32), value: str = Form("", max_length=100)
                 ) -> Response:
    ws = request.app.state.workspace
    return await _do(request, lambda: advocacy.record(ws.store, ws.clock, member.id, channel,
                                                      handle, entry, text, case or None, value),
                     f"Recorded: {entry} for @{handle}.")
