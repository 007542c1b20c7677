"""The Channels page: every connection with its health, last success, next poll, query, last
error and where its replies go, for members who may configure the workspace; and its forms:
add a connection, edit its settings, listening query and secrets, pause or resume it, switch
its replies between dry run and live. Every change is an audited event
(services/connections.py, services/outbound.py).

Secrets are write-only: the forms show which secrets are stored, never their values (the
fields are always empty; a blank field keeps the stored secret), and no page or error message
carries one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import governance
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import Member
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services import connections as service
from escapevelocity.services import governance as governance_service
from escapevelocity.services import outbound
from escapevelocity.web import auth

router = APIRouter(tags=["channels"])


def _admin(member: Member) -> None:
    if not perm.allowed([member.role], perm.CONFIGURE):
        raise HTTPException(404, "not found")


def _sealer(request: Request) -> Any:
    from escapevelocity.web.routes_hooks import _sealer as sealer

    return sealer(request)


def _rows(request: Request) -> dict[str, Any]:
    from escapevelocity.channels import registry

    store = request.app.state.workspace.store
    with store.begin() as tx:
        rows = tx.connections.all_()
    mode = outbound.mode(store)
    program = governance_service.program(store)
    channels = registry()
    out = []
    for c in rows:
        spec = channels.get(c.channel)
        can = bool(spec and c.enabled and spec.can_send(c.settings))
        # a unit's own channel: its request's page turns it live (domain/governance)
        held = program.channels.get(c.name) if governance.sends_blocked(program, c.name) \
            else None
        live = mode.live_for(c.name, c.channel) and held is None
        out.append({"c": c, "title": spec.title if spec else c.channel, "held": held,
                    "caps": spec.capabilities if spec else None,
                    "secrets": spec.secrets if spec else (), "push": spec and not spec.pull,
                    "switch": mode.connections.get(c.name) or "",
                    "sends": ("live: sends to " + (spec.title if spec else c.channel))
                    if live and can else "dry run" if not live else
                    "recorded only (cannot send)"})
    return {"rows": out, "mode": mode, "channels": sorted(channels.values(),
                                                          key=lambda s: s.name),
            "history": service.history(store, 20)}


@router.get("/admin/channels", response_class=HTMLResponse)
async def channels_page(request: Request,
                        member: Member = Depends(auth.member_of)) -> HTMLResponse:
    _admin(member)
    data = await run_in_threadpool(_rows, request)
    return request.app.state.render(request, "channels.html", {"me": member, **data})


def _form_data(request: Request, name: str, channel: str) -> dict[str, Any]:
    from escapevelocity.channels import get

    store = request.app.state.workspace.store
    with store.begin() as tx:
        current = tx.connections.get(name) if name else None
    if name and current is None:
        raise HTTPException(404, "no such connection")
    try:
        spec = get(current.channel if current else channel)
    except ValueError:
        raise HTTPException(404, "no such channel") from None
    try:  # the names only
        stored = sorted(_sealer(request).unseal(current.sealed)) if current and current.sealed \
            else []
    except RuntimeError:  # sealed with another key: typing them again replaces them
        stored = []
    return {"spec": spec, "current": current, "values": service.shown(
        current.settings if current else spec.defaults), "stored_secrets": stored,
        "secret_names": list(dict.fromkeys((*spec.secrets, *spec.send_secrets))),
        "fields": list(dict.fromkeys((*spec.settings, *spec.optional,
                                      *spec.defaults))),
        "switch": outbound.mode(store).connections.get(name, "") if name else "",
        "typed_query": None, "typed_name": ""}


async def _form(request: Request, member: Member, name: str = "", channel: str = "",
                error: str = "", status: int = 200, typed: dict | None = None) -> HTMLResponse:
    data = await run_in_threadpool(_form_data, request, name, channel)
    if typed:  # what the admin typed, shown again with the error (never the secrets)
        data["values"] = {**data["values"], **typed.get("settings", {})}
        data["typed_query"] = typed.get("query")
        data["typed_name"] = typed.get("name", "")
    return request.app.state.render(request, "channel_form.html", {
        "me": member, "error": error, **data}, status)


@router.get("/admin/channels/new", response_class=HTMLResponse)
async def new_form(request: Request, channel: str = "mastodon",
                   member: Member = Depends(auth.member_of)) -> HTMLResponse:
    _admin(member)
    return await _form(request, member, channel=channel[:32])


@router.get("/admin/channels/{name}/edit", response_class=HTMLResponse)
async def edit_form(request: Request, name: str,
                    member: Member = Depends(auth.member_of)) -> HTMLResponse:
    _admin(member)
    return await _form(request, member, name=name[:64])


def _split(form: Any) -> tuple[dict[str, str], dict[str, str]]:
    settings = {k[2:]: str(v)[:2000] for k, v in form.items() if k.startswith("s_")}
    secrets = {k[2:]: str(v)[:4000] for k, v in form.items() if k.startswith("k_")}
    return settings, secrets


async def _save(request: Request, member: Member, name: str, create: bool) -> Response:
    _admin(member)
    form = await request.form()
    settings, secrets = _split(form)
    query = str(form.get("query", ""))[:2000]
    channel = str(form.get("channel", ""))[:32]
    ws = request.app.state.workspace
    try:
        await run_in_threadpool(lambda: service.save(
            ws.store, ws.clock, _sealer(request), member.id, name, channel=channel,
            settings=settings, query=query, secrets=secrets, create=create))
    except PermissionDenied as exc:
        raise HTTPException(403, str(exc)) from None
    except service.Invalid as exc:
        return await _form(request, member, name="" if create else name, channel=channel,
                           error=str(exc), status=422,
                           typed={"settings": settings, "query": query, "name": name})
    return RedirectResponse("/admin/channels", status_code=303)


@router.post("/admin/channels", dependencies=[Depends(auth.check_csrf)])
async def create(request: Request, member: Member = Depends(auth.member_of),
                 name: str = Form(..., max_length=64)) -> Response:
    return await _save(request, member, name.strip(), create=True)


@router.post("/admin/channels/{name}", dependencies=[Depends(auth.check_csrf)])
async def update(request: Request, name: str,
                 member: Member = Depends(auth.member_of)) -> Response:
    return await _save(request, member, name[:64], create=False)


@router.post("/admin/channels/{name}/enabled", dependencies=[Depends(auth.check_csrf)])
async def enable(request: Request, name: str, member: Member = Depends(auth.member_of),
                 enabled: str = Form(...)) -> Response:
    _admin(member)
    ws = request.app.state.workspace
    try:
        await run_in_threadpool(service.set_enabled, ws.store, ws.clock, member.id, name[:64],
                                enabled == "true")
    except service.Invalid as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse("/admin/channels", status_code=303)


@router.post("/admin/channels/{name}/outbound", dependencies=[Depends(auth.check_csrf)])
async def switch(request: Request, name: str, member: Member = Depends(auth.member_of),
                 mode: str = Form(...)) -> Response:
    """A connection's replies: live, dry run, or "" (follow the workspace's switch)."""
    _admin(member)
    ws = request.app.state.workspace
    with ws.store.begin() as tx:
        if tx.connections.get(name[:64]) is None:
            raise HTTPException(404, "no such connection")
    try:
        await run_in_threadpool(outbound.set_mode, ws.store, ws.clock, member.id, mode,
                                name[:64])
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse("/admin/channels", status_code=303)
