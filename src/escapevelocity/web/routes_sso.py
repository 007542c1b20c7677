"""Sign-in by OpenID Connect (services/sso.py says who the claims make a member).

Authlib's Starlette client does the protocol: the provider's discovery document, PKCE (S256),
state and nonce kept in the signed session, the code exchanged at the token endpoint, and the
ID token verified against the provider's JWKS (issuer, audience, nonce, expiry); when the token
is signed with a key id it has not seen, it fetches the keys again, so a provider that rotates
its keys keeps working. A member with a second factor still gives their code after the
provider (web/routes_security.py).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.adapters import tls
from escapevelocity.services import second_factor, sso
from escapevelocity.web.auth import _safe_next, begin_session

router = APIRouter(tags=["auth"], include_in_schema=False)
log = logging.getLogger(__name__)


def config(request: Request) -> sso.SsoConfig | None:
    state = request.app.state
    if not hasattr(state, "sso_config"):
        state.sso_config = sso.SsoConfig.from_env()
    return state.sso_config


def _client(request: Request) -> Any:
    """The Authlib client for the configured provider (made once per app)."""
    state = request.app.state
    cfg = config(request)
    if getattr(state, "sso_client", None) is None or state.sso_client_for != cfg:
        from authlib.integrations.starlette_client import OAuth

        oauth = OAuth()
        oauth.register("provider", client_id=cfg.client_id, client_secret=cfg.client_secret,
                       server_metadata_url=f"{cfg.issuer}/.well-known/openid-configuration",
                       client_kwargs={"scope": "openid email profile",
                                      "code_challenge_method": "S256", "timeout": 10,
                                      # Authlib makes an httpx client per call to the provider
                                      "verify": tls.verify()})
        state.sso_client, state.sso_client_for = oauth.provider, cfg
    return state.sso_client


def _refused(request: Request, message: str, status: int = 403) -> Response:
    return request.app.state.render(request, "login.html", {
        "next": "/inbox", "error": message, "sso": config(request),
        "password": sso.password_signin(config(request))}, status)


@router.get("/login/sso")
async def start(request: Request, next: str = "/inbox") -> Response:
    if config(request) is None:
        return RedirectResponse("/login", status_code=303)
    try:
        import authlib  # noqa: F401  (the sso extra)
    except ImportError:
        return _refused(request, "Single sign-on is set up but this server lacks its library: "
                        "install escapevelocity[sso].", 503)
    request.session["sso_next"] = _safe_next(next)
    callback = str(request.url_for("sso_callback"))
    return await _client(request).authorize_redirect(request, callback,
                                                     nonce=secrets.token_urlsafe(16))


@router.get("/login/sso/callback", name="sso_callback")
async def callback(request: Request) -> Response:
    cfg = config(request)
    if cfg is None:
        return RedirectResponse("/login", status_code=303)
    if "error" in request.query_params:
        return _refused(request, "The provider did not sign you in: "
                        f"{request.query_params.get('error', '')[:100]}", 401)
    try:
        token = await _client(request).authorize_access_token(request)
    except Exception as exc:  # Authlib's OAuthError, JoseError, a provider that is down
        log.warning("single sign-on failed: %s", exc)
        return _refused(request, "Single sign-on failed: the provider's answer could not be "
                        "verified. Try again.", 401)
    claims = token.get("userinfo") or {}
    ws = request.app.state.workspace
    try:
        member = await run_in_threadpool(sso.sign_in, ws, cfg, claims)
    except sso.SsoRefused as exc:
        return _refused(request, str(exc))
    next_url = request.session.pop("sso_next", "/inbox")
    request.app.state.org_refresh()  # a provisioned member or a new role counts at once
    if await run_in_threadpool(second_factor.enrolled, ws.store, member):
        request.session.clear()
        request.session["pending_2fa"] = {"m": member, "next": _safe_next(next_url),
                                          "at": ws.clock.now().timestamp()}
        request.session["csrf"] = secrets.token_urlsafe(24)
        return RedirectResponse("/login/second-factor", status_code=303)
    return await begin_session(request, member, next_url)
