"""The mentions API: channel connectors and integrations post mentions here.

One mention object or a JSON list of them, with a bearer token. Good items are taken even when
others in the batch are bad; the answer lists each bad item's number and reason. The reply is
sent only after the batch is committed, so a 202 means the mentions are stored.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.services import metrics
from escapevelocity.services.parse import parse_body
from escapevelocity.services.retry import transient
from escapevelocity.web.auth import bearer_name

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["api"])


def _ingest(request: Request, mentions: list[Any]) -> Any:
    return request.app.state.intake.take(mentions)


@router.post("/mentions", status_code=202,
             responses={400: {"description": "not JSON, empty, or too many items"},
                        401: {"description": "missing or unknown API token"},
                        413: {"description": "body larger than EV_MAX_BODY_BYTES"},
                        415: {"description": "not application/json"},
                        422: {"description": "no item was a valid mention"},
                        503: {"description": "database contended after retries: resend"}})
async def post_mentions(request: Request, token: str = Depends(bearer_name)) -> JSONResponse:
    """Accept one mention or a list; 202 with what was stored and what was refused."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in ("application/json", ""):
        raise HTTPException(415, f"send JSON (Content-Type: application/json), not {ctype}")
    body = await request.body()
    settings = request.app.state.settings
    try:
        mentions, problems = parse_body(body, settings.max_batch,
                                        request.app.state.workspace.clock.now(),
                                        settings.mention_window)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    refused = [{"item": p.line, "reason": p.reason} for p in problems]
    if not mentions:
        return JSONResponse({"detail": "no valid mention in the request", "refused": refused},
                            status_code=422)
    publisher = getattr(request.app.state, "publisher", None)
    if publisher is not None:  # scale-out: accepted = durably in the stream (EV_BUS=nats://)
        return await _publish(publisher, mentions, refused, token)
    try:
        report = await run_in_threadpool(_ingest, request, mentions)
    except Exception as exc:
        if not transient(exc):
            raise
        log.warning("mentions batch refused with 503: %s", str(exc).splitlines()[0][:200],
                    exc_info=True)
        # Still contended after every retry (services/retry.py): nothing of the batch was
        # stored, so the client may resend it as it is. An answered 503, not a raised error,
        # so the client's keep-alive connection stays usable.
        return JSONResponse({"detail": "the database is busy; nothing was stored, send the "
                                       "batch again", "refused": refused},
                            status_code=503, headers={"Retry-After": "1"})
    metrics.ACCEPTED.inc(report.accepted)
    return JSONResponse({"accepted": report.accepted, "duplicates": report.duplicates,
                         "opened": report.opened, "joined": report.joined,
                         "case_ids": report.case_ids, "refused": refused, "source": token},
                        status_code=202)


async def _publish(publisher: Any, mentions: list[Any], refused: list[dict], token: str
                   ) -> JSONResponse:
    """The scale-out answer: 202 once JetStream has acknowledged every message of the batch
    (adapters/bus/jetstream.py); workers triage it. Duplicates are found by the workers, so
    the answer has no case ids. When NATS does not acknowledge, nothing is promised: 503, and
    the client resends the batch (a resent mention is stored once)."""
    try:
        await publisher.publish(mentions)
    except Exception as exc:
        log.warning("mentions batch refused with 503 (intake stream): %s", exc)
        return JSONResponse({"detail": "the intake stream is unavailable; send the batch "
                                       "again", "refused": refused},
                            status_code=503, headers={"Retry-After": "1"})
    metrics.ACCEPTED.inc(len(mentions))
    return JSONResponse({"accepted": len(mentions), "queued": True, "refused": refused,
                         "source": token}, status_code=202)
