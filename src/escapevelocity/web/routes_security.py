"""Settings → Second factor, and the sign-in step that asks for it.

A member sets up TOTP here (a QR code for their authenticator app, then a code to confirm;
recovery codes shown once) or removes it; an admin marks the roles that must have one before
replying publicly or approving (the access policy enforces it on every path). A member with a
factor signs in with their password, then a code: the session starts only after the code, and
failed codes count towards the sign-in throttle like failed passwords.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import ROLES, Member
from escapevelocity.services import second_factor as factor
from escapevelocity.services import signin
from escapevelocity.web.auth import begin_session, check_csrf, client_address, member_of

router = APIRouter(tags=["settings"])
PENDING_SECONDS = 300  # a password accepted this long ago still waits for its code


def _security(request: Request, member: Member, **extra: Any) -> HTMLResponse:
    store = request.app.state.workspace.store
    enrolment = factor.pending(store, member.id)
    status = extra.pop("status", 200)
    return request.app.state.render(request, "settings_security.html", {
        "me": member, "enrolled": factor.enrolled(store, member.id),
        "pending": enrolment, "qr": enrolment.qr_svg() if enrolment else "",
        "left": factor.remaining_recovery(store, member.id),
        "required": factor.required_roles(store), "roles": ROLES,
        "admin": perm.allowed((member.role,), perm.CONFIGURE),
        "codes": [], "error": "", "message": "", **extra}, status)


@router.get("/settings/security", response_class=HTMLResponse)
async def security_page(request: Request, member: Member = Depends(member_of)) -> HTMLResponse:
    return await run_in_threadpool(_security, request, member)


@router.post("/settings/security/start", response_class=HTMLResponse,
             dependencies=[Depends(check_csrf)])
async def start(request: Request, member: Member = Depends(member_of)) -> HTMLResponse:
    ws = request.app.state.workspace

    def run() -> HTMLResponse:
        try:
            factor.start(ws.store, ws.clock, member.id)
        except factor.FactorError as exc:
            return _security(request, member, error=str(exc), status=409)
        return _security(request, member)
    return await run_in_threadpool(run)


@router.post("/settings/security/confirm", response_class=HTMLResponse,
             dependencies=[Depends(check_csrf)])
async def confirm(request: Request, member: Member = Depends(member_of),
                  code: str = Form("", max_length=20)) -> HTMLResponse:
    ws = request.app.state.workspace

    def run() -> HTMLResponse:
        try:
            codes = factor.confirm(ws.store, ws.clock, member.id, code)
        except factor.FactorError as exc:
            return _security(request, member, error=str(exc), status=422)
        return _security(request, member, codes=codes,
                         message="Second factor on. Keep these recovery codes somewhere safe: "
                                 "each works once, and they are not shown again.")
    return await run_in_threadpool(run)


@router.post("/settings/security/remove", dependencies=[Depends(check_csrf)])
async def remove(request: Request, member: Member = Depends(member_of),
                 target: str = Form("", max_length=64)) -> Response:
    ws = request.app.state.workspace
    try:
        await run_in_threadpool(lambda: factor.remove(ws.store, ws.clock, by=member.id,
                                                      member=target or member.id))
    except perm.PermissionDenied as exc:
        error = str(exc)
        return await run_in_threadpool(lambda: _security(request, member, error=error,
                                                         status=403))
    return RedirectResponse("/settings/security", status_code=303)


@router.post("/settings/security/roles", response_class=HTMLResponse,
             dependencies=[Depends(check_csrf)])
async def roles(request: Request, member: Member = Depends(member_of)) -> Response:
    form = await request.form()
    chosen = [r for r in ROLES if form.get(f"role_{r}") == "on"]
    ws = request.app.state.workspace

    def run() -> Response:
        try:
            factor.set_required_roles(ws.store, ws.clock, by=member.id, roles=chosen)
        except perm.PermissionDenied as exc:
            return _security(request, member, error=str(exc), status=403)
        return _security(request, member, message="Saved: these roles need a second factor "
                                                  "to reply publicly or approve.")
    return await run_in_threadpool(run)


# --- the sign-in step ---------------------------------------------------------------------------

def _waiting(request: Request) -> dict[str, Any] | None:
    pending = request.session.get("pending_2fa")
    now = request.app.state.workspace.clock.now().timestamp()
    if (not isinstance(pending, dict) or not isinstance(pending.get("m"), str)
            or not isinstance(pending.get("at"), int | float)
            or now - pending["at"] > PENDING_SECONDS):
        return None
    return pending


@router.get("/login/second-factor", response_class=HTMLResponse)
def second_step_page(request: Request) -> Response:
    if _waiting(request) is None:
        return RedirectResponse("/login", status_code=303)
    return request.app.state.render(request, "login_second_factor.html", {"error": ""})


@router.post("/login/second-factor", dependencies=[Depends(check_csrf)])
async def second_step(request: Request, code: str = Form("", max_length=20)) -> Response:
    pending = _waiting(request)
    if pending is None:
        return RedirectResponse("/login", status_code=303)
    ws = request.app.state.workspace
    attempt = signin.Attempt(pending["m"], client_address(request))
    ok = False
    if not await run_in_threadpool(signin.throttled, ws.store, ws.clock, attempt):
        ok = await run_in_threadpool(factor.verify, ws.store, ws.clock, pending["m"], code)
        if not ok:
            await run_in_threadpool(signin.failed, ws.store, ws.clock, attempt)
    if not ok:
        return request.app.state.render(request, "login_second_factor.html", {
            "error": "That code does not match (or too many tries: wait a few minutes)."}, 401)
    return await begin_session(request, pending["m"], pending["next"])
