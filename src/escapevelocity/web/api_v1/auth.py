"""Who is calling the versioned API, what their token lets them ask, and how often.

Bearer tokens only (services/tokens.py): the API never reads the session cookie, so a page on
another site cannot make a member's browser call it. Each request's token is resolved once to a
Principal; a route states the scope it needs (`need(READ)`) and, for anything about cases, the
token must act as a member, whose role and sight the access policy then checks exactly as it
does for the pages.

Rate limits: a fixed one-minute window per token (EV_API_RATE_PER_MINUTE, default 600), stated
on every answer in RateLimit-Limit / RateLimit-Remaining / RateLimit-Reset; past it, 429 with
Retry-After. The window is per process (each replica counts its own).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from escapevelocity.domain.org import Member
from escapevelocity.services import tokens
from escapevelocity.services.tokens import Principal

WINDOW = 60.0


class ApiError(HTTPException):
    """An HTTP error with a stable code for the one error shape (web/errors.py)."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, message, headers)
        self.code = code


class RateLimiter:
    """Requests per token per fixed window; thread-safe, in memory."""

    def __init__(self, per_minute: int) -> None:
        self.limit = per_minute
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[float, int]] = {}

    def hit(self, key: str, now: float | None = None) -> tuple[bool, int, int]:
        """(allowed, remaining, seconds until the window resets)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            start, count = self._seen.get(key, (now, 0))
            if now - start >= WINDOW:
                start, count = now, 0
            count += 1
            self._seen[key] = (start, count)
            if len(self._seen) > 10_000:  # forget idle tokens' windows
                self._seen = {k: v for k, v in self._seen.items() if now - v[0] < WINDOW}
        reset = max(1, math.ceil(start + WINDOW - now))
        return count <= self.limit, max(0, self.limit - count), reset


def limiter(request: Request) -> RateLimiter:
    state = request.app.state
    if getattr(state, "api_limiter", None) is None:
        state.api_limiter = RateLimiter(int(os.environ.get("EV_API_RATE_PER_MINUTE", "600")))
    return state.api_limiter


_bearer = HTTPBearer(auto_error=False, description="a personal or service token: ev_…")


async def principal(request: Request,
                    _: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    """The calling token's principal, or 401 (no token, or not a live one)."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise ApiError(401, "unauthorized", "send a token: 'Authorization: Bearer ev_…' "
                       "(make one under Settings → API tokens, or `ev token create`)",
                       {"WWW-Authenticate": "Bearer"})
    if len(secret) > 200 or not secret.isascii() or not secret.isprintable():
        found = None
    else:
        ws = request.app.state.workspace
        found = await run_in_threadpool(tokens.principal, ws.store, ws.clock, secret)
    if found is None:
        raise ApiError(401, "unauthorized", "this token is not known, revoked or expired",
                       {"WWW-Authenticate": "Bearer"})
    allowed, remaining, reset = limiter(request).hit(found.token)
    limit = limiter(request).limit
    request.state.ratelimit = (limit, remaining, reset)
    if not allowed:
        raise ApiError(429, "rate_limited", f"more than {limit} requests a minute on this "
                       f"token; wait {reset} s", {"Retry-After": str(reset)})
    request.state.principal = found
    return found


def need(scope: str) -> Callable[..., Principal]:
    """A dependency: the principal, when its token carries `scope` (else 403)."""

    async def check(who: Principal = Depends(principal)) -> Principal:
        if scope not in who.scopes:
            raise ApiError(403, "insufficient_scope", f"this token lacks the {scope!r} scope "
                           f"(it has: {', '.join(sorted(who.scopes)) or 'none'})")
        return who
    return check


def member_of(who: Principal) -> Member:
    if who.member is None:
        raise ApiError(403, "no_member", "this token acts as no member; make a service token "
                       "with a member to act as, or a personal token")
    return who.member


class RateLimitHeaders:
    """Adds the rate-limit headers a route's principal check recorded to /api/v1 answers
    (errors included). Pure ASGI, so nothing is buffered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/v1/"):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen = scope.get("state", {}).get("ratelimit")
                if seen:
                    limit, remaining, reset = seen
                    message["headers"] = [
                        *message.get("headers", []),
                        (b"ratelimit-limit", str(limit).encode()),
                        (b"ratelimit-remaining", str(remaining).encode()),
                        (b"ratelimit-reset", str(reset).encode())]
            await send(message)

        await self.app(scope, receive, with_headers)
