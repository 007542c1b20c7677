"""/api/v1/cases: list (the inbox's filters, cursor paging), one case in full, and its actions.

Every action calls the same service command as the case page (services/cases, approvals,
annotate, corrections), acting as the token's member, so the access policy (domain/access)
refuses here exactly what it refuses there. A case outside the member's sight is 404, as on
the pages. Reply and approve send words to customers: an Idempotency-Key makes a retry answer
the first result instead of sending twice (web/api_v1/idempotency.py).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import access
from escapevelocity.domain import cases as projection
from escapevelocity.domain import events as ev
from escapevelocity.domain import search as search_query
from escapevelocity.domain.cases import Case
from escapevelocity.domain.correct import CorrectionError
from escapevelocity.domain.org import Member
from escapevelocity.domain.pii import mask_pii
from escapevelocity.services import annotate, approvals, corrections
from escapevelocity.services import cases as commands
from escapevelocity.services import search as search_service
from escapevelocity.services.tokens import ACT, READ, Principal
from escapevelocity.web.api_v1 import idempotency
from escapevelocity.web.api_v1 import models as m
from escapevelocity.web.api_v1.auth import ApiError, member_of, need
from escapevelocity.web.auth import org_of
from escapevelocity.web.deps import CaseAccess, load_visible
from escapevelocity.web.views import conversation

router = APIRouter(prefix="/api/v1", tags=["cases"])
CaseId = Path(max_length=40, description="a case id: c + 12 hex digits")
DraftId = Path(max_length=64)
IdemKey = Header(None, alias="Idempotency-Key", max_length=200,
                 description="the same key answers the same result again, and sends once")
VIEWS = ("queue", "mine", "resolved", "all")
FILTERS = ("team", "priority", "track", "channel", "situation")


def event_out(e: Any) -> m.EventOut:
    return m.EventOut(seq=e.seq, stream=e.stream, kind=e.kind, at=e.at, actor=e.actor,
                      data=e.data)


def _words(value: str | None) -> list[str]:
    return [w for w in (value or "").split(",") if w]


def summary(case: Case, allowed: frozenset[str], now: Any) -> m.CaseSummary:
    return m.CaseSummary(
        id=case.id, state=case.state, team=case.team,
        assignee=case.assignee, track=case.track, priority=case.priority,
        visibility=case.visibility, approval=case.approval,
        approval_state=case.approval_state or "", channel=case.channel,
        author_handle=case.author_handle, title=mask_pii(case.title),
        holder=access.holder(case, now), claim_until=case.claim_until,
        sla_due=case.sla_due, opened_at=case.opened_at,
        updated_at=case.updated_at, resolved_at=case.resolved_at,
        mention_count=case.mention_count, situation=case.situation,
        sentiment=case.sentiment, tags=_words(case.tags),
        flags=_words(case.flags), allowed_actions=sorted(allowed))


def _cursor(value: str) -> str:
    if not value:
        return ""
    try:
        after = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        after = "?"
    if not after.startswith("case:") or len(after) > 60:
        raise ApiError(400, "invalid_cursor", "the cursor is not one this API gave out")
    return after[5:]


def _encode(case_id: str) -> str:
    return base64.urlsafe_b64encode(f"case:{case_id}".encode()).decode().rstrip("=")


def _list(request: Request, member: Member, view: str, filters: dict[str, str], q: str,
          after: str, limit: int) -> tuple[list[m.CaseSummary], str | None]:
    ws = request.app.state.workspace
    org = org_of(request)
    teams = sorted(access.visible_teams(org, member))
    states = {"queue": projection.OPEN_STATES, "mine": projection.OPEN_STATES,
              "resolved": ("resolved",), "all": None}[view]
    with ws.store.begin() as tx:
        rows = tx.cases.page(teams=teams, member=member.id, states=states,
                             assignee=member.id if view == "mine" else None, filters=filters,
                             search=q, after=after, limit=limit + 1)
        factor = tx.signin.factor_rule()
    now = ws.clock.now()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [summary(c, access.allowed_actions(org, member, c, now, factor=factor), now)
             for c in rows if access.may_see(org, member, c)]
    return items, (_encode(rows[-1].id) if more and rows else None)


@router.get("/cases", response_model=m.CasePage, responses=m.ERRORS)
async def list_cases(
        request: Request, response: Response, who: Principal = Depends(need(READ)),
        view: str = Query("queue", pattern="^(queue|mine|resolved|all)$",
                          description="queue: open cases of the member's teams; mine: "
                                      "assigned to them; resolved; all"),
        team: str | None = Query(None, max_length=64),
        priority: str | None = Query(None, max_length=4),
        track: str | None = Query(None, max_length=64),
        channel: str | None = Query(None, max_length=32),
        situation: str | None = Query(None, max_length=32),
        q: str = Query("", max_length=100, description="words in the case's title"),
        cursor: str = Query("", max_length=100),
        limit: int = Query(50, ge=1, le=200)) -> m.CasePage:
    """Cases in the member's sight, by id, one page at a time (Link: rel="next")."""
    member = member_of(who)
    chosen = {"team": team, "priority": priority, "track": track, "channel": channel,
              "situation": situation}
    filters = {k: v for k, v in chosen.items() if v}
    items, nxt = await run_in_threadpool(_list, request, member, view, filters, q,
                                         _cursor(cursor), limit)
    if nxt:
        params = {k: v for k, v in request.query_params.items() if k != "cursor"}
        url = request.url.replace(query=urlencode({**params, "cursor": nxt}))
        response.headers["Link"] = f'<{url}>; rel="next"'
    return m.CasePage(items=items, next_cursor=nxt)


def _search(request: Request, member: Member, q: search_query.Query) -> m.SearchPage:
    ws = request.app.state.workspace
    org = org_of(request)
    found = search_service.find(ws.store, ws.clock, member.id, q)
    with ws.store.begin() as tx:
        factor = tx.signin.factor_rule()
    now = ws.clock.now()
    items = [summary(c, access.allowed_actions(org, member, c, now, factor=factor), now)
             for c in found["rows"] if access.may_see(org, member, c)]
    return m.SearchPage(items=items, total=found["total"], more=found["more"], page=q.page,
                        per_page=q.per_page)


@router.get("/search", response_model=m.SearchPage, responses=m.ERRORS)
async def search_cases(
        request: Request, who: Principal = Depends(need(READ)),
        q: str = Query("", max_length=search_query.MAX_TEXT,
                       description="words (full text over the cases' mentions; `refun*` "
                                   "for any ending)"),
        channel: str = Query("", max_length=32), status: str = Query("", max_length=16),
        situation: str = Query("", max_length=32), sentiment: str = Query("", max_length=16),
        author_class: str = Query("", max_length=32), tag: str = Query("", max_length=64),
        team: str = Query("", max_length=64), assignee: str = Query("", max_length=64),
        priority: str = Query("", max_length=4),
        sla: str = Query("", max_length=16, description=", ".join(search_query.SLA_STATES)),
        since: str = Query("", max_length=10, description="YYYY-MM-DD"),
        until: str = Query("", max_length=10, description="YYYY-MM-DD, inclusive"),
        page: int = Query(1, ge=1, le=10_000),
        per_page: int = Query(50, description="one of " + ", ".join(
            map(str, search_query.PAGE_SIZES)))) -> m.SearchPage:
    """The search of the /search page and the inbox's saved views, over cases: the same
    words, filters and windows (one text of the query: domain/search.py)."""
    member = member_of(who)
    query = search_query.parse({k: str(v) for k, v in {
        "q": q, "channel": channel, "status": status, "situation": situation,
        "sentiment": sentiment, "author_class": author_class, "tag": tag, "team": team,
        "assignee": assignee, "priority": priority, "sla": sla, "since": since,
        "until": until, "page": page, "per_page": per_page}.items()})
    if query.problems:
        raise ApiError(422, "invalid_filter", "; ".join(query.problems))
    return await run_in_threadpool(_search, request, member, query)


def _seen(request: Request, who: Principal, case_id: str) -> CaseAccess:
    return load_visible(request, member_of(who), case_id)


def _detail(request: Request, seen: CaseAccess) -> m.CaseDetail:
    ws = request.app.state.workspace
    with ws.store.begin() as tx:
        rows = conversation(tx.mentions.of_case(seen.id))
        history = tx.events.stream(seen.id)
    decided = next((e.data for e in reversed(history) if e.kind == ev.DECIDED), {})
    drafts = approvals.fold_drafts(history)
    talk = [m.MentionOut(key=r["mention"].key, channel=r["mention"].channel,
                         kind=r["mention"].kind, created_at=r["mention"].created_at,
                         author_handle=r["mention"].author.handle,
                         author_name=mask_pii(r["mention"].author.name), text=r["text"])
            for r in rows]
    replies = [{"at": e.at, "actor": e.actor, "text": e.data.get("text", ""),
                "visibility": e.data.get("visibility", "public")}
               for e in history if e.kind == ev.REPLIED]
    return m.CaseDetail(
        case=summary(seen.case, seen.allowed, seen.now), conversation=talk, replies=replies,
        signals=decided.get("signals", {}), decision=decided.get("decision", {}),
        drafts=[m.DraftOut(id=d.id, submitter=d.submitter, state=d.state, approver=d.approver,
                           text=d.text, options=d.options) for d in drafts],
        history=[event_out(e) for e in history],
        last_seq=max((e.seq or 0 for e in history), default=0))


@router.get("/cases/{case_id}", response_model=m.CaseDetail, responses=m.CASE_ERRORS)
async def get_case(request: Request, case_id: str = CaseId,
                   who: Principal = Depends(need(READ))) -> m.CaseDetail:
    """The case with its conversation (PII masked), signals, decision, drafts and history."""
    seen = await run_in_threadpool(_seen, request, who, case_id)
    return await run_in_threadpool(_detail, request, seen)


async def _act(request: Request, who: Principal, case_id: str,
               run: Callable[[Any, Any, str], Any]) -> m.ActionResult:
    """Run one command as the token's member; the answer is the event and the case after."""
    member = member_of(who)

    def go() -> m.ActionResult:
        seen = load_visible(request, member, case_id)  # 404 before anything else
        ws = request.app.state.workspace
        try:
            event = run(ws, seen, member.id)
        except ValueError as exc:  # a value the command refuses (a tag's shape, a label)
            raise ApiError(422, "invalid_request", str(exc)) from None
        with ws.store.begin() as tx:  # as logged, with its id (None: nothing changed)
            stream = tx.events.stream(seen.id)
        logged = [e for e in stream if event is None or (e.kind == event.kind
                                                         and e.actor == event.actor)]
        event = logged[-1] if logged else (event or stream[-1])
        after = load_visible(request, member, case_id) if _still_visible(
            request, member, case_id) else seen
        return m.ActionResult(event=event_out(event),
                              case=summary(after.case, after.allowed, after.now))
    return await run_in_threadpool(go)


def _still_visible(request: Request, member: Member, case_id: str) -> bool:
    try:
        load_visible(request, member, case_id)
    except access.NotVisible:
        return False
    return True


def _claim(ws: Any, seen: CaseAccess, me: str) -> Any:
    return commands.claim(ws.store, ws.clock, seen.id, me)


@router.post("/cases/{case_id}/claim", response_model=m.ActionResult, responses=m.CASE_ERRORS)
async def claim(request: Request, case_id: str = CaseId,
                who: Principal = Depends(need(ACT))) -> m.ActionResult:
    """Take (or extend) the lease to answer; 409 claim_taken names who holds it."""
    return await _act(request, who, case_id, _claim)


@router.post("/cases/{case_id}/release", response_model=m.ActionResult,
             responses=m.CASE_ERRORS)
async def release(request: Request, case_id: str = CaseId,
                  who: Principal = Depends(need(ACT))) -> m.ActionResult:
    return await _act(request, who, case_id,
                      lambda ws, seen, me: commands.release(ws.store, ws.clock, seen.id, me))


@router.post("/cases/{case_id}/reply", response_model=m.ActionResult, responses=m.CASE_ERRORS)
async def reply(request: Request, body: m.ReplyIn, case_id: str = CaseId,
                who: Principal = Depends(need(ACT)),
                idempotency_key: str | None = IdemKey) -> Response:
    """Send a reply (held as a draft when it needs approval: the event says which). The member
    must hold the claim. With an Idempotency-Key a retry sends nothing and answers the same."""
    return await idempotency.once(
        request, who, idempotency_key,
        lambda: _act(request, who, case_id, lambda ws, seen, me: commands.reply(
            ws.store, ws.clock, seen.id, me, body.text, template=body.template,
            seen_seq=body.seen_seq)))


@router.post("/cases/{case_id}/resolve", response_model=m.ActionResult,
             responses=m.CASE_ERRORS)
async def resolve(request: Request, body: m.OptionalNote | None = None,
                  case_id: str = CaseId,
                  who: Principal = Depends(need(ACT))) -> m.ActionResult:
    note = body.note if body else ""
    return await _act(request, who, case_id,
                      lambda ws, seen, me: commands.resolve(ws.store, ws.clock, seen.id, me,
                                                            note))


@router.post("/cases/{case_id}/reopen", response_model=m.ActionResult, responses=m.CASE_ERRORS)
async def reopen(request: Request, body: m.OptionalNote | None = None,
                 case_id: str = CaseId,
                 who: Principal = Depends(need(ACT))) -> m.ActionResult:
    note = body.note if body else ""
    return await _act(request, who, case_id,
                      lambda ws, seen, me: commands.reopen(ws.store, ws.clock, seen.id, me,
                                                           note))


@router.post("/cases/{case_id}/notes", response_model=m.ActionResult, responses=m.CASE_ERRORS)
async def note(request: Request, body: m.NoteIn, case_id: str = CaseId,
               who: Principal = Depends(need(ACT))) -> m.ActionResult:
    """An internal note (never sent to the customer); @member mentions notify."""
    return await _act(request, who, case_id,
                      lambda ws, seen, me: annotate.note(ws.store, ws.clock, seen.id, me,
                                                         body.text))


@router.post("/cases/{case_id}/tags", response_model=m.ActionResult, responses=m.CASE_ERRORS)
async def tags(request: Request, body: m.TagsIn, case_id: str = CaseId,
               who: Principal = Depends(need(ACT))) -> m.ActionResult:
    command = annotate.tag if body.kind == "tag" else annotate.flag
    return await _act(request, who, case_id,
                      lambda ws, seen, me: command(ws.store, ws.clock, seen.id, me,
                                                   add=body.add, remove=body.remove))


@router.post("/cases/{case_id}/corrections", response_model=m.ActionResult,
             responses=m.CASE_ERRORS)
async def correct(request: Request, body: m.CorrectionIn, case_id: str = CaseId,
                  who: Principal = Depends(need(ACT))) -> m.ActionResult:
    """Correct one signal of the case (situation, sentiment, …): the case is decided again."""

    def run(ws: Any, seen: CaseAccess, me: str) -> Any:
        try:
            corrections.correct(ws, seen.id, me, body.signal, body.label, body.why)
        except CorrectionError as exc:
            raise ApiError(422, "invalid_label", str(exc)) from None
        with ws.store.begin() as tx:
            return next(e for e in reversed(tx.events.stream(seen.id))
                        if e.kind == ev.CORRECTED)
    return await _act(request, who, case_id, run)


@router.post("/cases/{case_id}/drafts/{draft_id}/approve", response_model=m.ActionResult,
             responses=m.CASE_ERRORS)
async def approve(request: Request, body: m.ApproveIn | None = None, case_id: str = CaseId,
                  draft_id: str = DraftId, who: Principal = Depends(need(ACT)),
                  idempotency_key: str | None = IdemKey) -> Response:
    """Approve the draft awaiting this member's decision and send it (as edited in `text`,
    or option `choice`). With an Idempotency-Key a retry sends nothing and answers the same."""
    body = body or m.ApproveIn()
    return await idempotency.once(
        request, who, idempotency_key,
        lambda: _act(request, who, case_id, lambda ws, seen, me: approvals.approve(
            ws.store, ws.clock, seen.id, me, draft_id, text=body.text, choice=body.choice,
            note=body.note)))


@router.post("/cases/{case_id}/drafts/{draft_id}/reject", response_model=m.ActionResult,
             responses=m.CASE_ERRORS)
async def reject(request: Request, body: m.RejectIn, case_id: str = CaseId,
                 draft_id: str = DraftId,
                 who: Principal = Depends(need(ACT))) -> m.ActionResult:
    return await _act(request, who, case_id,
                      lambda ws, seen, me: approvals.reject(ws.store, ws.clock, seen.id, me,
                                                            draft_id, body.note))
