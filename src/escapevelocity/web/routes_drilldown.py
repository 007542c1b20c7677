"""Drill-downs of the report's rows that are not case counts (services/report_items.py).

/reports/approvals            approval waits by kind: decided in the period, or waiting now
/reports/incidents            the incidents behind the crisis-time rows
/reports/incidents/{id}/cases the cases an incident affected
/reports/drill-runs           drill runs' scorecards recorded in the period
/reports/drill-runs/{seq}     one run's after-action report, from its event
/reports/drill-scores         people's drill scores, and the sandbox cases each handled

Each list page has `.csv` and `.json` twins (one row per item). Approvals and drills are
figures of the whole workspace: for whoever reads every team's (domain/access.py
may_read_reports); an incident's cases list only the teams the member sees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import kpis
from escapevelocity.domain.access import may_read_reports, visible_teams
from escapevelocity.domain.org import Member
from escapevelocity.services import report_items as items
from escapevelocity.services import reports
from escapevelocity.web import auth
from escapevelocity.web.routes_drill import REPORT_CSP
from escapevelocity.web.routes_reports import _period, reader

router = APIRouter(tags=["reports"])
FORMATS = ("", ".csv", ".json")


WITHHELD = ("These figures are the whole workspace's: your role reads the figures of your "
            "teams, on the report page.")


def _everything(request: Request, member: Member) -> None:
    """For the one page that is a single item (a drill run's report): refused outright."""
    if _withheld(request, member):
        raise HTTPException(403, WITHHELD)


def _withheld(request: Request, member: Member) -> dict[str, Any] | None:
    """A list of the whole workspace's items, asked by a member who reads only their teams':
    the page answers in the layout with no rows and says why (pages filter by the policy,
    they do not refuse a signed-in member); the exports are empty, and the page offers none
    (nor a table of nothing)."""
    if may_read_reports(auth.org_of(request), member):
        return None
    return {"withheld": WITHHELD}


def _answer(request: Request, member: Member, fmt: str, name: str, title: str,
            rows: list[dict[str, Any]], columns: Sequence[str],
            extra: dict[str, Any]) -> Response:
    if fmt == ".csv":
        return StreamingResponse(items.export_csv(rows, columns), media_type="text/csv",
                                 headers={"Content-Disposition":
                                          f'attachment; filename="{name}.csv"'})
    if fmt == ".json":
        return StreamingResponse(items.export_json(rows, columns),
                                 media_type="application/json")
    return request.app.state.render(request, "report_items.html", {
        "me": member, "rows": rows, "title": title, "list": name,
        "query": str(request.url.query), "path": request.url.path, **extra})


async def _run(fn: Callable[[], Any]) -> Any:
    try:
        return await run_in_threadpool(fn)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def _fmt(request: Request) -> str:
    """"", ".csv" or ".json": the page, or its export, by the path's suffix."""
    path = request.url.path
    return next((f for f in FORMATS[1:] if path.endswith(f)), "")


@router.get("/reports/approvals", response_class=HTMLResponse)
@router.get("/reports/approvals.csv")
@router.get("/reports/approvals.json")
async def approvals(request: Request, member: Member = Depends(reader),
                    period: str = Query("7d", max_length=40),
                    kind: str = Query("", max_length=64),
                    state: str = Query("decided", max_length=16)) -> Response:
    fmt = _fmt(request)
    withheld = _withheld(request, member)
    if kind and kind not in kpis.APPROVAL_KINDS:
        raise HTTPException(400, f"no approval kind {kind[:40]!r}")
    ws = request.app.state.workspace
    p = _period(request, period)
    rows = [] if withheld else await _run(
        lambda: items.approvals(ws.store, p, ws.clock.now(), kind or None, state))
    what = kpis.approval_label(kind) if kind else "Everything"
    title = (f"{what}: approvals decided {p.start} to {p.end} (end excluded)"
             if state == "decided" else f"{what}: waiting for approval now")
    return _answer(request, member, fmt, f"approvals-{kind or 'all'}-{state}", title, rows,
                   items.APPROVAL_COLUMNS, {"period_text": period, **(withheld or {})})


@router.get("/reports/incidents", response_class=HTMLResponse)
@router.get("/reports/incidents.csv")
@router.get("/reports/incidents.json")
async def incidents(request: Request, member: Member = Depends(reader),
                    period: str = Query("7d", max_length=40)) -> Response:
    fmt = _fmt(request)
    ws = request.app.state.workspace
    p = _period(request, period)
    rows = await _run(lambda: items.incidents(ws.store, p, ws.clock.now()))
    for r in rows:
        r["minutes_text"] = ", ".join(f"{lv} {m:,.0f} min" for lv, m in r["minutes"].items())
    return _answer(request, member, fmt, "incidents",
                   f"Incidents open between {p.start} and {p.end} (end excluded)", rows,
                   items.INCIDENT_COLUMNS, {"period_text": period})


@router.get("/reports/incidents/{incident_id}/cases", response_class=HTMLResponse)
@router.get("/reports/incidents/{incident_id}/cases.csv")
@router.get("/reports/incidents/{incident_id}/cases.json")
async def incident_cases(request: Request, incident_id: str,
                         member: Member = Depends(reader),
                         period: str = Query("7d", max_length=40)) -> Response:
    fmt = _fmt(request)
    ws = request.app.state.workspace
    if not incident_id.startswith("incident:"):
        raise HTTPException(404, "no such incident")
    found = await _run(lambda: items.incident_cases(ws.store, incident_id[:64]))
    if found is None:
        raise HTTPException(404, "no such incident")
    seen = visible_teams(auth.org_of(request), member)
    rows = [c for c in found if c.team in seen]
    if fmt == ".csv":
        return StreamingResponse(reports.export_csv(rows), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="incident-cases.csv"'})
    if fmt == ".json":
        return StreamingResponse(reports.export_json(rows), media_type="application/json")
    return request.app.state.render(request, "report_items.html", {
        "me": member, "rows": rows, "list": "incident-cases", "incident_id": incident_id,
        "title": f"Cases affected by {incident_id}", "period_text": period,
        "query": str(request.url.query), "path": request.url.path})


@router.get("/reports/drill-runs", response_class=HTMLResponse)
@router.get("/reports/drill-runs.csv")
@router.get("/reports/drill-runs.json")
async def drill_runs(request: Request, member: Member = Depends(reader),
                     period: str = Query("7d", max_length=40)) -> Response:
    fmt = _fmt(request)
    withheld = _withheld(request, member)
    ws = request.app.state.workspace
    p = _period(request, period)
    rows = [] if withheld else await _run(lambda: items.drill_runs(ws.store, p))
    return _answer(request, member, fmt, "drill-runs",
                   f"Drill runs scored {p.start} to {p.end} (end excluded)", rows,
                   items.RUN_COLUMNS, {"period_text": period, **(withheld or {})})


@router.get("/reports/drill-runs/{seq}", response_class=HTMLResponse)
async def drill_run(request: Request, seq: int, member: Member = Depends(reader)
                    ) -> HTMLResponse:
    """A recorded run's after-action report: the same standalone page as the director's,
    rendered from the drill_scorecard event (its own policy: inline styles, no script)."""
    from escapevelocity.services.drill import report_of

    _everything(request, member)
    e = await run_in_threadpool(items.drill_run, request.app.state.workspace.store, seq)
    if e is None:
        raise HTTPException(404, "no such drill run")
    return HTMLResponse(report_of(e), headers={"Content-Security-Policy": REPORT_CSP})


@router.get("/reports/drill-scores", response_class=HTMLResponse)
@router.get("/reports/drill-scores.csv")
@router.get("/reports/drill-scores.json")
async def drill_scores(request: Request, member: Member = Depends(reader),
                       period: str = Query("7d", max_length=40),
                       drill: str = Query("", max_length=80)) -> Response:
    fmt = _fmt(request)
    withheld = _withheld(request, member)
    ws = request.app.state.workspace
    p = _period(request, period)
    rows = [] if withheld else await _run(
        lambda: items.drill_players(ws.store, p, drill or None))
    return _answer(request, member, fmt, "drill-scores",
                   f"Drill scores of {drill or 'every drill'}, recorded {p.start} to {p.end} "
                   "(end excluded)", rows, items.PLAYER_COLUMNS,
                   {"period_text": period, **(withheld or {})})
