"""Answers on the case page and the figures behind them: reply with a suggested answer (as is,
edited through the reply form, or as a link to a peer answer), mark a question answered by the
community, ask for an automated reply (the guard decides) or withdraw one; `/answers` shows
deflection, automated replies and advocacy with the cases behind every count; the API's
`POST /api/auto-replies` is the integrations' way to the same guarded path.

Every action goes through services/answers.py or services/autoreply.py; the routes translate.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain import saved_replies as lib
from escapevelocity.domain.org import Member
from escapevelocity.services import answers, autoreply, saved_replies
from escapevelocity.services.casetx import CaseError
from escapevelocity.services.outbound import senders_from_env
from escapevelocity.web.auth import bearer_name, member_of
from escapevelocity.web.deps import CaseAccess, visible_case
from escapevelocity.web.routes_case import _act
from escapevelocity.web.views import CASE_ID

router = APIRouter(tags=["answers"])


def suggestions_for(store: Any, question: str, team: str | None = None,
                    values: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The case page's suggested answers (saved replies filled with `values`); never the
    reason a case page fails."""
    try:
        found = answers.suggest(store, question, k=3, team=team)
    except Exception:  # a broken knowledge document must not take the case page down
        return []
    return [{"id": s.entry.id, "score": s.score, "source": s.entry.source, "ref": s.entry.ref,
             "title": s.entry.title, "reason": s.reason, "approved": s.entry.approved,
             "answer": (lib.fill(s.entry.answer, values or {}) if s.entry.source == "saved"
                        else s.entry.answer)} for s in found]


@router.post("/cases/{case_id}/answer")
async def reply_with_answer(request: Request, seen: CaseAccess = Depends(visible_case),
                            entry: str = Form(..., max_length=64),
                            linked: bool = Form(False),
                            score: float = Form(0.0, ge=0.0, le=1.0)) -> Response:
    """One click: send the suggested answer as it is, or a link to the peer answer."""
    ws = request.app.state.workspace

    def run() -> Any:
        found = answers.find(ws.store, entry)
        if found is None:
            raise CaseError(f"no answer {entry!r} in the knowledge store")
        author = seen.case.author_handle or ""
        text = answers.link_text(author, found) if linked else found.answer
        if found.source == "saved":
            text = lib.fill(text, {"author": author, "handle": author, "case": seen.id,
                                   "agent": seen.member.name, "team": seen.case.team or ""})
            saved_replies.check_length(seen.case, text)
        return answers.reply_with(ws.store, ws.clock, seen.id, seen.member.id, entry, text,
                                  linked=linked, score=score)

    def done(event: Any) -> str:
        if event.kind == ev.REPLIED:
            return "Replied with a link to the peer answer." if linked else "Answer sent."
        return "This reply needs approval: it is held as a draft."

    return await _act(request, seen, "reply to", run, done)


@router.post("/cases/{case_id}/community-resolved")
async def community_resolved(request: Request, seen: CaseAccess = Depends(visible_case),
                             ref: str = Form("", max_length=300),
                             note: str = Form("", max_length=500)) -> Response:
    ws = request.app.state.workspace
    return await _act(request, seen, "resolve",
                      lambda: answers.community_resolved(ws.store, ws.clock, seen.id,
                                                         seen.member.id, ref, note),
                      "Resolved: answered by the community.")


def _auto(ws: Any, case_id: str, path: str, by: str) -> autoreply.Outcome:
    return autoreply.attempt(ws.store, ws.clock, case_id, path=path, senders=senders_from_env(),
                             by=by)


@router.post("/cases/{case_id}/auto-reply")
async def auto_reply(request: Request, seen: CaseAccess = Depends(visible_case)) -> Response:
    """Ask for the automated reply; the guard (domain/answers/guard.py) says yes or why not."""
    ws = request.app.state.workspace

    def run() -> autoreply.Outcome:
        if perm.REPLY not in seen.allowed and perm.CLAIM not in seen.allowed:
            raise CaseError("you may not reply to this case")
        return _auto(ws, seen.id, "web", seen.member.id)

    def done(out: autoreply.Outcome) -> str:
        if out.event is None:
            raise CaseError("not sent automatically: " + "; ".join(out.verdict.reasons))
        return "Sent automatically: " + out.verdict.reasons[0]

    return await _act(request, seen, "send an automated reply to", run, done)


@router.post("/cases/{case_id}/auto-reply/withdraw")
async def withdraw(request: Request, seen: CaseAccess = Depends(visible_case),
                   note: str = Form("", max_length=500)) -> Response:
    ws = request.app.state.workspace
    return await _act(request, seen, "withdraw the automated reply on",
                      lambda: autoreply.withdraw(ws.store, ws.clock, seen.id, seen.member.id,
                                                 note, senders=senders_from_env()),
                      "Automated reply withdrawn: the case is back in the queue.")


class AutoReplyRequest(msgspec.Struct, forbid_unknown_fields=True):
    case_id: str


@router.post("/api/auto-replies",
             responses={400: {"description": "not a JSON object with case_id"},
                        401: {"description": "missing or unknown API token"},
                        404: {"description": "no such case"}})
async def api_auto_reply(request: Request, token: str = Depends(bearer_name)) -> JSONResponse:
    """An integration asks for a case's automated reply ({"case_id": "c…"}); 200 with sent
    true/false and the guard's reasons. A workspace token sees every case (as /api/mentions)."""
    try:
        body = msgspec.json.decode(await request.body(), type=AutoReplyRequest)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise HTTPException(400, f"send {{\"case_id\": \"c…\"}}: {exc}") from None
    case_id = body.case_id
    if not CASE_ID.fullmatch(case_id):
        raise HTTPException(404, "no such case")
    ws = request.app.state.workspace
    try:
        out = await run_in_threadpool(_auto, ws, case_id, "api", f"token:{token}")
    except CaseError as exc:
        raise HTTPException(404, str(exc)) from None
    return JSONResponse({"case": case_id, "sent": out.event is not None,
                         "reasons": list(out.verdict.reasons), "source": token})


@router.get("/answers", response_class=HTMLResponse)
async def answers_page(request: Request, member: Member = Depends(member_of)) -> HTMLResponse:
    """Deflection, automated replies and advocacy, each count with the cases behind it."""
    ws = request.app.state.workspace

    def read() -> dict[str, Any]:
        return {"report": answers.report(ws.store, 100), "measured": autoreply.measure(ws.store)}

    data = await run_in_threadpool(read)
    return request.app.state.render(request, "answers.html", {**data, "me": member})
