"""Search over cases and mentions, and saved views: /search and /views.

Every filter lives in the URL's query string (domain/search.parse), so a search, a page of it
and a saved view are all links. The routes parse input and call services/search; the query
runs in the member's sight.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import cases as projection
from escapevelocity.domain import permissions as perm
from escapevelocity.domain import search
from escapevelocity.domain.cases import Case, replace
from escapevelocity.domain.org import Member
from escapevelocity.domain.pii import mask_pii
from escapevelocity.services import search as finder
from escapevelocity.services.casetx import CaseError
from escapevelocity.web.auth import check_csrf, member_of, org_of
from escapevelocity.web.views import flash, pop_flash

router = APIRouter(tags=["search"])


def choices(request: Request, member: Member, teams: list[str]) -> dict[str, Any]:
    """What the filter form offers: every value a filter takes (teams: those in sight)."""
    names = {t.id: t.name for t in org_of(request).teams}
    return {"choices": search.CHOICES, "team_choices": [(t, names.get(t, t)) for t in teams],
            "states": projection.STATES}


def page_links(q: search.Query, total: int, more: bool, path: str) -> dict[str, Any]:
    """Previous / next links and "N matching" (or "more than N") for a page of `q`."""
    last = max(1, -(-total // q.per_page))
    def link(p: int) -> str:
        return f"{path}?{urlencode(search.params(q, page=p))}"
    return {"total": total, "more": more, "page": q.page,
            "count_window": search.COUNT_WINDOW, "last": last,
            "prev": link(q.page - 1) if q.page > 1 else None,
            "next": link(q.page + 1) if q.page < last or more else None,
            "first_row": q.offset + 1, "last_row": q.offset}


def mask_rows(rows: list[Any]) -> list[Any]:
    """The rows with their titles masked: Cases (a case search) or mention row dicts."""
    return [replace(r, title=mask_pii(r.title)) if isinstance(r, Case)
            else {**r, "title": mask_pii(r["title"])} if r.get("title") else r for r in rows]


@router.get("/search", response_class=HTMLResponse)
async def search_page(request: Request, member: Member = Depends(member_of)) -> HTMLResponse:
    ws = request.app.state.workspace
    q = search.parse(request.query_params)
    found = await run_in_threadpool(finder.find, ws.store, ws.clock, member.id, q)
    rows = mask_rows(found["rows"])
    if q.show == "mentions":
        for r in rows:
            r["text"] = mask_pii(_text(r["body"]))
    links = page_links(q, found["total"], found["more"], "/search")
    links["last_row"] = q.offset + len(rows)
    return request.app.state.render(request, "search.html", {
        "me": member, "q": q, "rows": rows, "views": found["views"], "links": links,
        "qs": finder.query_string(q), "flash": pop_flash(request),
        "may_bulk": perm.allowed((member.role,), perm.BULK),
        **choices(request, member, found["teams"])})


def _text(body: str) -> str:
    import msgspec

    try:
        return str(msgspec.json.decode(body).get("text", ""))[:500]
    except (msgspec.DecodeError, AttributeError):
        return ""


@router.post("/views")
async def save_view(request: Request, member: Member = Depends(member_of)) -> Response:
    await check_csrf(request)
    form = await request.form()
    q = search.parse({k: str(v) for k, v in form.items() if k not in ("name", "scope", "csrf")})
    ws = request.app.state.workspace
    back = f"/search?{finder.query_string(q)}"
    try:
        view_id = await run_in_threadpool(
            finder.save_view, ws.store, ws.clock, member.id, str(form.get("name", ""))[:200],
            q, str(form.get("scope", "me"))[:64])
    except (CaseError, ValueError, perm.PermissionDenied) as exc:
        flash(request, error=f"Not saved: {exc}")
        return RedirectResponse(back, status_code=303)
    flash(request, f"View saved: {str(form.get('name', '')).strip()[:80]}")
    return RedirectResponse(f"/views/{view_id}", status_code=303)


@router.get("/views/{view_id}")
async def open_view(request: Request, view_id: str,
                    member: Member = Depends(member_of)) -> Response:
    ws = request.app.state.workspace
    try:
        view, q = await run_in_threadpool(finder.load_view, ws.store, member.id, view_id[:40])
    except CaseError as exc:
        from fastapi import HTTPException
        raise HTTPException(404, str(exc)) from None
    qs = finder.query_string(q)
    return RedirectResponse(f"/search?{qs}&view={view['id']}" if qs
                            else f"/search?view={view['id']}", status_code=303)


@router.post("/views/{view_id}/delete")
async def delete_view(request: Request, view_id: str,
                      member: Member = Depends(member_of)) -> Response:
    await check_csrf(request)
    ws = request.app.state.workspace
    try:
        await run_in_threadpool(finder.delete_view, ws.store, ws.clock, member.id, view_id[:40])
        flash(request, "View deleted")
    except CaseError as exc:
        flash(request, error=str(exc))
    return RedirectResponse("/search", status_code=303)
