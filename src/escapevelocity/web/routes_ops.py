"""Operations endpoints: /readyz (may this replica take traffic), /metrics (Prometheus) and
/admin/dead (the intake's dead letters, for members who may configure the workspace).

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
from escapevelocity.services import metrics
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


@router.get("/admin/dead", response_class=HTMLResponse)
async def dead_page(request: Request, member: Member = Depends(auth.member_of)) -> HTMLResponse:
    """Read-only: replaying is `ev dead replay` (an operator's act, after fixing the cause)."""
    if not perm.allowed([member.role], perm.CONFIGURE):
        raise HTTPException(404, "not found")  # administration pages, as /admin/channels
    publisher = getattr(request.app.state, "publisher", None)
    rows = []
    if publisher is not None:
        for d in await publisher.dead(limit=200):
            rows.append({"seq": d.seq, "subject": d.subject, "reason": d.reason,
                         "deliveries": d.deliveries, "mentions": d.mentions(),
                         "size": len(d.data)})
    return request.app.state.render(request, "admin_dead.html", {
        "me": member, "rows": rows, "scaled": publisher is not None})
