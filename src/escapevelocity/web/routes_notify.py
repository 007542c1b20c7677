"""The bell: a member's notifications (list, unread count, mark read) and their preferences.

Every query is scoped to the logged-in member: nobody reads or marks another's notifications.
The count is also pushed on the live stream (web/live.py), where static/notify.js shows a
browser notification when the member allowed them.
"""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import notifications as dn
from escapevelocity.domain.org import Member
from escapevelocity.domain.permissions import CONFIGURE, PermissionDenied, allowed
from escapevelocity.services import outbound, webhooks
from escapevelocity.web import auth

router = APIRouter(tags=["notifications"])


def bell(request: Request, member_id: str) -> dict:
    """Unread count and the newest unread one (for the browser notification)."""
    with request.app.state.workspace.store.begin() as tx:
        count = tx.notifications.unread_count(member_id)
        newest = next((n for n in tx.notifications.latest(member_id, 1)
                       if n["read_at"] is None), None)
    return {"unread": count, "id": newest["id"] if newest else None,
            "text": newest["text"] if newest else "", "link": newest["link"] if newest else ""}


@router.get("/notifications", response_class=HTMLResponse)
async def page(request: Request, member: Member = Depends(auth.member_of)) -> HTMLResponse:
    def read() -> tuple[list[dict], dn.Prefs]:
        with request.app.state.workspace.store.begin() as tx:
            return tx.notifications.latest(member.id, 100), tx.notifications.prefs(member.id)

    items, prefs = await run_in_threadpool(read)
    return request.app.state.render(request, "notifications.html", {
        "me": member, "items": items, "prefs": prefs, "kinds": dn.KINDS,
        "transports": dn.TRANSPORTS})


@router.get("/notifications/count")
async def count(request: Request, member: Member = Depends(auth.member_of)) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(bell, request, member.id),
                        headers={"Cache-Control": "no-store"})


@router.post("/notifications/read", dependencies=[Depends(auth.check_csrf)])
async def mark_read(request: Request, member: Member = Depends(auth.member_of),
                    id: int | None = Form(None)) -> RedirectResponse:
    workspace = request.app.state.workspace

    def mark() -> None:
        with workspace.store.begin() as tx:
            tx.notifications.mark_read(member.id, workspace.clock.now(),
                                       None if id is None else [id])

    await run_in_threadpool(mark)
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/prefs", dependencies=[Depends(auth.check_csrf)])
async def save_prefs(request: Request, member: Member = Depends(auth.member_of)
                     ) -> RedirectResponse:
    form = await request.form()
    try:
        prefs = dn.Prefs(
            muted=[k for k in dn.KINDS if form.get(f"kind_{k}") != "on"],
            transports=["web", *[t for t in ("email", "slack") if form.get(f"via_{t}") == "on"]],
            quiet_start=str(form.get("quiet_start", ""))[:5],
            quiet_end=str(form.get("quiet_end", ""))[:5],
            slack_url=str(form.get("slack_url", ""))[:500].strip(),
            browser=form.get("browser") == "on")
        dn.load_prefs(msgspec.json.encode(prefs))  # the one validation
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None

    def save() -> None:
        with request.app.state.workspace.store.begin() as tx:
            tx.notifications.save_prefs(member.id, prefs)

    await run_in_threadpool(save)
    return RedirectResponse("/notifications", status_code=303)


# --- admin: outbound webhooks' dead letters and the dry-run / live switch --------------------

admin = APIRouter(tags=["admin"])


async def _allowed(run, *args):
    """Run a service call; a refusal is a 403 (members who may not configure)."""
    try:
        return await run_in_threadpool(run, *args)
    except PermissionDenied as exc:
        raise HTTPException(403, str(exc)) from None


@admin.get("/admin/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request, member: Member = Depends(auth.member_of)
                        ) -> HTMLResponse:
    if not allowed((member.role,), CONFIGURE):
        raise HTTPException(404, "not found")  # administration pages, as /admin/channels
    store = request.app.state.workspace.store
    rows = await _allowed(webhooks.dead_letters, store, member.id)
    return request.app.state.render(request, "admin_webhooks.html", {
        "me": member, "rows": rows, "configured": request.app.state.webhooks is not None,
        "mode": await run_in_threadpool(outbound.mode, store)})


@admin.post("/admin/webhooks/{row_id}/replay", dependencies=[Depends(auth.check_csrf)])
async def replay(request: Request, row_id: int, member: Member = Depends(auth.member_of)
                 ) -> RedirectResponse:
    workspace = request.app.state.workspace
    await _allowed(webhooks.replay, workspace.store, workspace.clock, member.id, row_id)
    return RedirectResponse("/admin/webhooks", status_code=303)


@admin.post("/admin/outbound", dependencies=[Depends(auth.check_csrf)])
async def outbound_mode(request: Request, member: Member = Depends(auth.member_of),
                        mode: str = Form(...), connection: str = Form(""),
                        back: str = Form("")) -> RedirectResponse:
    workspace = request.app.state.workspace
    try:
        await _allowed(outbound.set_mode, workspace.store, workspace.clock, member.id, mode,
                       connection.strip()[:64] or None)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    # the Channels page has the same switch; only these two pages are gone back to
    return RedirectResponse("/admin/channels" if back == "/admin/channels" else
                            "/admin/webhooks", status_code=303)
