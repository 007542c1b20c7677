"""Reports, the cases behind each figure, the business goals, and the command-center wall.

/reports              period, comparison with the previous period, charts and their tables
/reports/data.json    the same figures as JSON
/reports/cases        the cases behind a figure (drill-down), /reports/cases.csv and .json
/reports/goals        the business goals and their KPI targets (YAML; saving is audited)
/wall                 kiosk page for a large screen; /wall/data its JSON, refreshed on /live

Members who see every team, and analysts, read every team's figures (domain/access.py
may_read_reports); any other member reads the figures of the teams they see; the cases
behind them list only those teams; saving goals needs `configure`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import goals as goal_maths
from escapevelocity.domain import kpis
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.access import may_read_reports, visible_teams
from escapevelocity.domain.org import Member
from escapevelocity.services import answers, reports
from escapevelocity.services import goals as goal_store
from escapevelocity.web import auth, report_view
from escapevelocity.web.labels import level_name


def reader(request: Request, member: Member = Depends(auth.member_of)) -> Member:
    """The signed-in member; `sight(request, member)` says whose figures they read."""
    return member


def sight(request: Request, member: Member) -> frozenset[str] | None:
    """None: every team's figures (domain/access.py may_read_reports); else the teams the
    member sees, whose figures alone the pages add up."""
    org = auth.org_of(request)
    return None if may_read_reports(org, member) else visible_teams(org, member)


router = APIRouter(tags=["reports"])
PERIODS = ("1d", "7d", "30d", "90d")
DRILL_ROWS = 200


def _period(request: Request, text: str) -> kpis.Period:
    try:
        return kpis.parse_period(text, request.app.state.workspace.clock.now())
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def build(request: Request, text: str, teams: frozenset[str] | None = None) -> dict[str, Any]:
    ws = request.app.state.workspace
    period = _period(request, text)
    try:
        goals = goal_store.load(ws.store)
    except goal_maths.GoalsError:
        goals = None
    r = reports.report(ws.store, period, ws.clock.now(), goals, teams)
    return {**report_view.context(r, text), "teams_only": sorted(teams) if teams else None,
            "community": answers.period_figures(ws.store, period, teams)}



@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request, member: Member = Depends(reader),
                       period: str = Query("7d", max_length=40)) -> HTMLResponse:
    ctx = await run_in_threadpool(build, request, period, sight(request, member))
    return request.app.state.render(request, "reports.html",
                                    {"me": member, "periods": PERIODS, **ctx})


@router.get("/reports/data.json")
async def reports_data(request: Request, member: Member = Depends(reader),
                       period: str = Query("7d", max_length=40)) -> JSONResponse:
    def run() -> dict[str, Any]:
        ws = request.app.state.workspace
        p = _period(request, period)
        r = reports.report(ws.store, p, ws.clock.now(), teams=sight(request, member))
        f = r.current
        return {"period": [p.start.isoformat(), p.end.isoformat()], "totals": f.totals,
                "by": f.by, "daily": f.daily, "no_reply": f.no_reply, "sla": f.sla,
                "ttfr": {str(k): v for k, v in sorted(f.ttfr.items())},
                "ttr": {str(k): v for k, v in sorted(f.ttr.items())},
                "topics": {tp or "": by for tp, _, by in f.topic_volume()},
                "calendars": f.calendars,
                "approval_wait": {kind: {str(k): v for k, v in sorted(h.items())}
                                  for kind, h in sorted(f.approval_kinds.items())},
                "approvals_on_streams": r.stream_waits,
                "crisis": [{**i, "opened_at": i["opened_at"].isoformat(),
                            "closed_at": i["closed_at"].isoformat() if i["closed_at"] else None}
                           for i in r.crisis],
                "drills": r.drills,
                "drill_runs": [{**c, "finished_at": c["finished_at"].isoformat()}
                               for c in r.scorecards],
                "waiting_for_approval": r.waiting,
                "values": goal_maths.values(f, at_risk=r.at_risk, incidents=len(r.incidents),
                                            crisis_minutes=r.crisis_minutes,
                                            backlog=sum(r.backlog_total.values())),
                "previous": r.previous.totals, "backlog": r.backlog}
    return JSONResponse(await run_in_threadpool(run))


def _drill(request: Request, member: Member, period: str, measure: str,
           limit: int | None):
    ws = request.app.state.workspace
    p = _period(request, period)
    where = {d: request.query_params[d][:64] for d in (*kpis.DIMS, *reports.EXTRA_FILTERS)
             if d in request.query_params}
    seen = visible_teams(auth.org_of(request), member)
    try:
        found = reports.cases_behind(ws.store, p, measure, where)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    def visible():
        n = 0
        for c in found:
            if c.team in seen:
                yield c
                n += 1
                if limit is not None and n >= limit:
                    return
    return p, where, visible()


@router.get("/reports/cases", response_class=HTMLResponse)
async def drill_page(request: Request, member: Member = Depends(reader),
                     period: str = Query("7d", max_length=40),
                     measure: str = Query("cases", max_length=32)) -> HTMLResponse:
    def run():
        p, where, rows = _drill(request, member, period, measure, DRILL_ROWS)
        return p, where, list(rows)
    p, where, rows = await run_in_threadpool(run)
    query = str(request.url.query)
    return request.app.state.render(request, "report_cases.html", {
        "me": member, "rows": rows, "period": p, "period_text": period, "measure": measure,
        "where": where, "query": query, "limit": DRILL_ROWS})


@router.get("/reports/cases.csv")
def drill_csv(request: Request, member: Member = Depends(reader),
              period: str = Query("7d", max_length=40),
              measure: str = Query("cases", max_length=32)) -> StreamingResponse:
    _, _, rows = _drill(request, member, period, measure, None)
    return StreamingResponse(reports.export_csv(rows), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cases-{measure}.csv"'})


@router.get("/reports/cases.json")
def drill_json(request: Request, member: Member = Depends(reader),
               period: str = Query("7d", max_length=40),
               measure: str = Query("cases", max_length=32)) -> StreamingResponse:
    _, _, rows = _drill(request, member, period, measure, None)
    return StreamingResponse(reports.export_json(rows), media_type="application/json")


# --- goals ------------------------------------------------------------------------------------

@router.get("/reports/goals", response_class=HTMLResponse)
async def goals_page(request: Request, member: Member = Depends(reader)
                     ) -> HTMLResponse:
    ws = request.app.state.workspace
    return request.app.state.render(request, "report_goals.html", {
        "me": member, "text": goal_store.text(ws.store), "kpis": goal_maths.KPIS,
        "history": goal_store.history(ws.store), "error": None,
        "may_edit": perm.allowed([member.role], perm.CONFIGURE)})


@router.post("/reports/goals", response_class=HTMLResponse,
             dependencies=[Depends(auth.check_csrf)])
async def goals_save(request: Request, member: Member = Depends(reader),
                     text: str = Form(..., max_length=20_000)) -> Any:
    if not perm.allowed([member.role], perm.CONFIGURE):
        raise HTTPException(403, f"your role ({member.role}) may not change the goals")
    ws = request.app.state.workspace
    try:
        goal_store.save(ws.store, text, member.id, ws.clock.now())
    except goal_maths.GoalsError as exc:
        return request.app.state.render(request, "report_goals.html", {
            "me": member, "text": text, "kpis": goal_maths.KPIS,
            "history": goal_store.history(ws.store), "error": str(exc), "may_edit": True},
            status=400)
    return RedirectResponse("/reports/goals", status_code=303)


# --- the wall ---------------------------------------------------------------------------------

def wall_data(request: Request, member: Member) -> dict[str, Any]:
    from escapevelocity.web.app import _crisis_state

    ws = request.app.state.workspace
    state = _crisis_state(ws)
    crisis = {"level": state.level, "name": level_name(state.level),  # the id for CSS
              "incident": state.incident, "reason": state.reason,
              "since": state.since.isoformat() if state.since else None}
    return reports.wall(ws.store, auth.org_of(request), ws.clock.now(), crisis,
                        sight(request, member))


@router.get("/wall", response_class=HTMLResponse)
async def wall_page(request: Request, member: Member = Depends(reader)) -> HTMLResponse:
    data = await run_in_threadpool(wall_data, request, member)
    with request.app.state.workspace.store.begin() as tx:
        after = tx.events.last_seq()
    return request.app.state.render(request, "wall.html",
                                    {"me": member, "data": data, "live_after": after})


@router.get("/wall/data")
async def wall_json(request: Request, member: Member = Depends(reader)) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(wall_data, request, member))
