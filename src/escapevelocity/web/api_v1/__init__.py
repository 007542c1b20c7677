"""The versioned REST API, /api/v1: cases and their actions, the organisation, authors,
incidents, the playbook, KPIs, the event log, mentions in and tokens (see docs/api.md).

`install(app)` adds its routers, the rate-limit headers and the reference page.
"""

from __future__ import annotations

from fastapi import FastAPI

from escapevelocity.web.api_v1 import cases, reads, reference
from escapevelocity.web.api_v1.auth import RateLimitHeaders


def install(app: FastAPI) -> None:
    from escapevelocity.web.app import include

    include(app, cases.router)
    include(app, reads.router)
    include(app, reference.router)
    from escapevelocity.web import routes_tokens

    include(app, routes_tokens.router)  # Settings → API tokens (the web app's side)
    from escapevelocity.web import routes_security

    include(app, routes_security.router)  # Settings → Second factor; its sign-in step
    from escapevelocity.web import routes_sso

    include(app, routes_sso.router)  # sign-in by OpenID Connect (EV_OIDC_*)
    app.add_middleware(RateLimitHeaders)


__all__ = ["install"]
