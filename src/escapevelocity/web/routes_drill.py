"""Drill director pages and incident pages.

/drills               shipped scenarios, drills running in this process, start one
/drills/{name}        the director page: live level, simulated time, pause, resume, speed,
                      fire extra injects, stop; the scorecard when done
/drills/{name}/status the same as JSON (for scripts and the page's refresh)
/drills/{name}/report the after-action HTML report
/incidents            the live workspace's incidents
/incidents/{id}       an incident's timeline; declare a level, add a decision or an approved
                      holding statement, stand down

Pages only translate: drills run in services/drill.py (each in its own sandbox database, on a
background thread), incidents change through services/crisis.CrisisMode. Starting drills,
declaring levels and standing down need the `configure` permission (program lead, admin);
holding statements need `approve` (legal / PR on call).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from escapevelocity.domain import permissions as perm
from escapevelocity.domain.crisis import LEVELS
from escapevelocity.drill import DrillError, load, shipped_names
from escapevelocity.drill.report import timeline_rows
from escapevelocity.services import drill as drills
from escapevelocity.services.admin import may_declare
from escapevelocity.services.crisis import CrisisMode, after_action, incidents, timeline
from escapevelocity.web import auth
from escapevelocity.web.drill_sandbox import COOKIE as SANDBOX_COOKIE
from escapevelocity.web.drill_sandbox import copy_session, sandbox_app

REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

router = APIRouter(tags=["drills"], dependencies=[Depends(auth.member_of)])
SANDBOXES = Path("var/drills")
SPEEDS = (1, 24, 48, 96, 240, 1440)


def _render(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    render = getattr(request.app.state, "render", None)
    context = {"me": getattr(request.state, "member", None), **context}
    if render is not None:
        return render(request, name, context)
    context.setdefault("csrf", auth.csrf_token(request))
    return request.app.state.templates.TemplateResponse(request, name, context)


def _may(member: Any, action: str) -> None:
    if not perm.allowed([member.role], action):
        raise HTTPException(403, f"your role ({member.role}) may not do this")


def _drill(name: str) -> drills.Drill:
    drill = drills.RUNNING.get(name)
    if drill is None:
        raise HTTPException(404, f"no drill {name!r} in this process")
    return drill


# --- drills -------------------------------------------------------------------------------------

@router.get("/drills", response_class=HTMLResponse)
def drills_page(request: Request, member=Depends(auth.member_of)) -> HTMLResponse:
    scenarios = []
    for name in shipped_names():
        s = load(name)
        scenarios.append({"name": name, "title": s.title, "hours": s.duration_hours,
                          "level": s.expected.level, "description": s.description})
    running = [d.status() for d in drills.RUNNING.values()]
    return _render(request, "drills.html", {
        "scenarios": scenarios, "running": running, "speeds": SPEEDS,
        "may_run": perm.allowed([member.role], perm.CONFIGURE)})


@router.post("/drills", dependencies=[Depends(auth.check_csrf)])
def start_drill(request: Request, scenario: str = Form(..., max_length=64),
                speed: float = Form(24.0), players: str = Form("", max_length=2_000),
                simulated: str = Form("", max_length=8),
                member=Depends(auth.member_of)) -> Response:
    _may(member, perm.CONFIGURE)
    if scenario not in shipped_names():
        raise HTTPException(400, "choose a shipped scenario")
    current = drills.RUNNING.get(scenario)
    if current is not None and not current.done:
        raise HTTPException(409, "this drill is already running; stop it first")
    if speed not in SPEEDS:
        raise HTTPException(400, f"speed is one of {', '.join(map(str, SPEEDS))}")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = SANDBOXES / f"{scenario}-{stamp}.db"
    live = getattr(getattr(request.app.state, "settings", None), "database_url", None)
    invited = tuple(dict.fromkeys(p.strip() for p in players.replace("\n", ",").split(",")
                                  if p.strip()))
    try:
        drill = drills.Drill.prepare(load(scenario), path, speed=speed, live_url=live,
                                     players=invited, simulated=simulated == "on" or not invited)
    except DrillError as exc:
        raise HTTPException(400, str(exc)) from None
    start_with_people(request.app, drill)
    return RedirectResponse(f"/drills/{scenario}", status_code=303)


def start_with_people(app: Any, drill: drills.Drill) -> Any:
    """Start a drill in the background. When it finishes, its scorecard goes to the live
    workspace's log (the reports list drill runs), and so do its players' scores (training:
    a passed drill), with the sandbox cases each handled."""
    ws = app.state.workspace
    if drill.players:
        sandbox_app(drill, app.state.settings, app.state.pace)

    def record(done: drills.Drill) -> None:
        from escapevelocity.services import governance as gov

        drills.record_scorecard(ws.store, ws.clock, done)
        name = f"{done.scenario.name}@{done.scenario.start:%Y-%m-%d}"
        for p in done.people.people if done.people else ():
            gov.record_drill_score(ws.store, ws.clock, p.member, name, p.score,
                                   drills.person_details(done, p))
    drill.on_finish = record
    return drills.start_in_background(drill)  # the thread: done once the log has the scores


@router.post("/drills/{name}/join", dependencies=[Depends(auth.check_csrf)])
def join_drill(request: Request, name: str, member=Depends(auth.member_of)) -> Response:
    """An invited member enters the drill: from now on the inbox is the sandbox's."""
    drill = _drill(name)
    if member.id not in drill.players:
        raise HTTPException(403, f"{member.id} is not invited to this drill")
    if drill.done:
        raise HTTPException(409, "the drill is over")
    sandbox_app(drill, request.app.state.settings, request.app.state.pace)
    copy_session(drill, request.session.get("sid", ""), member.id)
    response = RedirectResponse("/inbox", status_code=303)
    response.set_cookie(SANDBOX_COOKIE, name, httponly=True, samesite="lax",
                        secure=bool(getattr(request.app.state.settings, "secure_cookies", False)))
    return response


@router.post("/drills/leave", dependencies=[Depends(auth.check_csrf)])
def leave_drill() -> Response:
    response = RedirectResponse("/inbox", status_code=303)
    response.delete_cookie(SANDBOX_COOKIE)
    return response


@router.get("/drills/{name}", response_class=HTMLResponse)
def director_page(request: Request, name: str, member=Depends(auth.member_of)) -> HTMLResponse:
    drill = _drill(name)
    card = drill.scorecard
    return _render(request, "drill_director.html", {
        "st": drill.status(), "speeds": SPEEDS, "card": card, "people": drill.people,
        "invited": member.id in drill.players and not drill.done,
        "may_run": perm.allowed([member.role], perm.CONFIGURE)})


@router.get("/drills/{name}/panel", response_class=HTMLResponse)
def drill_panel(request: Request, name: str) -> HTMLResponse:
    """The live part of the director page (htmx polls it every two seconds)."""
    return request.app.state.templates.TemplateResponse(
        request, "_drill_panel.html", {"st": _drill(name).status()})


@router.get("/drills/{name}/status")
def drill_status(name: str) -> JSONResponse:
    return JSONResponse(_drill(name).status())


@router.post("/drills/{name}/control", dependencies=[Depends(auth.check_csrf)])
def control(name: str, action: str = Form(..., max_length=16), speed: float = Form(0.0),
            inject: str = Form("", max_length=120), member=Depends(auth.member_of)) -> Response:
    _may(member, perm.CONFIGURE)
    drill = _drill(name)
    c = drill.control
    if action == "pause":
        c.pause()
    elif action == "resume":
        c.resume()
    elif action == "speed":
        if speed not in SPEEDS:
            raise HTTPException(400, f"speed is one of {', '.join(map(str, SPEEDS))}")
        c.set_speed(speed)
    elif action == "inject":
        try:
            drill.scenario.inject(inject)
        except DrillError as exc:
            raise HTTPException(400, str(exc)) from None
        c.fire(inject)
    elif action == "stop":
        c.stop()
    else:
        raise HTTPException(400, "action is pause, resume, speed, inject or stop")
    return RedirectResponse(f"/drills/{name}", status_code=303)


@router.get("/drills/{name}/report", response_class=HTMLResponse)
def drill_report(name: str) -> HTMLResponse:
    drill = _drill(name)
    if drill.scorecard is None:
        raise HTTPException(409, "the drill has not finished yet")
    # The report is a standalone document with inline styles and SVG, and no script at all:
    # it gets its own policy (styles inline, nothing else) instead of the app's.
    return HTMLResponse(drill.report_html(), headers={"Content-Security-Policy": REPORT_CSP})


# --- incidents of the live workspace ------------------------------------------------------------

def _mode(request: Request) -> CrisisMode:
    intake = getattr(request.app.state, "intake", None)
    mode = getattr(intake, "crisis", None)
    if mode is None:
        workspace = request.app.state.workspace
        mode = CrisisMode(workspace.store, workspace.clock)
    return mode


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(request: Request, member=Depends(auth.member_of)) -> HTMLResponse:
    workspace = request.app.state.workspace
    return _render(request, "incidents.html", {
        "incidents": incidents(workspace.store), "levels": LEVELS[1:],
        "may_declare": may_declare(workspace.store, member)})


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: str,
                  member=Depends(auth.member_of)) -> HTMLResponse:
    workspace = request.app.state.workspace
    if not incident_id.startswith("incident:"):
        raise HTTPException(404, "no such incident")
    events = timeline(workspace.store, incident_id[:64])
    if not events:
        raise HTTPException(404, "no such incident")
    mode = _mode(request)
    from escapevelocity.services import incident_view

    return _render(request, "incident.html", {
        "incident_id": incident_id, "rows": timeline_rows(events),
        "summary": incident_view.summary(workspace.store, events, workspace.clock.now()),
        "open": mode.state.incident == incident_id, "state": mode.state, "levels": LEVELS[1:],
        "may_declare": may_declare(workspace.store, member),
        "may_state": perm.allowed([member.role], perm.APPROVE)})


@router.get("/incidents/{incident_id}/report", response_class=HTMLResponse)
def incident_report(request: Request, incident_id: str,
                    member=Depends(auth.member_of)) -> HTMLResponse:
    """The after-action report of a live incident, as drills have theirs."""
    workspace = request.app.state.workspace
    if not incident_id.startswith("incident:"):
        raise HTTPException(404, "no such incident")
    report = after_action(workspace.store, incident_id[:64], workspace.clock.now())
    if report is None:
        raise HTTPException(404, "no such incident")
    return _render(request, "incident_report.html", {"r": report, "incident_id": incident_id,
                                                     "rows": timeline_rows(
                                                         timeline(workspace.store,
                                                                  incident_id[:64]))})


@router.post("/incidents/declare", dependencies=[Depends(auth.check_csrf)])
def declare(request: Request, level: str = Form(..., max_length=16),
            reason: str = Form("", max_length=500), member=Depends(auth.member_of)) -> Response:
    if not may_declare(request.app.state.workspace.store, member):
        raise HTTPException(403, "you may not declare incidents: an admin names who may, on "
                                 "the admin settings page")
    mode = _mode(request)
    try:
        mode.declare(level, by=member.id, reason=reason.strip())
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(f"/incidents/{mode.state.incident}", status_code=303)


@router.post("/incidents/note", dependencies=[Depends(auth.check_csrf)])
def note(request: Request, text: str = Form(..., max_length=4000),
         kind: str = Form("decision", max_length=16), member=Depends(auth.member_of)) -> Response:
    if kind not in ("decision", "statement"):
        raise HTTPException(400, "kind is decision or statement")
    _may(member, perm.APPROVE if kind == "statement" else perm.NOTE)
    mode = _mode(request)
    if not text.strip():
        raise HTTPException(400, "the note is empty")
    try:
        mode.note(text.strip(), by=member.id, kind=kind)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(f"/incidents/{mode.state.incident}", status_code=303)


@router.post("/incidents/stand-down", dependencies=[Depends(auth.check_csrf)])
def stand_down(request: Request, note: str = Form("", max_length=4000),
               member=Depends(auth.member_of)) -> Response:
    if not may_declare(request.app.state.workspace.store, member):
        raise HTTPException(403, "you may not stand an incident down: an admin names who may, "
                                 "on the admin settings page")
    incident = _mode(request).stand_down(by=member.id, note=note.strip())
    if incident is None:
        raise HTTPException(409, "no open incident")
    return RedirectResponse(f"/incidents/{incident}", status_code=303)
