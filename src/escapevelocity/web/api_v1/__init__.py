"""The versioned REST API, /api/v1: cases and their actions, the organisation, authors,
incidents, the playbook, KPIs, the event log, mentions in and tokens (see docs/api.md).

`install(app)` adds its routers, the rate-limit headers and the reference page.
"""

from __future__ import annotations

from fastapi import FastAPI

from escapevelocity.web.api_v1 import cases, reads, reference
from escapevelocity.web.api_v1.auth import RateLimitHeaders


def install(app: FastAPI) -> None:
    app.include_router(cases.router)
    app.include_router(reads.router)
    app.include_router(reference.router)
    from escapevelocity.web import routes_tokens

    app.include_router(routes_tokens.router)  # Settings → API tokens (the web app's side)
    from escapevelocity.web import routes_security

    app.include_router(routes_security.router)  # Settings → Second factor; its sign-in step
    from escapevelocity.web import routes_sso

    app.include_router(routes_sso.router)  # sign-in by OpenID Connect (EV_OIDC_*)
    app.add_middleware(RateLimitHeaders)


__all__ = ["install"]
