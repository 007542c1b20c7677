"""The inbox: a team's open cases, soonest SLA first, counted and paged, refreshed live row by
row.

The page says how many cases the view holds ("N cases") and pages through them; it never
stops silently at a fixed length. The live stream (web/live.py) names the cases that changed;
the page asks `/inbox/rows?ids=…` for those alone and gets back out-of-band swaps (htmx): a
changed row replaced, a row that left the view deleted, a case that entered it added at the
top, and the count. Only the full `/inbox/rows` re-reads the whole page.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import access
from escapevelocity.domain import cases as projection
from escapevelocity.domain.cases import Case
from escapevelocity.domain.org import Member
from escapevelocity.domain.pii import mask_pii
from escapevelocity.web.auth import member_of, org_of
from escapevelocity.web.views import CASE_ID

router = APIRouter(tags=["inbox"])
VIEWS = ("queue", "mine", "resolved")
PER_PAGE = 100
MAX_IDS = 200  # a live update names at most this many cases; more re-reads the page


def _scope(request: Request, member: Member, team: str) -> tuple[list[str], list[tuple]]:
    org = org_of(request)
    allowed = access.visible_teams(org, member)
    teams = sorted(allowed) if team in ("", "all") or team not in allowed else [team]
    names = {t.id: t.name for t in org.teams}
    return teams, [(t, names.get(t, t)) for t in sorted(allowed)]


def _states(view: str) -> tuple[str, ...]:
    return ("resolved",) if view == "resolved" else projection.OPEN_STATES


def _query(request: Request, member: Member, view: str, team: str, page: int
           ) -> dict[str, Any]:
    teams, choices = _scope(request, member, team)
    store = request.app.state.workspace.store
    want = page * PER_PAGE
    with store.begin() as tx:
        if view == "mine":
            assigned = tx.cases.inbox(teams=teams, assignee=member.id, limit=want)
            claimed = [c for c in tx.cases.inbox(teams=teams, limit=max(500, want))
                       if c.claimed_by == member.id and c.assignee != member.id]
            rows = sorted(assigned + claimed, key=_due_key)
            total = tx.cases.count_where(teams, _states(view), assignee=member.id) + len(claimed)
        else:
            rows = tx.cases.inbox(teams=teams, states=_states(view), limit=want)
            total = tx.cases.count_where(teams, _states(view))
        last_seq = tx.events.last_seq()
        views = tx.search.views(member.id, member.teams)
    rows, holders = _shape(request, rows[(page - 1) * PER_PAGE: want])
    last = max(1, -(-total // PER_PAGE))
    base = f"/inbox?view={view}&team={team if team in dict(choices) else 'all'}"
    return {"cases": rows, "holders": holders, "view": view,
            "team": team if team in dict(choices) else "all",
            "teams": choices, "last_seq": last_seq, "states": projection.OPEN_STATES,
            "total": total, "page": page, "last": last, "per_page": PER_PAGE,
            "first_row": (page - 1) * PER_PAGE + 1, "last_row": (page - 1) * PER_PAGE + len(rows),
            "prev": f"{base}&page={page - 1}" if page > 1 else None,
            "next": f"{base}&page={page + 1}" if page < last else None, "views": views}


def _shape(request: Request, rows: list[Case]) -> tuple[list[Case], dict[str, str | None]]:
    """The rows as shown (titles masked) and who holds each, by id (an expired lease is shown
    as not held)."""
    now = request.app.state.workspace.clock.now()
    return ([projection.replace(c, title=mask_pii(c.title)) for c in rows],
            {c.id: access.holder(c, now) for c in rows})


def _due_key(case: Case) -> tuple:
    return (case.sla_due is None, case.sla_due or case.opened_at)


def _changed(request: Request, member: Member, view: str, team: str, ids: list[str],
             shown: set[str]) -> dict[str, Any]:
    """The changed cases of a live update, sorted into what the page must do with each."""
    teams, _ = _scope(request, member, team)
    org = org_of(request)
    sight = access.visible_teams(org, member)
    store = request.app.state.workspace.store
    with store.begin() as tx:
        found = tx.cases.get_many(ids)
    replace, add, gone = [], [], []
    for case_id in ids:
        case = found.get(case_id)
        fits = (case is not None and case.team in teams and case.team in sight
                and case.state in _states(view)
                and (view != "mine" or member.id in (case.assignee, case.claimed_by)))
        if fits:
            (replace if case_id in shown else add).append(case)
        elif case_id in shown:
            gone.append(case_id)
    replace, holders = _shape(request, replace)
    add, added = _shape(request, add)
    holders.update(added)
    add.sort(key=_due_key, reverse=True)  # each is put first: the soonest ends on top
    total = None  # a count only when rows came or went (it is an index range, not free)
    if add or gone:
        with store.begin() as tx:
            total = tx.cases.count_where(teams, _states(view),
                                         assignee=member.id if view == "mine" else None)
    return {"replace": replace, "add": add, "gone": gone, "total": total, "holders": holders}


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, member: Member = Depends(member_of),
                view: str = Query("queue", pattern="^(queue|mine|resolved)$"),
                team: str = Query("all", max_length=64),
                page: int = Query(1, ge=1, le=10_000)) -> HTMLResponse:
    data = await run_in_threadpool(_query, request, member, view, team, page)
    return request.app.state.render(request, "inbox.html", {"me": member, **data})


@router.get("/inbox/rows", response_class=HTMLResponse)
async def inbox_rows(request: Request, member: Member = Depends(member_of),
                     view: str = Query("queue", pattern="^(queue|mine|resolved)$"),
                     team: str = Query("all", max_length=64),
                     page: int = Query(1, ge=1, le=10_000),
                     ids: str = Query("", max_length=MAX_IDS * 14),
                     shown: str = Query("", max_length=MAX_IDS * 14)) -> HTMLResponse:
    wanted = [i for i in dict.fromkeys(ids.split(",")) if CASE_ID.fullmatch(i)][:MAX_IDS]
    if wanted:
        on_page = {i for i in shown.split(",") if CASE_ID.fullmatch(i)}
        data = await run_in_threadpool(_changed, request, member, view, team, wanted, on_page)
        return request.app.state.render(request, "_rows_changed.html",
                                        {"me": member, "view": view, **data})
    data = await run_in_threadpool(_query, request, member, view, team, page)
    return request.app.state.render(request, "_rows.html", {"me": member, **data})
