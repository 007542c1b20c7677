"""The inbox: a team's open cases, soonest SLA first, refreshed live by the page's SSE stream."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import access
from escapevelocity.domain import cases as projection
from escapevelocity.domain.org import Member
from escapevelocity.domain.pii import mask_pii
from escapevelocity.web.auth import member_of, org_of

router = APIRouter(tags=["inbox"])
VIEWS = ("queue", "mine", "resolved")


def _query(request: Request, member: Member, view: str, team: str) -> dict[str, Any]:
    org = org_of(request)
    allowed = access.visible_teams(org, member)
    teams = sorted(allowed) if team in ("", "all") or team not in allowed else [team]
    store = request.app.state.workspace.store
    with store.begin() as tx:
        if view == "mine":
            rows = tx.cases.inbox(teams=teams, assignee=member.id)
            claimed = [c for c in tx.cases.inbox(teams=teams, limit=500)
                       if c["claimed_by"] == member.id and c["assignee"] != member.id]
            rows = sorted(rows + claimed, key=_due_key)
        elif view == "resolved":
            rows = tx.cases.inbox(teams=teams, states=("resolved",))
        else:
            rows = tx.cases.inbox(teams=teams)
        last_seq = tx.events.last_seq()
    now = request.app.state.workspace.clock.now()
    for row in rows:
        row["title"] = mask_pii(row["title"])
        row["holder"] = access.holder(row, now)  # an expired lease is shown as not held
    names = {t.id: t.name for t in org.teams}
    return {"cases": rows, "view": view, "team": team if team in allowed else "all",
            "teams": [(t, names.get(t, t)) for t in sorted(allowed)], "last_seq": last_seq,
            "states": projection.OPEN_STATES}


def _due_key(case: dict[str, Any]) -> tuple:
    return (case["sla_due"] is None, case["sla_due"] or case["opened_at"])


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, member: Member = Depends(member_of),
                view: str = Query("queue", pattern="^(queue|mine|resolved)$"),
                team: str = Query("all", max_length=64)) -> HTMLResponse:
    data = await run_in_threadpool(_query, request, member, view, team)
    return request.app.state.render(request, "inbox.html", {"me": member, **data})


@router.get("/inbox/rows", response_class=HTMLResponse)
async def inbox_rows(request: Request, member: Member = Depends(member_of),
                     view: str = Query("queue", pattern="^(queue|mine|resolved)$"),
                     team: str = Query("all", max_length=64)) -> HTMLResponse:
    data = await run_in_threadpool(_query, request, member, view, team)
    return request.app.state.render(request, "_rows.html", {"me": member, **data})
