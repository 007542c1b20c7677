"""Who is asking the web app: member sessions with CSRF tokens, and API bearer tokens.

The session cookie (Starlette's SessionMiddleware, signed with itsdangerous) holds a random
session id and a per-session CSRF token; the session itself lives in the database
(services/signin.py), so logout, a password or role change, or removal ends it on every
replica, and it slides forward while in use. Every state-changing form or HTMX request must echo
the CSRF token (form field `csrf` or header `X-CSRF-Token`); the API takes bearer tokens instead
and never reads cookies, so a page on another site can neither post as a member nor as an
integration.

Sign-in is throttled by services/signin.py. The client address is the socket's peer unless the
peer is one of EV_TRUSTED_PROXIES (uvicorn's ProxyHeadersMiddleware, added in web/app.py). A
browser that signed in as a member before carries a signed device cookie, so strangers failing
as that member elsewhere cannot lock them out of it.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain.org import Member, Organisation
from escapevelocity.services import signin

router = APIRouter(tags=["auth"])

DEVICE_COOKIE = "ev_device"
DEVICE_DAYS = 180
DEVICE_MEMBERS = 8  # members remembered per browser (a shared desk)


class LoginRequired(Exception):
    """Raised by `member_of`; the app turns it into a redirect to the login page."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


def org_of(request: Request) -> Organisation:
    return request.app.state.org()


def member_of(request: Request) -> Member:
    """The logged-in member, or a redirect to the login page (HTML) / 401 (HTMX, API)."""
    sid = request.session.get("sid")
    workspace = request.app.state.workspace
    member_id = (signin.session_member(workspace.store, workspace.clock, sid)
                 if isinstance(sid, str) else None)
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


def _devices(request: Request) -> URLSafeSerializer:
    return URLSafeSerializer(request.app.state.settings.secret_key, salt="ev-device")


def _device(request: Request) -> tuple[str, list[str]]:
    """This browser's device id and the members who signed in on it (new id if none)."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if raw:
        try:
            data = _devices(request).loads(raw)
            if (isinstance(data, dict) and isinstance(data.get("d"), str)
                    and isinstance(data.get("m"), list)):
                return data["d"], [m for m in data["m"] if isinstance(m, str)]
        except BadSignature:
            pass
    return secrets.token_urlsafe(12), []


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def _safe_next(next_url: str) -> str:
    """Only paths on this site: never an open redirect."""
    if (not next_url.startswith("/") or next_url.startswith("//") or "\\" in next_url
            or any(ord(ch) < 32 or ord(ch) == 127 for ch in next_url)):  # "/\t/evil" is "//evil"
        return "/inbox"
    return next_url


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/inbox") -> Response:
    return request.app.state.render(request, "login.html",
                                    {"next": _safe_next(next), "error": "", **_ways(request)})


def _ways(request: Request) -> dict[str, Any]:
    """Which ways to sign in the login page offers: single sign-on, passwords, or both."""
    from escapevelocity.services import sso
    from escapevelocity.web.routes_sso import config

    cfg = config(request)
    return {"sso": cfg, "password": sso.password_signin(cfg)}


@router.post("/login")
async def login(request: Request, member: str = Form(..., max_length=64),
                password: str = Form(..., max_length=256), next: str = Form("/inbox"),
                csrf: str = Form("")) -> Response:
    await check_csrf(request)
    ways = _ways(request)
    if not ways["password"]:
        return request.app.state.render(request, "login.html", {
            "next": _safe_next(next), "error": "Password sign-in is turned off here: sign in "
            "with single sign-on.", **ways}, status=403)
    workspace = request.app.state.workspace
    store, clock = workspace.store, workspace.clock
    name = signin.normal_member(member)
    device, known = _device(request)
    attempt = signin.Attempt(name, client_address(request),
                             device if name in known else None)
    if await run_in_threadpool(signin.throttled, store, clock, attempt):
        ok = False
        error = "Too many failed attempts. Wait a few minutes and try again."
    else:
        ok = signin.plausible_member(name) and await run_in_threadpool(
            workspace.authenticate, name, password)
        error = "" if ok else "That name and password do not match a member of this workspace."
        if not ok:
            await run_in_threadpool(signin.failed, store, clock, attempt)
    if not ok:
        return request.app.state.render(request, "login.html",
                                        {"next": _safe_next(next), "error": error,
                                         "member": member, **ways}, status=401)
    await run_in_threadpool(signin.succeeded, store, attempt)
    from escapevelocity.services import second_factor

    if await run_in_threadpool(second_factor.enrolled, store, name):
        # the password was right; the session starts only after the second factor
        request.session.clear()
        request.session["pending_2fa"] = {"m": name, "next": _safe_next(next),
                                          "at": clock.now().timestamp()}
        request.session["csrf"] = secrets.token_urlsafe(24)
        return RedirectResponse("/login/second-factor", status_code=303)
    return await begin_session(request, name, next)


async def begin_session(request: Request, name: str, next: str) -> Response:
    """Start `name`'s session (after the password, the second factor or single sign-on)."""
    workspace = request.app.state.workspace
    store, clock = workspace.store, workspace.clock
    device, known = _device(request)
    old = request.session.get("sid")
    if isinstance(old, str):
        await run_in_threadpool(signin.end_session, store, clock, old)
    request.session.clear()
    request.session["sid"] = await run_in_threadpool(signin.start_session, store, clock, name)
    request.session["csrf"] = secrets.token_urlsafe(24)  # a new token per session
    await run_in_threadpool(workspace.set_presence, name, "online")
    response = RedirectResponse(_safe_next(next), status_code=303)
    remembered = [name, *[m for m in known if m != name]][:DEVICE_MEMBERS]
    response.set_cookie(DEVICE_COOKIE, _devices(request).dumps({"d": device, "m": remembered}),
                        max_age=DEVICE_DAYS * 86400, httponly=True, samesite="lax",
                        secure=request.app.state.settings.secure_cookies)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await check_csrf(request)
    workspace = request.app.state.workspace
    sid = request.session.get("sid")
    member_id = (await run_in_threadpool(signin.session_member, workspace.store,
                                         workspace.clock, sid)
                 if isinstance(sid, str) else None)
    request.session.clear()
    if isinstance(sid, str):
        await run_in_threadpool(signin.end_session, workspace.store, workspace.clock, sid)
    if member_id:
        await run_in_threadpool(workspace.set_presence, member_id, "offline")
    return RedirectResponse("/login", status_code=303)


def login_redirect(exc: LoginRequired) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)


def bearer_name(request: Request) -> str:
    """The API token's name, or 401 with what to send."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "send an API token: 'Authorization: Bearer ev_…' (create one "
                                 "with `ev workspace token new NAME`)",
                            headers={"WWW-Authenticate": "Bearer"})
    name = request.app.state.workspace.api_token_name(token.strip())
    if name is None:
        raise HTTPException(401, "this API token is not known to the workspace",
                            headers={"WWW-Authenticate": "Bearer"})
    return name


def session_context(request: Request, member: Member) -> dict[str, Any]:
    return {"me": member, "csrf": csrf_token(request)}
