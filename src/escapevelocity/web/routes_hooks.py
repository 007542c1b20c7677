"""Inbound webhooks: /hooks/<connection> takes signed deliveries of mentions.

The signature and window are checked by channels/webhook/parse.verify (pure); a delivery id
seen before is a replay and is acknowledged without ingesting (senders retry on timeouts, so a
replay is not an error). A refused delivery is logged with the connection and the reason, never
with the body or the secret.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from escapevelocity.channels.webhook.parse import WINDOW, Refused, verify
from escapevelocity.services.parse import parse_body

log = logging.getLogger(__name__)
router = APIRouter(prefix="/hooks", tags=["webhooks"])


def _sealer(request: Request):
    from escapevelocity.adapters.secrets import Sealer

    sealer = getattr(request.app.state, "sealer", None)
    if sealer is None:
        sealer = request.app.state.sealer = Sealer(request.app.state.settings.secret_key)
    return sealer


def _deliver(request: Request, name: str, headers: dict[str, str], body: bytes) -> JSONResponse:
    intake = request.app.state.intake
    store, clock = intake.workspace.store, intake.workspace.clock
    now = clock.now()
    with store.begin() as tx:
        c = tx.connections.get(name)
    if c is None or c.channel != "webhook" or not c.enabled:
        log.warning("webhook %s: refused, no such webhook connection", name[:64])
        raise HTTPException(404, "no such webhook")
    secret = _sealer(request).unseal(c.sealed).get("signing_secret")
    if not secret:
        raise HTTPException(503, "this webhook has no signing secret")
    try:
        delivery = verify(secret.reveal(), headers, body, now)
    except Refused as exc:
        log.warning("webhook %s: refused (%s)", name, exc)
        raise HTTPException(exc.status, str(exc)) from None
    try:
        mentions, problems = parse_body(body, request.app.state.settings.max_batch)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    try:
        with store.begin() as tx:
            replay = tx.connections.seen_delivery(name, delivery.delivery_id, now, 2 * WINDOW)
    except IntegrityError:  # the same delivery, concurrently
        replay = True
    if replay:
        log.info("webhook %s: delivery %s replayed, ignored", name, delivery.delivery_id)
        return JSONResponse({"replay": True, "accepted": 0}, status_code=200)
    refused = [{"item": p.line, "reason": p.reason} for p in problems]
    report = intake.take(mentions) if mentions else None
    return JSONResponse({"replay": False, "accepted": report.accepted if report else 0,
                         "duplicates": report.duplicates if report else 0,
                         "refused": refused}, status_code=202 if mentions else 422)


@router.post("/{name}", status_code=202,
             responses={401: {"description": "bad or missing signature, or outside the window"},
                        404: {"description": "no such webhook connection"}})
async def post_hook(name: str, request: Request) -> JSONResponse:
    body = await request.body()
    return await run_in_threadpool(_deliver, request, name, dict(request.headers), body)
