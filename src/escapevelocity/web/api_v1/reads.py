"""/api/v1 beyond cases: the organisation, authors, incidents, the playbook (versions, check,
explain), KPIs, the event log as a paged feed, mentions in, tokens, and who the caller is.

Each read shows what the same member sees on the pages: authors through their cases in sight,
the event feed through the cases in sight (events of no case: to the roles that configure the
workspace), KPIs of the member's teams.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC
from typing import Any

import msgspec
from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from escapevelocity.domain import access
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import Member
from escapevelocity.domain.pii import mask_pii
from escapevelocity.domain.playbook import Context
from escapevelocity.domain.sla import CLOCKS
from escapevelocity.services import playbooks, tokens
from escapevelocity.services.crisis import incidents, timeline
from escapevelocity.services.team import overview
from escapevelocity.services.tokens import ADMIN, INGEST, READ, REPORTS, Principal
from escapevelocity.web.api_v1 import models as m
from escapevelocity.web.api_v1.auth import ApiError, member_of, need, principal
from escapevelocity.web.api_v1.cases import event_out, summary
from escapevelocity.web.auth import org_of
from escapevelocity.web.views import CASE_ID, conversation

router = APIRouter(prefix="/api/v1")


# --- the organisation -------------------------------------------------------------------------

def _member_out(member: Member, presence: dict[str, str]) -> m.MemberOut:
    return m.MemberOut(id=member.id, name=member.name, role=member.role,
                       teams=list(member.teams), presence=presence.get(member.id, "offline"))


@router.get("/org", response_model=m.OrgOut, responses=m.ERRORS, tags=["organisation"])
def organisation(request: Request, who: Principal = Depends(need(READ))) -> m.OrgOut:
    """Teams and members, with presence (as the Team page shows them)."""
    member_of(who)
    org = org_of(request)
    with request.app.state.workspace.store.begin() as tx:
        presence = tx.org.presence()
    return m.OrgOut(
        teams=[m.TeamOut(id=t.id, name=t.name, kind=t.kind, hub=t.hub, lead=t.lead)
               for t in org.teams],
        members=[_member_out(x, presence) for x in org.members])


@router.get("/me", response_model=m.MeOut, responses=m.ERRORS, tags=["tokens"])
def me(request: Request, who: Principal = Depends(principal)) -> m.MeOut:
    """The calling token, its scopes and the member it acts as."""
    with request.app.state.workspace.store.begin() as tx:
        info = tx.signin.token_by_id(who.token)
        presence = tx.org.presence()
    return m.MeOut(token=_token_out(info) if info else None,
                   member=_member_out(who.member, presence) if who.member else None,
                   scopes=sorted(who.scopes))


# --- authors ----------------------------------------------------------------------------------

@router.get("/authors/{channel}/{handle}", response_model=m.AuthorOut,
            responses={**m.ERRORS, 404: {"model": m.Error}}, tags=["authors"])
def author(request: Request, channel: str = Path(max_length=32),
           handle: str = Path(max_length=200),
           who: Principal = Depends(need(READ))) -> m.AuthorOut:
    """Who is asking: the profile the channel reports (PII masked) and their cases in sight."""
    member = member_of(who)
    ws, org = request.app.state.workspace, org_of(request)
    teams = sorted(access.visible_teams(org, member))
    with ws.store.begin() as tx:
        rows = tx.cases.page(teams=teams, member=member.id,
                             filters={"channel": channel, "author_handle": handle}, limit=100)
        rows = [c for c in rows if access.may_see(org, member, c)]
        talk = conversation(tx.mentions.of_case(rows[-1].id)) if rows else []
    if not rows:
        raise ApiError(404, "author_not_found", "no author by that handle on that channel in "
                       "your teams' cases")
    said = [t["mention"].author for t in talk if t["mention"].author.handle == handle]
    latest = said[-1] if said else None
    now = ws.clock.now()
    return m.AuthorOut(
        channel=channel, handle=handle, name=mask_pii(latest.name) if latest else "",
        bio=mask_pii(latest.bio) if latest else "",
        followers=latest.followers if latest else None,
        verified=bool(latest and latest.verified),
        cases=[summary(c, access.allowed_actions(org, member, c, now), now) for c in rows])


# --- incidents --------------------------------------------------------------------------------

def _incident(item: dict[str, Any]) -> m.IncidentOut:
    return m.IncidentOut(**item)


@router.get("/incidents", response_model=list[m.IncidentOut], responses=m.ERRORS,
            tags=["incidents"])
def list_incidents(request: Request,
                   who: Principal = Depends(need(READ))) -> list[m.IncidentOut]:
    """Every incident (crisis mode), newest first."""
    member_of(who)
    return [_incident(i) for i in incidents(request.app.state.workspace.store)]


@router.get("/incidents/{incident_id}", response_model=m.IncidentDetail,
            responses={**m.ERRORS, 404: {"model": m.Error}}, tags=["incidents"])
def get_incident(request: Request, incident_id: str = Path(max_length=64),
                 who: Principal = Depends(need(READ))) -> m.IncidentDetail:
    member_of(who)
    store = request.app.state.workspace.store
    found = {i["id"]: i for i in incidents(store)}.get(incident_id)
    if found is None or not incident_id.startswith("incident:"):
        raise ApiError(404, "incident_not_found", "no such incident")
    return m.IncidentDetail(incident=_incident(found),
                            timeline=[event_out(e) for e in timeline(store, incident_id)])


# --- the playbook -----------------------------------------------------------------------------

def _version_out(v: playbooks.Version) -> m.PlaybookVersionOut:
    return m.PlaybookVersionOut(number=v.number, name=v.name, author=v.author, note=v.note,
                                created_at=v.created_at, active=v.active, state=v.status)


@router.get("/playbook/versions", response_model=list[m.PlaybookVersionOut],
            responses=m.ERRORS, tags=["playbook"])
def playbook_versions(request: Request,
                      who: Principal = Depends(need(READ))) -> list[m.PlaybookVersionOut]:
    member_of(who)
    return [_version_out(v) for v in playbooks.versions(request.app.state.workspace.store)]


@router.get("/playbook/versions/{number}", response_model=m.PlaybookSource,
            responses={**m.ERRORS, 404: {"model": m.Error}}, tags=["playbook"])
def playbook_version(request: Request, number: int = Path(ge=1, le=2**31),
                     who: Principal = Depends(need(READ))) -> m.PlaybookSource:
    member_of(who)
    try:
        version, source = playbooks.version(request.app.state.workspace.store, number)
    except playbooks.PlaybookWorkflowError as exc:
        raise ApiError(404, "playbook_version_not_found", str(exc)) from None
    return m.PlaybookSource(version=_version_out(version), source=source)


@router.post("/playbook/check", response_model=m.CheckOut,
             responses={**m.ERRORS, 413: {"model": m.Error}}, tags=["playbook"])
async def playbook_check(source: str = Body(..., embed=True,
                                            max_length=playbooks.MAX_SOURCE_BYTES),
                         who: Principal = Depends(need(READ))) -> m.CheckOut:
    """Check a playbook's YAML (errors, warnings, unreachable rules); saves nothing."""
    from escapevelocity.domain.playbook_check import as_dict
    from escapevelocity.web.routes_playbook import bounded_check

    member_of(who)
    report = await bounded_check(source)
    return m.CheckOut(ok=report.ok, report=_plain(as_dict(report)))


def _plain(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value, enc_hook=str))


@router.post("/playbook/explain", response_model=m.ExplainOut,
             responses={**m.ERRORS, 422: {"model": m.Error}}, tags=["playbook"])
def playbook_explain(request: Request, body: m.ExplainIn,
                     who: Principal = Depends(need(READ))) -> m.ExplainOut:
    """The active playbook's decision for a mention, and why each rule matched or not."""
    from escapevelocity.domain.playbook.spec import LEVELS
    from escapevelocity.services.parse import from_object

    member_of(who)
    if body.crisis_level not in LEVELS:
        raise ApiError(422, "invalid_request", f"crisis_level is one of {', '.join(LEVELS)}")
    ws = request.app.state.workspace
    now = ws.clock.now()
    try:
        mention = from_object({"source_id": "explain", "channel": body.channel,
                               "text": body.text, "created_at": now.astimezone(UTC).isoformat(),
                               "author": {"handle": body.author, "followers": body.followers,
                                          "verified": body.verified}}, now)
    except (ValueError, msgspec.ValidationError) as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    triager = ws.triager()
    signals = triager.signals(mention)
    ex = triager.playbook.explain(mention, signals, Context(crisis_level=body.crisis_level,
                                                            now=now))
    return m.ExplainOut(
        playbook=f"{triager.playbook.name} ({triager.playbook.version})",
        decision=_plain(msgspec.to_builtins(ex.decision)),
        signals=_plain(msgspec.to_builtins(signals)),
        steps=[m.ExplainStep(rule=s.rule.id, matched=s.matched,
                             checks=[_plain(dataclasses.asdict(c)) for c in s.checks])
               for s in ex.steps])


# --- KPIs -------------------------------------------------------------------------------------

@router.get("/kpis", response_model=m.KpisOut, responses=m.ERRORS, tags=["reports"])
def kpis(request: Request, clock: str = Query("first_response", pattern="^[a-z_]{1,32}$"),
         who: Principal = Depends(need(REPORTS))) -> m.KpisOut:
    """SLA met % per team of the member's sight (the Team page's figures)."""
    member = member_of(who)
    if clock not in CLOCKS:
        raise ApiError(422, "invalid_request", f"clock is one of {', '.join(CLOCKS)}")
    ws, org = request.app.state.workspace, org_of(request)
    view = overview(ws, org, set(access.visible_teams(org, member)), ws.clock.now(),
                    clock=clock)
    return m.KpisOut(clock=view.clock, teams=[
        m.KpiTally(label=t.id, met_percent=t.met.percent if t.met else None,
                   total=t.met.total if t.met else 0) for t in view.teams])


# --- the event log ----------------------------------------------------------------------------

def _sees_workspace(member: Member) -> bool:
    return perm.allowed((member.role,), perm.CONFIGURE)


@router.get("/events", response_model=m.EventPage, responses=m.ERRORS, tags=["events"])
def events(request: Request, response: Response,
           after: int = Query(0, ge=0, le=2**62, description="the last event id you have"),
           limit: int = Query(100, ge=1, le=500),
           who: Principal = Depends(need(READ))) -> m.EventPage:
    """The log after `after`, oldest first: for consumers that keep their own copy. Events of
    cases out of the member's sight are left out (the cursor still moves past them)."""
    member = member_of(who)
    ws, org = request.app.state.workspace, org_of(request)
    with ws.store.begin() as tx:
        batch = tx.events.since(after, limit)
        ids = {e.stream for e in batch if CASE_ID.fullmatch(e.stream)}
        cases = tx.cases.get_many(ids) if ids else {}
    teams = access.visible_teams(org, member)
    shown = []
    for e in batch:
        case = cases.get(e.stream)
        if case is not None:
            if access.may_see(org, member, case, teams):
                shown.append(event_out(e))
        elif not CASE_ID.fullmatch(e.stream) and _sees_workspace(member):
            shown.append(event_out(e))
    cursor = batch[-1].seq if batch else after
    if len(batch) == limit:
        url = request.url.include_query_params(after=cursor, limit=limit)
        response.headers["Link"] = f'<{url}>; rel="next"'
    return m.EventPage(items=shown, next_cursor=cursor or 0)


# --- mentions in ------------------------------------------------------------------------------

@router.post("/mentions", status_code=202, response_model=m.IngestOut,
             responses={**m.ERRORS, 400: {"model": m.Error}, 413: {"model": m.Error},
                        415: {"model": m.Error}, 422: {"model": m.Error},
                        503: {"model": m.Error}}, tags=["mentions"],
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"oneOf": [
                     {"type": "object"}, {"type": "array", "items": {"type": "object"}}]}}}}})
async def post_mentions(request: Request,
                        who: Principal = Depends(need(INGEST))) -> Response:
    """One mention or a list (the shape of POST /api/mentions); 202 with what was stored."""
    from escapevelocity.web.routes_api import post_mentions as take

    answer = await take(request, token=who.name)
    if answer.status_code == 202:
        return answer
    data = json.loads(answer.body)
    code = {422: "no_valid_mention", 503: "database_busy"}.get(answer.status_code, "error")
    refused = data.get("refused", [])
    return JSONResponse({"error": {"code": code, "message": data.get("detail", ""),
                                   "refused": refused}},
                        status_code=answer.status_code, headers=dict(
                            (k, v) for k, v in answer.headers.items() if k == "retry-after"))


# --- tokens -----------------------------------------------------------------------------------

def _token_out(info: Any) -> m.TokenOut:
    return m.TokenOut(id=info.id, name=info.name, kind=info.kind, member=info.member,
                      scopes=info.scopes.split(), created_at=info.created_at,
                      created_by=info.created_by, last_used_at=info.last_used_at,
                      expires_at=info.expires_at, revoked_at=info.revoked_at)


@router.get("/tokens", response_model=list[m.TokenOut], responses=m.ERRORS, tags=["tokens"])
def list_tokens(request: Request, who: Principal = Depends(need(ADMIN))) -> list[m.TokenOut]:
    """The member's tokens (every token, for admins); never the tokens themselves."""
    member = member_of(who)
    return [_token_out(t) for t in tokens.listed(request.app.state.workspace.store, member.id)]


@router.post("/tokens", status_code=201, response_model=m.TokenCreated,
             responses={**m.ERRORS, 422: {"model": m.Error}}, tags=["tokens"])
def create_token(request: Request, body: m.TokenIn,
                 who: Principal = Depends(need(ADMIN))) -> m.TokenCreated:
    member = member_of(who)
    ws = request.app.state.workspace
    expires = body.expires_at
    if expires is not None and expires.tzinfo is None:
        expires = expires.replace(tzinfo=UTC)
    try:
        secret, info = tokens.create(ws.store, ws.clock, by=member.id, name=body.name,
                                     kind=body.kind, scopes=body.scopes, member=body.member,
                                     expires=expires)
    except tokens.TokenError as exc:
        raise ApiError(422, "invalid_token_request", str(exc)) from None
    return m.TokenCreated(token=secret, info=_token_out(info))


@router.delete("/tokens/{token_id}", response_model=m.TokenOut,
               responses={**m.ERRORS, 404: {"model": m.Error}}, tags=["tokens"])
def revoke_token(request: Request, token_id: str = Path(max_length=12),
                 who: Principal = Depends(need(ADMIN))) -> m.TokenOut:
    member = member_of(who)
    ws = request.app.state.workspace
    try:
        return _token_out(tokens.revoke(ws.store, ws.clock, by=member.id, token_id=token_id))
    except LookupError as exc:
        raise ApiError(404, "token_not_found", str(exc)) from None
