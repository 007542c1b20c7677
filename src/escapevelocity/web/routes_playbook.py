"""The playbook in the web app: the active version as a wall diagram with per-rule hit counts
from the event log, its Mermaid text, the list of versions, and an editor.

The editor checks a draft exactly as `ev playbook check` does, saves it as a new version with a
change note, and activates a version or asks for the approval its activation needs; approvers
approve or reject here. Every form only parses input and calls one command of
services/playbooks (where the rules and permissions live) and posts the session's CSRF token.
A refusal re-renders the page with the reason (403 not allowed, 409 not now, 422 broken
playbook); success redirects back (303) with a message.
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.adapters.store import Tx
from escapevelocity.domain import permissions as perm
from escapevelocity.domain import rollups
from escapevelocity.domain.org import Member
from escapevelocity.domain.playbook import Playbook, PlaybookError, compile_playbook
from escapevelocity.domain.playbook_check import as_dict, check_source
from escapevelocity.domain.playbook_diagram import mermaid, svg
from escapevelocity.services import playbooks
from escapevelocity.services.playbooks import MAX_SOURCE_BYTES, PlaybookWorkflowError
from escapevelocity.web.auth import check_csrf, member_of
from escapevelocity.web.views import flash, pop_flash

router = APIRouter(tags=["playbook"], dependencies=[Depends(member_of)])
MAX_NOTE = playbooks.MAX_NOTE
# A check is CPU work: it runs on worker threads, at most CHECKS_AT_ONCE at a time (so members
# checking drafts cannot take every thread), and a caller waits at most CHECK_SECONDS for it.
# What one check can cost is bounded by the document limits in domain/playbook/load.py.
CHECKS_AT_ONCE = 2
CHECK_SECONDS = 10.0
_check_slots = anyio.CapacityLimiter(CHECKS_AT_ONCE)


async def bounded_check(text: str) -> Any:
    """`check_source` off the event loop, with a time limit (503 past it)."""
    with anyio.move_on_after(CHECK_SECONDS):
        return await anyio.to_thread.run_sync(functools.partial(check_source, text,
                                                                source="draft"),
                                              limiter=_check_slots, abandon_on_cancel=True)
    raise HTTPException(503, f"the check took longer than {CHECK_SECONDS:g} s; make the "
                             "playbook smaller")


def rule_hits(tx: Tx, version: str | None = None) -> Counter[str]:
    """Cases decided per rule id (DECIDED events; only `version`'s, when given), read from the
    rollup the store keeps as events are appended: a page view reads a few rows, not the log."""
    return rollups.rule_hits(tx.events.rollup(rollups.RULE_HITS), version)


@functools.lru_cache(maxsize=256)
def _compiled(number: int, source: str) -> Playbook:
    """Stored versions never change, so each is compiled once per process."""
    return compile_playbook(source, version=f"v{number}", stored=True)


def _store(request: Request) -> Any:
    workspace = getattr(request.app.state, "workspace", None)
    if workspace is None:
        raise HTTPException(503, "no workspace is configured")
    return workspace.store


def _active(request: Request) -> tuple[Playbook, int, str, Counter[str]]:
    store = _store(request)
    with store.begin() as tx:
        active = tx.playbooks.active()
        if active is None:
            raise HTTPException(404, "this workspace has no active playbook")
        number, source = active
        hits = rule_hits(tx, f"v{number}")
    return _compiled(number, source), number, source, hits


def _page(request: Request, member: Member, *, shown: int | None = None,
          draft: str | None = None, report: Any = None, note: str = "",
          message: str = "", error: str = "") -> dict[str, Any]:
    """Everything the page shows: the diagram of `shown` (default: the active version), the
    versions with what this member may do to each, and the editor holding `draft` (default:
    the shown version's source)."""
    store = _store(request)
    active, active_number, _, _ = _active(request)
    listed = playbooks.versions(store)
    number = shown if shown is not None else active_number
    if number not in {v.number for v in listed}:
        raise HTTPException(404, f"there is no playbook version {number}")
    with store.begin() as tx:
        source = tx.playbooks.source(number) or ""
        hits = rule_hits(tx, f"v{number}")
    playbook = _compiled(number, source)
    diagram = playbook
    if report is not None and report.playbook is not None:
        diagram = report.playbook  # a checked draft is drawn as it would be
    can_edit = perm.allowed((member.role,), perm.EDIT_PLAYBOOK)
    rows = []
    with store.begin() as tx:
        for v in listed:
            needs = ""
            if can_edit and v.status not in (playbooks.ACTIVE, playbooks.PENDING):
                text = tx.playbooks.source(v.number) or ""
                needs = (active.spec.activation_approval
                         or _compiled(v.number, text).spec.activation_approval)
            rows.append({"v": v, "needs": needs,
                         "may_activate": can_edit and v.status not in (playbooks.ACTIVE,
                                                                       playbooks.PENDING),
                         "may_decide": (v.status == playbooks.PENDING
                                        and playbooks.may_approve(member, v.approver)
                                        and member.id not in (v.author, v.requested_by))})
    return {
        "me": member, "playbook": diagram, "version": number, "active_number": active_number,
        "svg": svg(diagram, hits if diagram is playbook else None),
        "total": sum(hits.values()), "source": draft if draft is not None else source,
        "report": as_dict(report) if report is not None else None, "rows": rows,
        "can_edit": can_edit, "note": note, "message": message, "error": error,
        "max_note": MAX_NOTE,
    }


def _render(request: Request, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return request.app.state.render(request, "playbook.html", context, status)


def _back(request: Request, message: str, version: int | None = None) -> RedirectResponse:
    """Back to the page; the message rides in the signed session (views.flash), never in the
    URL, so a crafted link cannot show a success banner of its author's choosing."""
    flash(request, message)
    query = {"version": version} if version is not None else {}
    return RedirectResponse(f"/playbook?{urlencode(query)}#versions".replace("?#", "#"),
                            status_code=303)


def _limit(source: str) -> None:
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise HTTPException(413, f"a playbook is limited to {MAX_SOURCE_BYTES:,} bytes")


@router.get("/playbook", response_class=HTMLResponse)
def playbook_page(request: Request, member: Member = Depends(member_of),
                  version: int | None = Query(None, ge=1)) -> HTMLResponse:
    message, error = pop_flash(request)
    return _render(request, _page(request, member, shown=version, message=message,
                                  error=error))


@router.get("/playbook.svg")
def playbook_svg(request: Request) -> Response:
    playbook, _, _, hits = _active(request)
    return Response(svg(playbook, hits), media_type="image/svg+xml")


@router.get("/playbook.mmd", response_class=PlainTextResponse)
def playbook_mermaid(request: Request) -> str:
    playbook, *_ = _active(request)
    return mermaid(playbook)


@router.post("/playbook/check", response_class=HTMLResponse,
             dependencies=[Depends(check_csrf)])
async def playbook_check(request: Request, member: Member = Depends(member_of),
                         source: str = Form(...),
                         note: str = Form("", max_length=MAX_NOTE)) -> HTMLResponse:
    """Validate a draft exactly as `ev playbook check` does; nothing is saved."""
    _limit(source)
    report = await bounded_check(source)
    context = await run_in_threadpool(_page, request, member, draft=source, report=report,
                                      note=note)
    return _render(request, context, status=200 if report.ok else 422)


@router.post("/playbook/save", response_class=HTMLResponse,
             dependencies=[Depends(check_csrf)])
def playbook_save(request: Request, member: Member = Depends(member_of),
                  source: str = Form(...), note: str = Form("", max_length=MAX_NOTE),
                  activate: bool = Form(False)) -> Response:
    """Save the editor's text as a new version (and activate it or ask for approval)."""
    _limit(source)
    workspace = request.app.state.workspace
    try:
        outcome = playbooks.save(workspace.store, workspace.clock, source, member=member.id,
                                 note=note, activate=activate, origin="draft")
    except PlaybookError as exc:
        report = check_source(source, source="draft")
        return _render(request, _page(request, member, draft=source, report=report, note=note,
                                      error=f"not saved: {exc}"), status=422)
    except perm.PermissionDenied as exc:
        return _render(request, _page(request, member, draft=source, note=note,
                                      error=str(exc)), status=403)
    except PlaybookWorkflowError as exc:
        return _render(request, _page(request, member, draft=source, note=note,
                                      error=f"not saved: {exc}"), status=409)
    return _back(request, outcome.message)


def _step(request: Request, member: Member, number: int, run: Any) -> Response:
    workspace = request.app.state.workspace
    try:
        outcome = run(workspace.store, workspace.clock, number, member=member.id)
    except perm.PermissionDenied as exc:
        return _render(request, _page(request, member, error=str(exc)), status=403)
    except (PlaybookWorkflowError, PlaybookError) as exc:
        return _render(request, _page(request, member, error=str(exc)), status=409)
    return _back(request, outcome.message)


@router.post("/playbook/versions/{number}/activate", dependencies=[Depends(check_csrf)])
def playbook_activate(request: Request, number: int, member: Member = Depends(member_of),
                      note: str = Form("", max_length=MAX_NOTE)) -> Response:
    return _step(request, member, number,
                 lambda store, clock, n, member: playbooks.activate(store, clock, n,
                                                                    member=member, note=note))


@router.post("/playbook/versions/{number}/approve", dependencies=[Depends(check_csrf)])
def playbook_approve(request: Request, number: int, member: Member = Depends(member_of),
                     note: str = Form("", max_length=MAX_NOTE)) -> Response:
    return _step(request, member, number,
                 lambda store, clock, n, member: playbooks.approve(store, clock, n,
                                                                   member=member, note=note))


@router.post("/playbook/versions/{number}/reject", dependencies=[Depends(check_csrf)])
def playbook_reject(request: Request, number: int, member: Member = Depends(member_of),
                    note: str = Form("", max_length=MAX_NOTE)) -> Response:
    return _step(request, member, number,
                 lambda store, clock, n, member: playbooks.reject(store, clock, n,
                                                                  member=member, note=note))


@router.post("/api/playbook/check")
async def playbook_check_api(request: Request) -> Response:
    """The same check as JSON, for editors and CI: POST the YAML as the body. Saves nothing."""
    body = await request.body()
    if len(body) > MAX_SOURCE_BYTES:
        raise HTTPException(413, f"a playbook is limited to {MAX_SOURCE_BYTES:,} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "the playbook must be UTF-8") from None
    report = await bounded_check(text)
    return Response(json.dumps(as_dict(report), default=str), media_type="application/json",
                    status_code=200 if report.ok else 422)


__all__ = ["PlaybookError", "router"]
