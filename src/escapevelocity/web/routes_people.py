"""Customer profiles (/people/<channel>/<handle>) with linked identities, and presence on a
case (/cases/<id>/presence): who else has it open, who is typing.

Routes parse and call services/people; presence goes through the `Presence` port on
app.state (adapters/presence.py): in memory in the embedded mode, the NATS key-value bucket in
the scale-out mode (EV_BUS=nats://, put there by the app's lifespan), so every replica sees
every viewer. When NATS is down the heartbeat answers 503 with the reason (JSON for the page's
script), and the case page carries on without "who else is here".
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.adapters.presence import MemoryPresence, Presence, PresenceUnavailable
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import Member
from escapevelocity.domain.records import CHANNELS
from escapevelocity.services import people
from escapevelocity.services.casetx import CaseError
from escapevelocity.web.auth import check_csrf, member_of
from escapevelocity.web.deps import CaseAccess, visible_case
from escapevelocity.web.views import flash, pop_flash

router = APIRouter(tags=["people"])


@router.get("/people/{channel}/{handle:path}", response_class=HTMLResponse)
async def profile(request: Request, channel: str, handle: str,
                  member: Member = Depends(member_of)) -> HTMLResponse:
    store = request.app.state.workspace.store
    try:
        data = await run_in_threadpool(people.read, store, member.id, channel[:32],
                                       handle[:people.MAX_HANDLE + 1])
    except CaseError as exc:
        raise HTTPException(404, str(exc)) from None
    if not data["cases"] and len(data["profile"].identities) < 2:
        raise HTTPException(404, "nobody by that handle in your teams' cases")
    message, error = pop_flash(request)
    return request.app.state.render(request, "profile.html", {
        "me": member, "channel": channel, "handle": handle, "message": message,
        "error": error, "channels": CHANNELS, **data})


async def _link_form(request: Request) -> tuple[str, str]:
    await check_csrf(request)
    form = await request.form()
    return str(form.get("channel", ""))[:32], str(form.get("handle", ""))[:people.MAX_HANDLE + 1]


@router.post("/people/{channel}/{handle:path}/link")
async def link(request: Request, channel: str, handle: str,
               member: Member = Depends(member_of)) -> Response:
    other = await _link_form(request)
    ws = request.app.state.workspace
    try:
        await run_in_threadpool(people.link, ws.store, ws.clock, member.id,
                                (channel[:32], handle), other)
        flash(request, f"Linked {other[0]} @{other[1].lstrip('@')}")
    except (CaseError, perm.PermissionDenied) as exc:
        flash(request, error=f"Not linked: {exc}")
    return RedirectResponse(request.url.path.removesuffix("/link"), status_code=303)


@router.post("/people/{channel}/{handle:path}/unlink")
async def unlink(request: Request, channel: str, handle: str,
                 member: Member = Depends(member_of)) -> Response:
    other = await _link_form(request)
    ws = request.app.state.workspace
    try:
        await run_in_threadpool(people.unlink, ws.store, ws.clock, member.id, other)
        flash(request, f"Unlinked {other[0]} @{other[1].lstrip('@')}")
    except (CaseError, perm.PermissionDenied) as exc:
        flash(request, error=f"Not unlinked: {exc}")
    return RedirectResponse(request.url.path.removesuffix("/unlink"), status_code=303)


# --- presence ---------------------------------------------------------------------------------

def presence_of(request: Request) -> Presence:
    state = request.app.state
    if getattr(state, "presence", None) is None:
        if state.settings.bus.startswith("nats://"):  # the lifespan connects it
            raise PresenceUnavailable("not connected to NATS yet")
        state.presence = MemoryPresence()
    return state.presence


@router.post("/cases/{case_id}/presence")
async def beat(request: Request, seen: CaseAccess = Depends(visible_case)) -> JSONResponse:
    """The page's heartbeat (every few seconds): this member views or types; answers who
    else is here."""
    form = await request.form()
    state = str(form.get("state", "viewing"))
    now = request.app.state.workspace.clock.now()
    try:
        presence = presence_of(request)
        if state == "gone":
            here = await presence.leave(seen.id, seen.member.id, now)
        else:
            here = await presence.beat(seen.id, seen.member.id, state, now)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    except PresenceUnavailable as exc:  # logged once by the adapter, not at every beat
        raise HTTPException(503, f"Who else is on this case is unknown for now ({exc}).",
                            headers={"Retry-After": "5"}) from None
    others = {m: s for m, s in here.items() if m != seen.member.id}
    return JSONResponse({"others": [{"member": m, "state": s} for m, s in others.items()]})
