"""Bulk actions on a filtered selection: /bulk.

The list is a search (domain/search: the same filters, in the URL), counted and paged, never
cut off silently. A member ticks cases on the page, or takes every case the filter matches
("all N matching"): that asks for confirmation with the count first, and the selection is
computed again from the filter when confirmed, in the member's sight. Each case then runs
through services/bulk (its own command, permission and claim guard), and the page reports
per case: done, or skipped with the reason.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import access, search
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import Member
from escapevelocity.services import bulk
from escapevelocity.services import search as finder
from escapevelocity.services.casetx import CaseError
from escapevelocity.web.auth import check_csrf, member_of, org_of
from escapevelocity.web.routes_search import choices, mask_rows, page_links
from escapevelocity.web.views import CASE_ID

router = APIRouter(tags=["bulk"])
# "All matching" takes at most this many cases in one go; past it the page asks for a
# narrower filter (each case is its own command: 2,000 take a minute or two).
MAX_FILTERED = 2_000


def _query(params: Any) -> search.Query:
    """The bulk list's filter: open cases unless the filter says otherwise."""
    params = dict(params)
    if not any(k in params for k in (*search.FIELDS, "q", "status")):
        params["status"] = "open"
    params.pop("show", None)
    return search.parse(params)


async def _page(request: Request, member: Member, q: search.Query, status: int = 200,
                **extra: Any) -> HTMLResponse:
    ws = request.app.state.workspace
    found = await run_in_threadpool(finder.find, ws.store, ws.clock, member.id, q)
    rows = mask_rows(found["rows"])
    links = page_links(q, found["total"], found["more"], "/bulk")
    links["last_row"] = q.offset + len(rows)
    context = {"me": member, "q": q, "cases": rows, "links": links,
               "filter": finder.query_string(q), "actions": bulk.ACTIONS,
               "may_bulk": perm.allowed((member.role,), perm.BULK), "results": None,
               "error": "", "confirm": None, "max_filtered": MAX_FILTERED,
               **choices(request, member, found["teams"]), **extra}
    return request.app.state.render(request, "engage_bulk.html", context, status)


@router.get("/bulk", response_class=HTMLResponse)
async def bulk_page(request: Request, member: Member = Depends(member_of)) -> HTMLResponse:
    return await _page(request, member, _query(request.query_params))


def _words(value: str) -> list[str]:
    return [w for w in re.split(r"[,\s]+", value) if w][:50]


@router.post("/bulk", response_class=HTMLResponse)
async def bulk_run(request: Request, member: Member = Depends(member_of)) -> HTMLResponse:
    await check_csrf(request)
    form = await request.form()
    ws = request.app.state.workspace
    q = _query(parse_qsl(str(form.get("filter", ""))[:2000]))
    action = str(form.get("action", ""))
    args = {"to": str(form.get("to", ""))[:64] or None,
            "team": str(form.get("team", ""))[:64] or None,
            "tags": _words(str(form.get("tags", ""))[:1000]),
            "note": str(form.get("note", ""))[:2000]}
    if not perm.allowed((member.role,), perm.BULK):
        return await _page(request, member, q, 403,
                           error=f"{member.id} may not bulk: your role does not run bulk actions")
    if str(form.get("scope", "")) == "all":
        ids = await run_in_threadpool(finder.matching_ids, ws.store, ws.clock, member.id, q,
                                      MAX_FILTERED + 1)
        if len(ids) > MAX_FILTERED:
            return await _page(request, member, q, 400, error=(
                f"more than {MAX_FILTERED:,} cases match: narrow the filter and try again"))
        confirmed = str(form.get("confirm", ""))
        if confirmed != str(len(ids)):
            # Ask first, with the count; a count that moved since the question asks again.
            return await _page(request, member, q, confirm={
                "count": len(ids), "action": action, "moved": bool(confirmed),
                "summary": search.summary(q), **{k: form.get(k, "") for k in
                                                 ("to", "team", "tags", "note")}})
    else:
        ids = [str(x) for x in form.getlist("case")][: bulk.MAX_CASES + 1]
    org = org_of(request)
    with ws.store.begin() as tx:  # a case the member cannot see is reported, not touched
        found = tx.cases.get_many([i for i in ids if CASE_ID.fullmatch(i)])
    teams = access.visible_teams(org, member)
    visible = {i for i, c in found.items() if access.may_see(org, member, c, teams)}
    status, results, error = 200, None, ""
    try:
        done = await run_in_threadpool(
            bulk.run, ws.store, ws.clock, member.id, [i for i in ids if i in visible], action,
            cap=MAX_FILTERED, **args)
        results = done + [bulk.Result(i, False, "no such case in your teams' inboxes")
                          for i in ids if i not in visible]
    except perm.PermissionDenied as exc:
        status, error = 403, str(exc)
    except CaseError as exc:
        status, error = 400, str(exc)
    return await _page(request, member, q, status, results=results, error=error)

