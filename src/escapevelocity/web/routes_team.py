"""The Team page: per visible team its queue depth and oldest due case, its members with
presence (as routing sees it: auto-away from real activity) and load against capacity, and
"SLA met %" per track, team and member from the event log, with a small bar chart; a member
sets their own presence here (online / away / offline).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain.access import visible_teams
from escapevelocity.domain.org import PRESENCE, Member
from escapevelocity.domain.sla import CLOCKS, Tally
from escapevelocity.services.live_routing import OFFLINE_FACTOR
from escapevelocity.services.team import overview
from escapevelocity.web import auth

router = APIRouter(tags=["team"], dependencies=[Depends(auth.member_of)])

CHART_WIDTH = 320  # px of the longest bar (100 %)
BAR = 18  # px per bar row


def chart(rows: list[tuple[str, Tally | None]]) -> dict[str, Any]:
    """Bar geometry for the inline SVG (attributes only: the CSP allows no inline styles)."""
    bars = []
    for i, (label, tally) in enumerate(rows):
        pct = tally.percent if tally else None
        width = 0 if pct is None else round(CHART_WIDTH * pct / 100)
        bars.append({"label": label, "y": i * BAR, "width": width,
                     "text": "no data" if pct is None else f"{pct:.0f}% of {tally.total}",
                     "tone": "none" if pct is None else "good" if pct >= 90
                     else "fair" if pct >= 70 else "poor"})
    return {"bars": bars, "width": CHART_WIDTH, "height": max(1, len(rows)) * BAR,
            "label_width": 150}


def _minutes(delta: Any) -> int | None:
    return round(delta.total_seconds() / 60) if delta else None


def _page(request: Request, member: Member, clock: str) -> dict[str, Any]:
    workspace = request.app.state.workspace
    org = auth.org_of(request)
    now = workspace.clock.now()
    view = overview(workspace, org, visible_teams(org, member), now, clock=clock)
    return {"view": view, "now": now, "clocks": CLOCKS, "presences": PRESENCE,
            "away_minutes": _minutes(workspace.away_after),
            "offline_minutes": _minutes(workspace.away_after and
                                        workspace.away_after * OFFLINE_FACTOR),
            "chart": chart([(t.name, t.met) for t in view.teams]),
            "mine": next((m for t in view.teams for m in t.members if m.id == member.id), None)}


@router.get("/team", response_class=HTMLResponse)
async def team_page(request: Request, member: Member = Depends(auth.member_of),
                    clock: str = Query("first_response", max_length=32)) -> HTMLResponse:
    data = await run_in_threadpool(_page, request, member, clock)
    return request.app.state.render(request, "team.html", {"me": member, **data})


@router.post("/team/presence", dependencies=[Depends(auth.check_csrf)])
async def set_presence(request: Request, member: Member = Depends(auth.member_of),
                       presence: str = Form(...)) -> RedirectResponse:
    if presence not in PRESENCE:
        raise HTTPException(422, f"presence is one of {', '.join(PRESENCE)}")
    await run_in_threadpool(request.app.state.workspace.set_presence, member.id, presence)
    return RedirectResponse("/team", status_code=303)
