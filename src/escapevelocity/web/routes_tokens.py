"""Settings → API tokens: a member's personal tokens (and, for admins, every token and service
tokens), made and revoked through services/tokens.py, the same commands as `ev token` and
/api/v1/tokens. A new token's secret is shown once, on the page that answers the form, and
never stored anywhere but as a hash."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import Member
from escapevelocity.services import tokens
from escapevelocity.web.auth import check_csrf, member_of, org_of
from escapevelocity.web.views import flash, pop_flash

router = APIRouter(tags=["settings"])


def _page(request: Request, member: Member, *, secret: str = "", made: Any = None,
          error: str = "", message: str = "", status: int = 200) -> HTMLResponse:
    ws = request.app.state.workspace
    rows = tokens.listed(ws.store, member.id)
    admin = perm.allowed((member.role,), perm.CONFIGURE)
    return request.app.state.render(request, "settings_tokens.html", {
        "me": member, "tokens": rows, "admin": admin, "scopes": tokens.SCOPES,
        "members": [m.id for m in org_of(request).members] if admin else [],
        "secret": secret, "made": made, "error": error, "message": message}, status)


@router.get("/settings/tokens", response_class=HTMLResponse)
async def tokens_page(request: Request, member: Member = Depends(member_of)) -> HTMLResponse:
    message, error = pop_flash(request)
    return await run_in_threadpool(_page, request, member, message=message, error=error)


@router.post("/settings/tokens", response_class=HTMLResponse,
             dependencies=[Depends(check_csrf)])
async def make_token(request: Request, member: Member = Depends(member_of),
                     name: str = Form("", max_length=200),
                     kind: str = Form("personal", max_length=16),
                     acting: str = Form("", max_length=64),
                     days: int | None = Form(None, ge=1, le=3650)) -> HTMLResponse:
    form = await request.form()
    chosen = [s for s in tokens.SCOPES if form.get(f"scope_{s}") == "on"]
    ws = request.app.state.workspace
    expires = ws.clock.now() + timedelta(days=days) if days else None

    def run() -> HTMLResponse:
        try:
            secret, info = tokens.create(ws.store, ws.clock, by=member.id, name=name, kind=kind,
                                         scopes=chosen, member=acting or None, expires=expires)
        except (tokens.TokenError, perm.PermissionDenied) as exc:
            return _page(request, member, error=f"No token made: {exc}", status=422)
        return _page(request, member, secret=secret, made=info)
    return await run_in_threadpool(run)


@router.post("/settings/tokens/{token_id}/revoke", dependencies=[Depends(check_csrf)])
async def revoke_token(request: Request, token_id: str,
                       member: Member = Depends(member_of)) -> Response:
    ws = request.app.state.workspace
    try:
        info = await run_in_threadpool(lambda: tokens.revoke(ws.store, ws.clock, by=member.id,
                                                             token_id=token_id[:12]))
        flash(request, f"Revoked {info.name} ({info.id}).")
    except LookupError:
        flash(request, "", "No such token of yours.")
    return RedirectResponse("/settings/tokens", status_code=303)
