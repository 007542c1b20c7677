"""Governance pages: readiness (the hub's checklist, spoke requests, shadow mode, approval),
training (policies and acknowledgements, who is trained) and the maturity assessment.

The handlers translate forms into services/governance commands and nothing else: who may do
what, what a shadow spoke may send (nothing) and whose replies wait for approval (the
untrained) are decided in the domain, so the CLI and the API get the same answers.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import governance
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import Member
from escapevelocity.services import channel_requests, connections
from escapevelocity.services import governance as gov
from escapevelocity.services import maturity as maturity_service
from escapevelocity.web import auth

router = APIRouter(tags=["governance"])


def _ws(request: Request) -> Any:
    return request.app.state.workspace


async def _do(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a command; a refusal a person can act on answers 409 with its reason."""
    try:
        return await run_in_threadpool(fn, *args, **kwargs)
    except gov.GovernanceError as exc:
        raise HTTPException(409, str(exc)) from None


# --- readiness -------------------------------------------------------------------------------

@router.get("/governance", response_class=HTMLResponse)
async def readiness_page(request: Request,
                         member: Member = Depends(auth.member_of)) -> HTMLResponse:
    p = await run_in_threadpool(gov.program, _ws(request).store)
    org = auth.org_of(request)
    spokes = [{"spoke": s, "missing": governance.missing(p, s.team),
               "total": len(p.items())} for s in p.spokes.values()]
    channels = [{"c": c, "missing": governance.channel_missing(p, c.connection),
                 "total": len(p.items())} for c in p.channels.values()]
    return request.app.state.render(request, "governance.html", {
        "me": member, "program": p, "items": p.items(), "spokes": spokes,
        "channels": channels, "my_teams": [t for t in org.teams if t.id in member.teams
                                           or perm.allowed((member.role,), perm.CONFIGURE)],
        **_channel_form(request),
        "hubs": [t for t in org.teams if t.kind == "hub"],
        "checklist_text": "\n".join(f"{i.id}: {i.text}" for i in p.items()),
        "can_configure": perm.allowed((member.role,), perm.CONFIGURE)})


@router.post("/governance/checklist", dependencies=[Depends(auth.check_csrf)])
async def save_checklist(request: Request, member: Member = Depends(auth.member_of),
                         items: str = Form(..., max_length=20_000),
                         note: str = Form("", max_length=500)) -> RedirectResponse:
    try:
        parsed = governance.parse_lines(items)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    ws = _ws(request)
    try:
        await _do(gov.save_checklist, ws.store, ws.clock, member.id, parsed, note)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return RedirectResponse("/governance", status_code=303)


@router.post("/governance/spokes", dependencies=[Depends(auth.check_csrf)])
async def request_spoke(request: Request, member: Member = Depends(auth.member_of),
                        team: str = Form(..., max_length=32), name: str = Form(..., max_length=80),
                        hub: str = Form(..., max_length=32), unit: str = Form("", max_length=80),
                        reason: str = Form("", max_length=500),
                        members: str = Form("", max_length=2_000)) -> RedirectResponse:
    ws = _ws(request)
    staff = [m.strip() for m in members.replace("\n", ",").split(",") if m.strip()]
    spoke = await _do(gov.request_spoke, ws.store, ws.clock, member.id, team=team, name=name,
                      hub=hub, unit=unit, reason=reason, members=staff)
    return RedirectResponse(f"/governance/spokes/{spoke.team}", status_code=303)


@router.get("/governance/spokes/{team}", response_class=HTMLResponse)
async def spoke_page(request: Request, team: str,
                     member: Member = Depends(auth.member_of)) -> HTMLResponse:
    ws = _ws(request)
    p = await run_in_threadpool(gov.program, ws.store)
    spoke = p.spokes.get(team)
    if spoke is None:
        raise HTTPException(404, f"no spoke {team!r} was requested")
    on_spoke = member.id in spoke.members
    configure = perm.allowed((member.role,), perm.CONFIGURE)
    queue = (await run_in_threadpool(gov.shadow_queue, ws.store, team)
             if spoke.mode == governance.SHADOW and (on_spoke or configure) else [])
    return request.app.state.render(request, "governance_spoke.html", {
        "me": member, "spoke": spoke, "items": p.items(), "queue": queue,
        "missing": governance.missing(p, team), "on_spoke": on_spoke,
        "can_complete": spoke.mode == governance.SHADOW and (on_spoke or configure),
        "can_approve": configure and governance.approvable(p, team, member) is None,
        "why_not": governance.approvable(p, team, member) if configure else None})


@router.post("/governance/spokes/{team}/items/{item}", dependencies=[Depends(auth.check_csrf)])
async def complete_item(request: Request, team: str, item: str,
                        member: Member = Depends(auth.member_of),
                        evidence: str = Form("", max_length=500)) -> RedirectResponse:
    ws = _ws(request)
    await _do(gov.complete_item, ws.store, ws.clock, member.id, team, item, evidence)
    return RedirectResponse(f"/governance/spokes/{team}", status_code=303)


@router.post("/governance/spokes/{team}/approve", dependencies=[Depends(auth.check_csrf)])
async def approve_spoke(request: Request, team: str, member: Member = Depends(auth.member_of),
                        note: str = Form("", max_length=500)) -> RedirectResponse:
    ws = _ws(request)
    await _do(gov.approve_spoke, ws.store, ws.clock, member.id, team, note)
    return RedirectResponse(f"/governance/spokes/{team}", status_code=303)


@router.post("/governance/spokes/{team}/drafts", dependencies=[Depends(auth.check_csrf)])
async def shadow_draft(request: Request, team: str, member: Member = Depends(auth.member_of),
                       case: str = Form(..., max_length=40),
                       text: str = Form(..., max_length=gov.MAX_DRAFT)) -> RedirectResponse:
    ws = _ws(request)
    await _do(gov.shadow_draft, ws.store, ws.clock, member.id, team, case, text)
    return RedirectResponse(f"/governance/spokes/{team}", status_code=303)


# --- a unit's own channel ------------------------------------------------------------------

def _channel_form(request: Request) -> dict[str, Any]:
    from escapevelocity.channels import registry

    return {"networks": sorted(registry().values(), key=lambda c: c.name)}


@router.post("/governance/channels", dependencies=[Depends(auth.check_csrf)])
async def request_channel(request: Request, member: Member = Depends(auth.member_of),
                          connection: str = Form(..., max_length=64),
                          channel: str = Form(..., max_length=32),
                          team: str = Form(..., max_length=32),
                          account: str = Form("", max_length=200),
                          reason: str = Form("", max_length=500),
                          members: str = Form("", max_length=2_000)) -> RedirectResponse:
    ws = _ws(request)
    staff = [m.strip() for m in members.replace("\n", ",").split(",") if m.strip()]
    c = await _do(channel_requests.request_channel, ws.store, ws.clock, member.id,
                  connection=connection, channel=channel, team=team, account=account,
                  reason=reason, members=staff)
    return RedirectResponse(f"/governance/channels/{c.connection}", status_code=303)


@router.get("/governance/channels/{name}", response_class=HTMLResponse)
async def channel_page(request: Request, name: str,
                       member: Member = Depends(auth.member_of)) -> HTMLResponse:
    from escapevelocity.channels import registry

    ws = _ws(request)
    p = await run_in_threadpool(gov.program, ws.store)
    c = p.channels.get(name[:64])
    if c is None:
        raise HTTPException(404, f"no channel {name[:64]!r} was requested")
    on_staff = member.id in c.members or member.id == c.requested_by
    configure = perm.allowed((member.role,), perm.CONFIGURE)
    queue = (await run_in_threadpool(channel_requests.queue, ws.store, c.connection)
             if c.state == governance.SHADOW and (on_staff or configure) else None)
    spec = registry().get(c.channel)
    fields = list(dict.fromkeys((*spec.settings, *spec.optional, *spec.defaults))) if spec \
        else []
    secret_names = list(dict.fromkeys((*spec.secrets, *spec.send_secrets))) if spec else []
    values = connections.shown(spec.defaults) if spec else {}
    why_not = governance.channel_approvable(p, c.connection, member) if configure else None
    return request.app.state.render(request, "governance_channel.html", {
        "me": member, "c": c, "items": p.items(), "queue": queue, "spec": spec,
        "fields": fields, "secret_names": secret_names, "values": values,
        "missing": governance.channel_missing(p, c.connection), "on_staff": on_staff,
        "can_complete": c.open and (on_staff or configure),
        "can_connect": configure and c.state == governance.REQUESTED and spec is not None,
        "can_approve": configure and why_not is None, "why_not": why_not,
        "can_reject": configure and c.open,
        "can_withdraw": (on_staff or configure) and c.state in (
            governance.REQUESTED, governance.SHADOW, governance.LIVE)})


def _channel_action(name: str) -> str:
    return f"/governance/channels/{name[:64]}"


@router.post("/governance/channels/{name}/connect", dependencies=[Depends(auth.check_csrf)])
async def connect_channel(request: Request, name: str,
                          member: Member = Depends(auth.member_of)) -> RedirectResponse:
    """The hub's connect form: the channel's settings (`s_<key>`), its credentials (`k_<key>`)
    and the listening query, as on the Channels page."""
    from escapevelocity.web.routes_hooks import _sealer

    form = await request.form()
    settings = {k[2:]: str(v)[:2_000] for k, v in form.items() if k.startswith("s_")}
    secrets = {k[2:]: str(v)[:4_000] for k, v in form.items() if k.startswith("k_")}
    ws = _ws(request)
    await _do(channel_requests.connect, ws.store, ws.clock, _sealer(request), member.id,
              name[:64],
              settings=settings, query=str(form.get("query") or "")[:2_000], secrets=secrets)
    return RedirectResponse(_channel_action(name), status_code=303)


@router.post("/governance/channels/{name}/items/{item}", dependencies=[Depends(auth.check_csrf)])
async def complete_channel_item(request: Request, name: str, item: str,
                                member: Member = Depends(auth.member_of),
                                evidence: str = Form("", max_length=500)) -> RedirectResponse:
    ws = _ws(request)
    await _do(channel_requests.complete_item, ws.store, ws.clock, member.id, name[:64],
              item[:32], evidence)
    return RedirectResponse(_channel_action(name), status_code=303)


@router.post("/governance/channels/{name}/approve", dependencies=[Depends(auth.check_csrf)])
async def approve_channel(request: Request, name: str, member: Member = Depends(auth.member_of),
                          note: str = Form("", max_length=500)) -> RedirectResponse:
    ws = _ws(request)
    await _do(channel_requests.approve, ws.store, ws.clock, member.id, name[:64], note)
    return RedirectResponse(_channel_action(name), status_code=303)


@router.post("/governance/channels/{name}/reject", dependencies=[Depends(auth.check_csrf)])
async def reject_channel(request: Request, name: str, member: Member = Depends(auth.member_of),
                         reason: str = Form(..., max_length=500)) -> RedirectResponse:
    ws = _ws(request)
    await _do(channel_requests.reject, ws.store, ws.clock, member.id, name[:64], reason)
    return RedirectResponse(_channel_action(name), status_code=303)


@router.post("/governance/channels/{name}/withdraw", dependencies=[Depends(auth.check_csrf)])
async def withdraw_channel(request: Request, name: str, member: Member = Depends(auth.member_of),
                           note: str = Form("", max_length=500)) -> RedirectResponse:
    ws = _ws(request)
    await _do(channel_requests.withdraw, ws.store, ws.clock, member.id, name[:64], note)
    return RedirectResponse(_channel_action(name), status_code=303)


@router.post("/governance/channels/{name}/drafts", dependencies=[Depends(auth.check_csrf)])
async def channel_draft(request: Request, name: str, member: Member = Depends(auth.member_of),
                        case: str = Form(..., max_length=40),
                        text: str = Form(..., max_length=gov.MAX_DRAFT)) -> RedirectResponse:
    ws = _ws(request)
    await _do(channel_requests.draft, ws.store, ws.clock, member.id, name[:64], case, text)
    return RedirectResponse(_channel_action(name), status_code=303)


# --- training --------------------------------------------------------------------------------

@router.get("/training", response_class=HTMLResponse)
async def training_page(request: Request,
                        member: Member = Depends(auth.member_of)) -> HTMLResponse:
    p = await run_in_threadpool(gov.program, _ws(request).store)
    org = auth.org_of(request)
    configure = perm.allowed((member.role,), perm.CONFIGURE)
    people = [{"member": m, "gaps": governance.training_gaps(p, m.id),
               "best": p.best_drill.get(m.id)} for m in org.members] if configure else []
    return request.app.state.render(request, "training.html", {
        "me": member, "program": p, "policies": list(p.policies.values()),
        "acked": p.acks.get(member.id, {}), "gaps": governance.training_gaps(p, member.id),
        "required": governance.training_required(p), "people": people,
        "can_configure": configure})


@router.post("/training/policies", dependencies=[Depends(auth.check_csrf)])
async def publish_policy(request: Request, member: Member = Depends(auth.member_of),
                         policy: str = Form(..., max_length=32),
                         title: str = Form(..., max_length=120),
                         text: str = Form(..., max_length=governance.MAX_TEXT)) -> RedirectResponse:
    ws = _ws(request)
    await _do(gov.publish_policy, ws.store, ws.clock, member.id, policy, title, text)
    return RedirectResponse("/training", status_code=303)


@router.post("/training/policies/{policy}/ack", dependencies=[Depends(auth.check_csrf)])
async def acknowledge(request: Request, policy: str,
                      member: Member = Depends(auth.member_of)) -> RedirectResponse:
    ws = _ws(request)
    await _do(gov.acknowledge, ws.store, ws.clock, member.id, policy)
    return RedirectResponse("/training", status_code=303)


@router.post("/training/pass-mark", dependencies=[Depends(auth.check_csrf)])
async def pass_mark(request: Request, member: Member = Depends(auth.member_of),
                    score: int = Form(..., ge=0, le=100)) -> RedirectResponse:
    ws = _ws(request)
    await _do(gov.set_min_score, ws.store, ws.clock, member.id, score)
    return RedirectResponse("/training", status_code=303)


# --- maturity --------------------------------------------------------------------------------

@router.get("/maturity", response_class=HTMLResponse)
async def maturity_page(request: Request,
                        member: Member = Depends(auth.member_of)) -> HTMLResponse:
    ws = _ws(request)
    data = await run_in_threadpool(maturity_service.review, ws.store, ws.clock.now())
    return request.app.state.render(request, "maturity.html", {"me": member, **data})
