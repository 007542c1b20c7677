"""Operations endpoints: /readyz (may this replica take traffic), /metrics (Prometheus) and
/admin/dead (the intake's dead letters to replay or discard, for members who may configure
the workspace).

/healthz (web/app.py) says the process answers; /readyz also checks what a request needs: the
database and, in the scale-out mode, the NATS connection the intake publishes to. A load
balancer takes a replica out while /readyz answers 503.

/metrics tells intake rates, queue lag, SLA at risk and the channel connections' names and
health: not for anyone who can reach the port. It asks for a bearer API token with the
`metrics` scope (a service token acting as nobody: `ev token create prometheus --as ADMIN
--service --scope metrics`), unless the workspace's settings open it (EV_METRICS_OPEN=1, for
a port only Prometheus reaches).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import permissions as perm
from escapevelocity.domain.channel_health import PROBLEMS
from escapevelocity.domain.org import Member
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services import dead_letters, metrics
from escapevelocity.services.tokens import METRICS
from escapevelocity.web import auth
from escapevelocity.web.api_v1.auth import need, principal

router = APIRouter(tags=["ops"])
AT_RISK_WITHIN = timedelta(hours=1)


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    ws = request.app.state.workspace

    def database() -> None:
        with ws.store.begin() as tx:
            tx.events.last_seq()

    try:
        await run_in_threadpool(database)
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"failing: {exc.__class__.__name__}"
    publisher = getattr(request.app.state, "publisher", None)
    if request.app.state.settings.bus.startswith("nats://"):
        connected = publisher is not None and publisher.nc.is_connected
        checks["nats"] = "ok" if connected else "not connected"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)


async def scraper(request: Request) -> None:
    """Who may read /metrics: anyone when EV_METRICS_OPEN=1, else a live token with the
    `metrics` scope (401 without one, 403 with a token that lacks it)."""
    if not request.app.state.settings.metrics_open:
        await need(METRICS)(await principal(request, None))


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(scraper)])
async def metrics_page(request: Request) -> Response:
    if not metrics.available():
        return Response("prometheus-client is not installed (the scale extra)\n",
                        status_code=404, media_type="text/plain")
    ws = request.app.state.workspace
    publisher = getattr(request.app.state, "publisher", None)
    if publisher is not None:
        with contextlib.suppress(Exception):
            metrics.set_lag_from(await publisher.lag())

    def refresh() -> None:
        now = ws.clock.now()
        with ws.store.begin() as tx:
            metrics.SLA_AT_RISK.set(tx.cases.at_risk(now, AT_RISK_WITHIN))
            for c in tx.connections.all_():
                metrics.CONNECTOR_UP.labels(connection=c.name).set(
                    0 if c.health in PROBLEMS else 1)

    body, ctype = await run_in_threadpool(metrics.render, refresh)
    return Response(body, media_type=ctype)


MAX_CHOSEN = 200  # messages one form acts on (the page lists 200)


@router.get("/admin/dead", response_class=HTMLResponse)
async def dead_page(request: Request, member: Member = Depends(auth.member_of)) -> HTMLResponse:
    """The dead letters, with replay and discard (services/dead_letters.py)."""
    _configure_only(member)
    return await _dead(request, member)


@router.post("/admin/dead", response_class=HTMLResponse)
async def dead_act(request: Request, member: Member = Depends(auth.member_of)) -> HTMLResponse:
    """Replay or discard the ticked dead letters: the first post asks (what, which, why), the
    confirmed one acts and shows each message's outcome."""
    _configure_only(member)
    await auth.check_csrf(request)
    form = await request.form()
    action = str(form.get("action", ""))
    reason = " ".join(str(form.get("reason", ""))[:2000].split())[:dead_letters.REASON_CHARS]
    seqs = [int(x) for x in form.getlist("seq") if str(x).isdigit() and len(str(x)) < 19]
    seqs = list(dict.fromkeys(seqs))
    publisher = getattr(request.app.state, "publisher", None)
    error = ""
    if publisher is None:
        error = "the embedded mode has no dead letters"
    elif action not in (dead_letters.REPLAYED, dead_letters.DISCARDED):
        error = "choose replay or discard"
    elif not seqs:
        error = "tick the messages to act on"
    elif len(seqs) > MAX_CHOSEN:
        error = f"at most {MAX_CHOSEN} messages at a time"
    elif action == dead_letters.DISCARDED and not reason:
        error = "say why these messages are discarded"
    if error:
        return await _dead(request, member, error=error, status=422)
    if str(form.get("confirm", "")) != "yes":
        return await _dead(request, member, confirm={"action": action, "seqs": seqs,
                                                     "reason": reason})
    ws = request.app.state.workspace
    try:
        if action == dead_letters.REPLAYED:
            results = await dead_letters.replay(ws.store, ws.clock, publisher, member.id, seqs)
        else:
            results = await dead_letters.discard(ws.store, ws.clock, publisher, member.id,
                                                 seqs, reason)
    except PermissionDenied as exc:
        raise HTTPException(403, str(exc)) from None
    return await _dead(request, member, results=results)


def _configure_only(member: Member) -> None:
    if not perm.allowed([member.role], perm.CONFIGURE):
        raise HTTPException(404, "not found")  # administration pages, as /admin/channels


async def _dead(request: Request, member: Member, *, status: int = 200, **extra: object
                ) -> HTMLResponse:
    publisher = getattr(request.app.state, "publisher", None)
    rows = []
    if publisher is not None:
        for d in await publisher.dead(limit=MAX_CHOSEN):
            rows.append({"seq": d.seq, "subject": d.subject, "reason": d.reason,
                         "deliveries": d.deliveries, "mentions": d.mentions(),
                         "size": len(d.data)})
    history = await run_in_threadpool(dead_letters.history, request.app.state.workspace.store)
    return request.app.state.render(request, "admin_dead.html", {
        "me": member, "rows": rows, "scaled": publisher is not None, "history": history,
        "confirm": None, "results": None, "error": "", **extra}, status)
