"""One mapping from errors to answers: an HTML page in the app's layout for people, JSON for
the API.

Routes and services raise domain errors (a case out of sight, an action the policy refuses, a
claim someone else holds, a command that cannot be carried out) or HTTPException; the handlers
here turn each into its status and, by who is asking, either the error page (with the reason
and a way back) or `{"detail": ...}`. The API is `/api/...`, or any request that asks for JSON
and not HTML; a browser following a link never sees raw JSON.
"""

from __future__ import annotations

import html
import json
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from escapevelocity.domain.access import NotVisible
from escapevelocity.domain.case_errors import ClaimTaken, ConversationChanged
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services.casetx import CaseError, CaseNotFound
from escapevelocity.web.auth import _safe_next

TITLES = {400: "That request was not understood", 401: "Please log in",
          403: "Not allowed", 404: "Not found", 405: "Not allowed here",
          409: "The case moved on", 413: "Too large", 415: "Wrong format",
          422: "Please check what you sent", 429: "Too many requests"}


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept


def way_back(request: Request) -> str:
    """Where the page the member came from was, if it was on this site; else the inbox."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc and referer.netloc != request.url.netloc:
        return "/inbox"
    back = referer.path + (f"?{referer.query}" if referer.query else "")
    if not back or back == request.url.path or back.startswith("/login"):
        return "/inbox"
    return _safe_next(back)


# The versioned API's stable error codes by status (a handler may name a finer one).
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
         405: "method_not_allowed", 409: "conflict", 413: "too_large",
         415: "unsupported_media_type", 422: "invalid_request", 429: "rate_limited",
         500: "internal_error", 503: "unavailable"}
V1 = "/api/v1/"


def v1_body(status: int, message: str, code: str | None = None) -> dict:
    """The one error shape of /api/v1: {"error": {"code": stable_code, "message": ...}}."""
    return {"error": {"code": code or CODES.get(status, "error"), "message": message}}


def answer(request: Request, status: int, message: str,
           headers: dict[str, str] | None = None, code: str | None = None) -> Response:
    if request.url.path.startswith(V1):
        return JSONResponse(v1_body(status, message, code), status_code=status,
                            headers=headers)
    if wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    logged_in(request)
    page = request.app.state.render(request, "error.html", {
        "status": status, "title": TITLES.get(status, "Something went wrong"),
        "message": message, "back": way_back(request)}, status)
    for key, value in (headers or {}).items():
        page.headers[key] = value
    return page


def logged_in(request: Request) -> None:
    """The member of the session, if any, for the layout's navigation: an unknown address
    (404 before any route ran) still shows the app's layout to a logged-in member."""
    if getattr(request.state, "member", None) is not None or "session" not in request.scope:
        return
    from escapevelocity.services import signin

    sid = request.session.get("sid")
    ws = request.app.state.workspace
    member_id = signin.session_member(ws.store, ws.clock, sid) if isinstance(sid, str) else None
    member = request.app.state.org().member(member_id) if member_id else None
    if member is not None:
        request.state.member = member


def too_large(scope: Scope, limit: int) -> tuple[bytes, bytes]:
    """The 413 of the body limit, answered before the app runs (no session, no layout): JSON
    for the API, a plain page with a way back for people."""
    request = Request(scope)
    message = f"the request body is larger than {limit} bytes; send smaller batches"
    if request.url.path.startswith(V1):
        return b"application/json", json.dumps(v1_body(413, message)).encode()
    if wants_json(request):
        return b"application/json", json.dumps({"detail": message}).encode()
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too large'
            f' · Escape Velocity</title><link rel="stylesheet" href="/static/app.css"></head>'
            f'<body><main><section class="error-page" role="alert"><h1>Too large</h1>'
            f'<p class="flash error" id="error">{html.escape(message)}</p>'
            f'<p><a href="{html.escape(way_back(request))}" id="back">← Go back</a></p>'
            f'</section></main></body></html>')
    return b"text/html; charset=utf-8", page.encode()


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())[1:]) or "the request"
        parts.append(f"{where}: {err.get('msg', 'not valid')}")
    return "; ".join(parts) or "the request is not valid"


def install(app: FastAPI) -> None:
    """Register the handlers on `app` (create_app calls this once)."""

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return answer(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None),
                      getattr(exc, "code", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith(V1):
            return answer(request, 422, _validation_message(exc))
        if wants_json(request):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        return answer(request, 422, _validation_message(exc))

    @app.exception_handler(NotVisible)
    async def _not_visible(request: Request, exc: NotVisible) -> Response:
        from escapevelocity.web.deps import ActedBefore

        if isinstance(exc, ActedBefore) and not wants_json(request):
            from escapevelocity.domain.cases import replace
            from escapevelocity.domain.pii import mask_pii

            case = replace(exc.case, title=mask_pii(exc.case.title))
            # still 404 (the access ended with its reason), but a page that says why
            return request.app.state.render(request, "case_elsewhere.html", {
                "case": case, "did": exc.did, "back": way_back(request)}, 404)
        return answer(request, 404, "There is no such case in your teams' inboxes.",
                      code="case_not_found")

    @app.exception_handler(CaseNotFound)
    async def _no_case(request: Request, exc: CaseNotFound) -> Response:
        return answer(request, 404, "There is no such case in your teams' inboxes.",
                      code="case_not_found")

    @app.exception_handler(PermissionDenied)
    async def _denied(request: Request, exc: PermissionDenied) -> Response:
        return answer(request, 403, str(exc), code=getattr(exc, "code", None))

    @app.exception_handler(ClaimTaken)
    async def _taken(request: Request, exc: ClaimTaken) -> Response:
        until = f" until {exc.until:%H:%M}" if exc.until else ""
        return answer(request, 409, f"{exc.holder} has claimed this case{until}.",
                      code="claim_taken")

    @app.exception_handler(CaseError)
    async def _case_error(request: Request, exc: CaseError) -> Response:
        code = "conversation_changed" if isinstance(exc, ConversationChanged) else "case_conflict"
        return answer(request, 409, str(exc), code=code)
