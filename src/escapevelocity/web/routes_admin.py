"""The admin pages: members, teams and spokes, SLA policies and calendars, escalation, the
vocabulary and the customer list, for members whose role may ADMINISTER.

The handlers translate forms into records; services/admin.py checks, stores and audits them.
A refused change re-renders the form with the reason (422); a page for a member without the
role is the 403 error page.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import ACTIONS, DAYS, ROLES, STRATEGIES, Member, Team
from escapevelocity.services import admin
from escapevelocity.services.annotate import CUSTOMERS_DOCUMENT, load_customers
from escapevelocity.web import auth
from escapevelocity.web.labels import minutes as minutes_label

router = APIRouter(tags=["admin"])
MAX_FIELD = 20_000
KINDS = ("hub", "spoke", "agency")


def admin_of(request: Request, member: Member = Depends(auth.member_of)) -> Member:
    if not perm.allowed((member.role,), perm.ADMINISTER):
        # as the other admin pages: not found for the roles that do not administer
        raise HTTPException(404, "there is no such page for your role; the admin pages are "
                                 "for admins")
    return member


async def _form(request: Request) -> dict[str, Any]:
    await auth.check_csrf(request)
    form = await request.form()
    out: dict[str, Any] = {}
    for key in form:
        values = form.getlist(key)
        if any(not isinstance(v, str) for v in values):
            f = values[0]
            out[key] = (await f.read(admin.MAX_TEXT * 100 + 1)).decode("utf-8", "replace")
            continue
        text = [v[:MAX_FIELD] for v in values]
        out[key] = text if len(text) > 1 or key in ("teams", "days", "declarers") else text[0]
    return out


def _ws(request: Request) -> Any:
    return request.app.state.workspace


def _render(request: Request, name: str, data: dict[str, Any], status: int = 200) -> Response:
    return request.app.state.render(request, name, data, status)


def _done(request: Request, to: str, message: str) -> RedirectResponse:
    forget = getattr(request.app.state.org, "forget", None)
    if forget is not None:
        forget()
    request.session["flash"] = message[:300]
    return RedirectResponse(to, status_code=303)


def _flash(request: Request) -> str:
    return request.session.pop("flash", "")


# --- overview ---------------------------------------------------------------------------------

@router.get("/admin", response_class=HTMLResponse)
async def overview(request: Request, me: Member = Depends(admin_of)) -> Response:
    changes = await run_in_threadpool(admin.audit, _ws(request), 30)
    org = request.app.state.org()
    return _render(request, "admin.html", {"me": me, "changes": changes, "org": org,
                                           "flash": _flash(request)})


# --- members ----------------------------------------------------------------------------------

def _pairs(text: str) -> dict[str, int]:
    """"billing 4, app 3" -> {"billing": 4, "app": 3}."""
    out = {}
    for part in text.replace("\n", ",").split(","):
        bits = part.replace(":", " ").replace("=", " ").split()
        if not bits:
            continue
        if len(bits) != 2 or not bits[1].isdigit():
            raise admin.AdminError(f"skill {part.strip()!r}: write a skill and a level 1-5, "
                                   "such as `billing 4`")
        out[bits[0].lower()] = int(bits[1])
    return out


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


def _member_from(form: dict[str, Any], member_id: str, old: Member | None) -> Member:
    try:
        capacity = int(form.get("capacity") or 10)
    except ValueError:
        raise admin.AdminError("capacity must be a whole number") from None
    teams = form.get("teams") or []
    teams = [teams] if isinstance(teams, str) else teams
    days = form.get("days") or []
    days = [days] if isinstance(days, str) else days
    shift = admin.parse_shift(form.get("tz", "UTC"), days, form.get("start", ""),
                              form.get("end", ""), form.get("holidays", ""))
    return Member(id=member_id, name=(form.get("name") or member_id).strip()[:120],
                  teams=list(teams), role=form.get("role", "community_manager"),
                  email=form.get("email", "").strip()[:200],
                  skills=_pairs(form.get("skills", "")),
                  skill_until=old.skill_until if old else {},
                  languages=_words(form.get("languages", "en")) or ["en"],
                  region=form.get("region", "").strip()[:60], capacity=capacity, shift=shift)


def _member_fields(m: Member | None) -> dict[str, Any]:
    if m is None:
        return {"id": "", "name": "", "email": "", "role": "community_manager", "teams": [],
                "skills": "", "languages": "en", "region": "", "capacity": "10", "tz": "UTC",
                "days": list(DAYS), "start": "00:00", "end": "24:00", "holidays": ""}
    return {"id": m.id, "name": m.name, "email": m.email, "role": m.role, "teams": m.teams,
            "skills": ", ".join(f"{k} {v}" for k, v in m.skills.items()),
            "languages": ", ".join(m.languages), "region": m.region,
            "capacity": str(m.capacity), "tz": m.shift.tz, "days": m.shift.days,
            "start": m.shift.start, "end": m.shift.end,
            "holidays": ", ".join(d.isoformat() for d in m.shift.holidays)}


@router.get("/admin/members", response_class=HTMLResponse)
async def members(request: Request, me: Member = Depends(admin_of)) -> Response:
    gone = await run_in_threadpool(admin.deactivated, _ws(request))
    return _render(request, "admin_members.html", {
        "me": me, "org": request.app.state.org(), "deactivated": gone,
        "flash": _flash(request)})


def _member_page(request: Request, me: Member, fields: dict[str, Any], *, create: bool,
                 error: str = "", status: int = 200) -> Response:
    return _render(request, "admin_member.html", {
        "me": me, "f": fields, "create": create, "error": error, "roles": ROLES,
        "days": DAYS, "teams": request.app.state.org().teams}, status)


@router.get("/admin/members/new", response_class=HTMLResponse)
async def new_member(request: Request, me: Member = Depends(admin_of)) -> Response:
    return _member_page(request, me, _member_fields(None), create=True)


@router.get("/admin/members/{member_id}", response_class=HTMLResponse)
async def member_page(request: Request, member_id: str,
                      me: Member = Depends(admin_of)) -> Response:
    found = request.app.state.org().member(member_id)
    if found is None:
        raise HTTPException(404, f"there is no active member {member_id!r}")
    return _member_page(request, me, _member_fields(found), create=False)


def _fresh_org(request: Request) -> Any:
    with _ws(request).store.begin() as tx:
        return tx.org.load()


@router.post("/admin/members", response_class=HTMLResponse)
async def create_member(request: Request, me: Member = Depends(admin_of)) -> Response:
    form = await _form(request)
    member_id = (form.get("id") or "").strip().lower()
    try:
        if not member_id or not member_id.replace("_", "").replace("-", "").isalnum() \
                or len(member_id) > 40:
            raise admin.AdminError("the id is letters, digits, - and _ (at most 40)")
        member = _member_from(form, member_id, None)
        await run_in_threadpool(admin.save_member, _ws(request), me.id, member, create=True)
        if form.get("password"):
            if len(form["password"]) < 10:
                raise admin.AdminError("the member is created; the password needs 10 "
                                       "characters or more, set it from the member's page")
            await run_in_threadpool(admin.set_password, _ws(request), me.id, member_id,
                                    form["password"])
    except admin.AdminError as exc:
        return _member_page(request, me, {**_member_fields(None), **form}, create=True,
                            error=str(exc), status=422)
    return _done(request, "/admin/members", f"created {member_id}")


@router.post("/admin/members/{member_id}", response_class=HTMLResponse)
async def update_member(request: Request, member_id: str,
                        me: Member = Depends(admin_of)) -> Response:
    form = await _form(request)
    old = (await run_in_threadpool(_fresh_org, request)).member(member_id)
    if old is None:
        raise HTTPException(404, f"there is no active member {member_id!r}")
    try:
        member = _member_from(form, member_id, old)
        await run_in_threadpool(admin.save_member, _ws(request), me.id, member)
        if form.get("password"):
            if len(form["password"]) < 10:
                raise admin.AdminError("saved; the new password needs 10 characters or more")
            await run_in_threadpool(admin.set_password, _ws(request), me.id, member_id,
                                    form["password"])
    except admin.AdminError as exc:
        return _member_page(request, me, {**_member_fields(old), **form, "id": member_id},
                            create=False, error=str(exc), status=422)
    return _done(request, "/admin/members", f"saved {member_id}")


@router.post("/admin/members/{member_id}/deactivate")
async def deactivate(request: Request, member_id: str, me: Member = Depends(admin_of)) -> Any:
    await _form(request)
    try:
        await run_in_threadpool(admin.deactivate_member, _ws(request), me.id, member_id)
    except admin.AdminError as exc:
        raise HTTPException(409, str(exc)) from None
    return _done(request, "/admin/members", f"deactivated {member_id}")


@router.post("/admin/members/{member_id}/reactivate")
async def reactivate(request: Request, member_id: str, me: Member = Depends(admin_of)) -> Any:
    await _form(request)
    try:
        await run_in_threadpool(admin.reactivate_member, _ws(request), me.id, member_id)
    except admin.AdminError as exc:
        raise HTTPException(409, str(exc)) from None
    return _done(request, "/admin/members", f"reactivated {member_id}")


# --- teams ------------------------------------------------------------------------------------

def _team_fields(t: Team | None) -> dict[str, Any]:
    if t is None:
        return {"id": "", "name": "", "kind": "spoke", "hub": "", "strategy": "least_load",
                "overflow": "", "region": "", "lead": "", "on_call": ""}
    return {"id": t.id, "name": t.name, "kind": t.kind, "hub": t.hub or "",
            "strategy": t.strategy, "overflow": t.overflow or "", "region": t.region,
            "lead": t.lead or "", "on_call": ", ".join(t.on_call)}


def _team_page(request: Request, me: Member, fields: dict[str, Any], *, create: bool,
               error: str = "", status: int = 200) -> Response:
    org = request.app.state.org()
    return _render(request, "admin_team.html", {
        "me": me, "f": fields, "create": create, "error": error, "org": org, "kinds": KINDS,
        "strategies": STRATEGIES,
        "people": org.members_of(fields["id"]) if fields["id"] else []}, status)


@router.get("/admin/teams", response_class=HTMLResponse)
async def teams(request: Request, me: Member = Depends(admin_of)) -> Response:
    return _render(request, "admin_teams.html", {"me": me, "org": request.app.state.org(),
                                                 "flash": _flash(request)})


@router.get("/admin/teams/new", response_class=HTMLResponse)
async def new_team(request: Request, me: Member = Depends(admin_of)) -> Response:
    return _team_page(request, me, _team_fields(None), create=True)


@router.get("/admin/teams/{team_id}", response_class=HTMLResponse)
async def team_page(request: Request, team_id: str, me: Member = Depends(admin_of)) -> Response:
    found = request.app.state.org().team(team_id)
    if found is None:
        raise HTTPException(404, f"there is no team {team_id!r}")
    return _team_page(request, me, _team_fields(found), create=False)


def _team_from(form: dict[str, Any], team_id: str) -> Team:
    return Team(id=team_id, name=(form.get("name") or team_id).strip()[:120],
                kind=form.get("kind", "spoke"), hub=form.get("hub") or None,
                strategy=form.get("strategy", "least_load"),
                overflow=form.get("overflow") or None, region=form.get("region", "")[:60],
                lead=form.get("lead") or None, on_call=_words(form.get("on_call", "")))


@router.post("/admin/teams", response_class=HTMLResponse)
async def create_team(request: Request, me: Member = Depends(admin_of)) -> Response:
    form = await _form(request)
    team_id = (form.get("id") or "").strip().lower()
    try:
        if not team_id or not team_id.replace("_", "").replace("-", "").isalnum():
            raise admin.AdminError("the id is letters, digits, - and _")
        await run_in_threadpool(admin.save_team, _ws(request), me.id, _team_from(form, team_id),
                                create=True)
    except admin.AdminError as exc:
        return _team_page(request, me, {**_team_fields(None), **form}, create=True,
                          error=str(exc), status=422)
    return _done(request, "/admin/teams", f"created team {team_id}")


@router.post("/admin/teams/{team_id}", response_class=HTMLResponse)
async def update_team(request: Request, team_id: str, me: Member = Depends(admin_of)) -> Response:
    form = await _form(request)
    try:
        await run_in_threadpool(admin.save_team, _ws(request), me.id, _team_from(form, team_id))
    except admin.AdminError as exc:
        return _team_page(request, me, {**_team_fields(None), **form, "id": team_id},
                          create=False, error=str(exc), status=422)
    return _done(request, "/admin/teams", f"saved team {team_id}")


# --- SLA policies, calendars, escalation -----------------------------------------------------

def _sla_data(request: Request, me: Member, error: str = "") -> dict[str, Any]:
    number, data = admin.active_playbook(_ws(request))
    org = request.app.state.org()
    ladders = {k: ", ".join(f"{s.action} {s.at:g}" for s in v)
               for k, v in org.sla.escalation.items()}
    ladders.setdefault("default", "")
    return {"me": me, "version": number, "tracks": data.get("tracks") or {},
            "calendars": data.get("calendars") or {}, "warn_at": org.sla.warn_at,
            "ladders": ladders, "actions": ACTIONS, "error": error, "minutes": minutes_label,
            "flash": _flash(request)}


@router.get("/admin/sla", response_class=HTMLResponse)
async def sla_page(request: Request, me: Member = Depends(admin_of)) -> Response:
    data = await run_in_threadpool(_sla_data, request, me)
    return _render(request, "admin_sla.html", data)


def _int(value: Any, what: str, *, required: bool = False) -> int | None:
    text = str(value or "").strip()
    if not text:
        if required:
            raise admin.AdminError(f"{what} is required")
        return None
    if not text.isdigit() or int(text) <= 0:
        raise admin.AdminError(f"{what} must be a positive whole number of minutes")
    return int(text)


async def _sla_error(request: Request, me: Member, exc: Exception) -> Response:
    data = await run_in_threadpool(_sla_data, request, me, str(exc))
    return _render(request, "admin_sla.html", data, 422)


@router.post("/admin/sla/tracks/{track}", response_class=HTMLResponse)
async def save_track(request: Request, track: str, me: Member = Depends(admin_of)) -> Response:
    from escapevelocity.domain.playbook import PlaybookError
    from escapevelocity.services.playbooks import PlaybookWorkflowError

    form = await _form(request)
    try:
        outcome = await run_in_threadpool(
            lambda: admin.save_track_sla(
                _ws(request), me.id, track,
                first_response=_int(form.get("first_response"), "first response",
                                    required=True),
                next_response=_int(form.get("next_response"), "next response"),
                resolution=_int(form.get("resolution"), "resolution"),
                calendar=form.get("calendar", ""), note=form.get("note", "")))
    except (admin.AdminError, PlaybookError, PlaybookWorkflowError) as exc:
        return await _sla_error(request, me, exc)
    return _done(request, "/admin/sla", f"track {track}: {outcome.message}")


@router.post("/admin/sla/escalation", response_class=HTMLResponse)
async def save_escalation(request: Request, me: Member = Depends(admin_of)) -> Response:
    form = await _form(request)
    try:
        try:
            warn_at = float(form.get("warn_at") or 0.75)
        except ValueError:
            raise admin.AdminError("warn at is a share such as 0.75") from None
        ladders = {k.removeprefix("ladder_"): admin.parse_ladder(v) for k, v in form.items()
                   if k.startswith("ladder_") and isinstance(v, str)}
        new_track = (form.get("new_track") or "").strip()
        if new_track and form.get("new_ladder"):
            ladders[new_track] = admin.parse_ladder(form["new_ladder"])
        await run_in_threadpool(admin.save_sla_settings, _ws(request), me.id, warn_at, ladders)
    except admin.AdminError as exc:
        return await _sla_error(request, me, exc)
    return _done(request, "/admin/sla", "saved the escalation ladders")


def _hours(text: str) -> dict[str, str]:
    """"mon-fri 09:00-17:00" per line -> {"mon-fri": "09:00-17:00"}."""
    out = {}
    for line in text.replace(";", "\n").splitlines():
        bits = line.replace("=", " ").replace(": ", " ").split()
        if not bits:
            continue
        if len(bits) != 2:
            raise admin.AdminError(f"hours {line.strip()!r}: write days and hours, such as "
                                   "`mon-fri 09:00-17:00`")
        out[bits[0]] = bits[1]
    return out


@router.post("/admin/sla/calendars", response_class=HTMLResponse)
async def save_calendar(request: Request, me: Member = Depends(admin_of)) -> Response:
    from escapevelocity.domain.playbook import PlaybookError
    from escapevelocity.services.playbooks import PlaybookWorkflowError

    form = await _form(request)
    name = (form.get("name") or "").strip()
    try:
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise admin.AdminError("a calendar's name is letters, digits, - and _")
        try:
            holidays = [date.fromisoformat(h.strip()) for h in
                        (form.get("holidays") or "").replace("\n", ",").split(",") if h.strip()]
        except ValueError as exc:
            raise admin.AdminError(f"holidays: {exc}") from None
        outcome = await run_in_threadpool(
            lambda: admin.save_calendar(_ws(request), me.id, name,
                                        timezone=form.get("timezone", "UTC"),
                                        hours=_hours(form.get("hours", "")), holidays=holidays,
                                        note=form.get("note", "")))
    except (admin.AdminError, PlaybookError, PlaybookWorkflowError) as exc:
        return await _sla_error(request, me, exc)
    return _done(request, "/admin/sla", f"calendar {name}: {outcome.message}")


# --- vocabulary and customer list -------------------------------------------------------------

def _vocabulary(request: Request) -> str:
    with _ws(request).store.begin() as tx:
        return tx.documents.get("vocabulary") or ""


@router.get("/admin/vocabulary", response_class=HTMLResponse)
async def vocabulary(request: Request, me: Member = Depends(admin_of)) -> Response:
    text = await run_in_threadpool(_vocabulary, request)
    return _render(request, "admin_vocabulary.html", {"me": me, "text": text, "error": "",
                                                      "flash": _flash(request)})


@router.post("/admin/vocabulary", response_class=HTMLResponse)
async def save_vocabulary(request: Request, me: Member = Depends(admin_of)) -> Response:
    form = await _form(request)
    text = form.get("text", "")
    try:
        await run_in_threadpool(admin.save_vocabulary, _ws(request), me.id, text,
                                form.get("note", ""))
    except admin.AdminError as exc:
        return _render(request, "admin_vocabulary.html", {"me": me, "text": text,
                                                          "error": str(exc), "flash": ""}, 422)
    return _done(request, "/admin/vocabulary", "saved the vocabulary")


def _customers(request: Request) -> list[Any]:
    with _ws(request).store.begin() as tx:
        return load_customers(tx.documents.get(CUSTOMERS_DOCUMENT))


@router.get("/admin/customers", response_class=HTMLResponse)
async def customers(request: Request, me: Member = Depends(admin_of)) -> Response:
    found = await run_in_threadpool(_customers, request)
    return _render(request, "admin_customers.html", {"me": me, "customers": found[:200],
                                                     "total": len(found), "error": "",
                                                     "flash": _flash(request)})


@router.post("/admin/customers", response_class=HTMLResponse)
async def import_customers(request: Request, me: Member = Depends(admin_of)) -> Response:
    form = await _form(request)
    text = form.get("file") or form.get("text") or ""
    try:
        n = await run_in_threadpool(admin.import_customers, _ws(request), me.id, text)
    except admin.AdminError as exc:
        found = await run_in_threadpool(_customers, request)
        return _render(request, "admin_customers.html", {
            "me": me, "customers": found[:200], "total": len(found), "error": str(exc),
            "flash": ""}, 422)
    return _done(request, "/admin/customers", f"imported {n} customers")


# --- settings ---------------------------------------------------------------------------------

def _settings_data(request: Request, me: Member, error: str = "",
                   s: Any = None) -> dict[str, Any]:
    store = _ws(request).store
    rules = admin.approval_rules(store)
    return {"me": me, "s": s or admin.settings(store), "roles": ROLES,
            "org": request.app.state.org(), "error": error, "flash": _flash(request),
            "rules": rules, "rotations": "\n".join(f"{g}: {', '.join(ids)}"
                                                   for g, ids in rules.rotations.items())}


@router.get("/admin/settings", response_class=HTMLResponse)
async def settings_page(request: Request, me: Member = Depends(admin_of)) -> Response:
    data = await run_in_threadpool(_settings_data, request, me)
    return _render(request, "admin_settings.html", data)


@router.post("/admin/settings/approvals", response_class=HTMLResponse)
async def save_approvals(request: Request, me: Member = Depends(admin_of)) -> Response:
    form = await _form(request)
    try:
        rotations: dict[str, list[str]] = {}
        for line in (form.get("rotations") or "").splitlines():
            group, sep, ids = line.partition(":")
            if not line.strip():
                continue
            if not sep or not group.strip():
                raise admin.AdminError(f"rotation {line.strip()!r}: write `group: member, "
                                       "member`")
            rotations[group.strip()] = _words(ids)
        minutes = _int(form.get("approval_sla_minutes"), "the approval SLA", required=True)
        await run_in_threadpool(admin.save_approval_rules, _ws(request), me.id, rotations,
                                minutes, (form.get("risk_group") or "legal").strip())
    except admin.AdminError as exc:
        data = await run_in_threadpool(_settings_data, request, me, str(exc))
        return _render(request, "admin_settings.html", data, 422)
    return _done(request, "/admin/settings", "saved the approval rotations")


@router.post("/admin/settings", response_class=HTMLResponse)
async def save_settings(request: Request, me: Member = Depends(admin_of)) -> Response:
    form = await _form(request)
    picked = form.get("declarers") or []
    picked = [picked] if isinstance(picked, str) else picked
    picked += _words(form.get("declarer_members", ""))
    new = admin.Settings(incident_declarers=list(dict.fromkeys(picked)))
    try:
        await run_in_threadpool(admin.save_settings, _ws(request), me.id, new)
    except admin.AdminError as exc:
        data = await run_in_threadpool(_settings_data, request, me, str(exc), new)
        return _render(request, "admin_settings.html", data, 422)
    return _done(request, "/admin/settings", "saved the settings")
