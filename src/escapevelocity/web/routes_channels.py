"""The Channels page: every connection with its health, last success, next poll, query and last
error, for members who may configure the workspace. Secrets are never read here: only the names
of the secrets a channel needs are shown."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import Member
from escapevelocity.web import auth

router = APIRouter(tags=["channels"])


def _rows(request: Request) -> list[dict]:
    from escapevelocity.channels import registry

    store = request.app.state.workspace.store
    with store.begin() as tx:
        rows = tx.connections.all_()
    channels = registry()
    out = []
    for c in rows:
        spec = channels.get(c.channel)
        out.append({"c": c, "title": spec.title if spec else c.channel,
                    "caps": spec.capabilities if spec else None,
                    "secrets": spec.secrets if spec else (), "push": spec and not spec.pull})
    return out


@router.get("/admin/channels", response_class=HTMLResponse)
async def channels_page(request: Request,
                        member: Member = Depends(auth.member_of)) -> HTMLResponse:
    if not perm.allowed([member.role], perm.CONFIGURE):
        raise HTTPException(404, "not found")
    rows = await run_in_threadpool(_rows, request)
    return request.app.state.render(request, "channels.html", {"me": member, "rows": rows})
