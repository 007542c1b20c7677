"""Who is asking the web app: member sessions with CSRF tokens, and API bearer tokens.

Sessions are signed cookies (Starlette's SessionMiddleware, itsdangerous): they hold the member
id and a per-session CSRF token. Every state-changing form or HTMX request must echo that token
(form field `csrf` or header `X-CSRF-Token`); the API takes bearer tokens instead and never reads
cookies, so a page on another site can neither post as a member nor as an integration.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import defaultdict, deque
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain.org import Member, Organisation

router = APIRouter(tags=["auth"])

MAX_FAILURES = 8  # per member name and per client address, in FAILURE_WINDOW seconds
FAILURE_WINDOW = 300.0
_failures: dict[str, deque[float]] = defaultdict(deque)


class LoginRequired(Exception):
    """Raised by `member_of`; the app turns it into a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def org_of(request: Request) -> Organisation:
    return request.app.state.org()


def member_of(request: Request) -> Member:
    """The logged-in member, or a redirect to the login page (HTML) / 401 (HTMX, API)."""
    member_id = request.session.get("member")
    member = org_of(request).member(member_id) if member_id else None
    if member is None:
        request.session.clear()
        if request.headers.get("HX-Request") or request.url.path.startswith("/live"):
            raise HTTPException(401, "your session has ended; log in again")
        raise LoginRequired(request.url.path)
    request.state.member = member  # for layouts rendered by feature routers
    return member


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


async def check_csrf(request: Request) -> None:
    """For every unsafe request made with a session cookie."""
    expected = request.session.get("csrf")
    sent = request.headers.get("X-CSRF-Token")
    if sent is None:
        form = await request.form()
        sent = form.get("csrf")
    if not expected or not isinstance(sent, str) or not hmac.compare_digest(expected, sent):
        raise HTTPException(403, "the form has expired or did not come from this site; reload "
                                 "the page and try again")


def _throttled(*keys: str) -> bool:
    now = time.monotonic()
    for key in keys:
        q = _failures.get(key)  # never create an entry here: names tried are unbounded
        if q is None:
            continue
        while q and now - q[0] > FAILURE_WINDOW:
            q.popleft()
        if not q:
            del _failures[key]
        elif len(q) >= MAX_FAILURES:
            return True
    return False


def _failed(*keys: str) -> None:
    for key in keys:
        _failures[key].append(time.monotonic())


def _safe_next(next_url: str) -> str:
    """Only paths on this site: never an open redirect."""
    if (not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in next_url)):  # "/\t/evil" is "//evil"
        return "/inbox"
    return next_url


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/inbox") -> Response:
    return request.app.state.render(request, "login.html",
                                    {"next": _safe_next(next), "error": ""})


@router.post("/login")
async def login(request: Request, member: str = Form(..., max_length=64),
                password: str = Form(..., max_length=256), next: str = Form("/inbox"),
                csrf: str = Form("")) -> Response:
    await check_csrf(request)
    client = request.client.host if request.client else "?"
    keys = (f"m:{member.lower()}", f"ip:{client}")
    workspace = request.app.state.workspace
    if _throttled(*keys):
        ok = False
        error = "Too many failed attempts. Wait a few minutes and try again."
    else:
        ok = await run_in_threadpool(workspace.authenticate, member.strip().lower(), password)
        error = "" if ok else "That name and password do not match a member of this workspace."
    if not ok:
        if not error.startswith("Too many"):
            _failed(*keys)
        return request.app.state.render(request, "login.html",
                                        {"next": _safe_next(next), "error": error,
                                         "member": member}, status=401)
    request.session.clear()
    request.session["member"] = member.strip().lower()
    request.session["csrf"] = secrets.token_urlsafe(24)  # a new token per session
    await run_in_threadpool(workspace.set_presence, member.strip().lower(), "online")
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    member_id = request.session.get("member")
    request.session.clear()
    if member_id:
        await run_in_threadpool(request.app.state.workspace.set_presence, member_id, "offline")
    return RedirectResponse("/login", status_code=303)


def login_redirect(exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)


def bearer_name(request: Request) -> str:
    """The API token's name, or 401 with what to send."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "send an API token: 'Authorization: Bearer ev_…' (create one "
                                 "with `ev workspace token NAME`)",
                            headers={"WWW-Authenticate": "Bearer"})
    name = request.app.state.workspace.api_token_name(token.strip())
    if name is None:
        raise HTTPException(401, "this API token is not known to the workspace",
                            headers={"WWW-Authenticate": "Bearer"})
    return name


def session_context(request: Request, member: Member) -> dict[str, Any]:
    return {"me": member, "csrf": csrf_token(request)}
