"""The web app: inbox, case pages, live updates and the mentions API for one workspace.

`create_app` is the composition root of the web edge. It owns no state beyond what it is
given: the workspace (store, clock, playbook) and the settings. Every page reads projections of
the event log; every action goes through the same services the CLI uses.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import jinja2.bccache
import msgspec
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from escapevelocity.adapters.bus import Feed, LogTailFeed, Nudge
from escapevelocity.adapters.notify.transports import transports_from_env
from escapevelocity.config import Settings
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.org import Organisation
from escapevelocity.services import signin
from escapevelocity.services.crisis import DOCUMENT as CRISIS_DOCUMENT
from escapevelocity.services.crisis import CrisisState
from escapevelocity.services.intake import Intake
from escapevelocity.services.notify import Notifier
from escapevelocity.services.webhooks import Webhooks
from escapevelocity.services.worker import tick_all
from escapevelocity.services.workspace import Workspace
from escapevelocity.web import auth, errors
from escapevelocity.web.keepalive import ApiErrorsKeepAlive
from escapevelocity.web.live import Pace

HERE = Path(__file__).parent
STOP_GRACE = 2.0  # seconds a stopping server waits for the worker pass in hand
log = logging.getLogger(__name__)
# Scripts and styles only from this site: a mention that slips an element past escaping still
# cannot run code (no inline script, no eval, no foreign origin).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Pure ASGI so streaming responses (SSE) are not buffered. It wraps the whole middleware
    stack, Starlette's ServerErrorMiddleware included, so a 500 carries the headers too."""

    def __init__(self, app: ASGIApp, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + (extra or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                own = {k.lower() for k, _ in headers}  # a route may set a stricter policy
                message["headers"] = headers + [h for h in self.headers if h[0] not in own]
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyLimit:
    """Refuse bodies over `limit` bytes with 413 before reading them whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._too_large(scope, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        ctype, body = errors.too_large(scope, self.limit)  # a page for people, JSON for the API
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", ctype),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def _org_cache(workspace: Workspace, ttl: float = 2.0) -> Callable[[], Organisation]:
    cached: list[Any] = [None, 0.0]

    def org() -> Organisation:
        if cached[0] is None or time.monotonic() - cached[1] > ttl:
            with workspace.store.begin() as tx:
                cached[0] = tx.org.load()
            cached[1] = time.monotonic()
        return cached[0]

    def forget() -> None:  # an admin page, or a member signed in by SSO, changed the organisation
        cached[0] = None

    org.forget = org.reset = forget  # type: ignore[attr-defined]
    return org


class _CompiledTemplates(jinja2.BytecodeCache):
    """Templates compiled once per process, not once per app: each app has its own environment
    (its filters read its workspace's clock), and compiling the ~60 templates anew cost each
    new app ~0.45 s of CPU (the test suite builds hundreds of apps). A template whose source
    changed is compiled again (the bucket checks the source's checksum); every environment
    that uses this cache is made by `_templates` with the same options."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


def _templates(workspace: Workspace) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    env = templates.env
    env.autoescape = True
    env.bytecode_cache = _COMPILED
    # What a member's role allows, from the one role table (the navigation shows only the
    # pages a member may use: `may(me, "configure")`).
    env.globals["may"] = lambda member, action: bool(member) and perm.allowed(
        (member.role,), action)

    def when(value: datetime | None, fmt: str = "%d %b %H:%M") -> str:
        return value.astimezone(UTC).strftime(fmt) if value else "—"

    def due(value: datetime | None) -> str:
        """'in 12 min' / '3 min late', against the workspace clock (drills run fast)."""
        if value is None:
            return "no SLA"
        minutes = int((value - workspace.clock.now()).total_seconds() // 60)
        if minutes >= 0:
            return f"in {minutes} min" if minutes < 120 else f"in {_coarse(minutes)}"
        late = -minutes
        return f"{late} min late" if late < 120 else f"{_coarse(late)} late"

    def _coarse(minutes: int) -> str:
        """Hours under two days ("in 5 h"), whole days and hours beyond ("in 3 days 4 h")."""
        from escapevelocity.web.labels import minutes as words_for

        return (f"{minutes // 60} h" if minutes < 2880
                else words_for(minutes - minutes % 60))

    def overdue(value: datetime | None) -> bool:
        return value is not None and value < workspace.clock.now()

    env.filters.update(when=when, due=due)
    from escapevelocity.web import labels

    labels.install(env)  # `words`, `minutes`: identifiers and durations as words
    env.tests["overdue"] = overdue
    return templates


def _crisis_state(workspace: Workspace) -> CrisisState:
    """Read per page from the shared document, so a level raised by another process shows."""
    with workspace.store.begin() as tx:
        raw = tx.documents.get(CRISIS_DOCUMENT)
    return msgspec.json.decode(raw, type=CrisisState) if raw else CrisisState()


def _bell(request: Request) -> dict[str, Any] | None:
    """The layout's bell: the logged-in member's unread count and browser-notification choice."""
    member = getattr(request.state, "member", None)
    if member is None:
        return None
    with request.app.state.workspace.store.begin() as tx:
        return {"unread": tx.notifications.unread_count(member.id),
                "browser": tx.notifications.prefs(member.id).browser}


def include(app: FastAPI, router: APIRouter) -> None:
    """The router's routes onto the app's own, as built when their module was imported.

    FastAPI's `include_router` (0.16x) wraps the router and builds every route's dependency
    graph again, per app, the first time a request walks past it: ~0.3 s of CPU per app for
    our ~300 routes (every test that makes an app paid it; a server, once), and a version check
    of each wrapper on every request. Nothing here needs what an include adds (a prefix,
    dependencies or overrides given at include time: a router says its own), so the routes
    are taken as they are."""
    app.router.routes.extend(router.routes)


def create_app(workspace: Workspace, settings: Settings, *,
               tick_seconds: float | None = 5.0, intake: Intake | None = None,
               feed: Feed | None = None, pace: Pace | None = None) -> FastAPI:
    """`tick_seconds`: how often this process runs the clock-driven jobs (SLA escalation,
    approvals, follow-ups, crisis checks); None when another process does (and in tests that
    move the clock themselves). `pace`: how often live pages ask and tell (web/live.py; the
    product's by default)."""
    stopping = threading.Event()  # not asyncio's: test clients run the app on several loops
    intake = intake or Intake.open(workspace)
    notifier = Notifier(workspace.store, workspace.clock, transports_from_env(os.environ),
                        base_url=os.environ.get("EV_PUBLIC_URL", ""))

    def ticker(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                tick_all(workspace, intake.crisis, stop=stop, notifier=notifier,
                         webhooks=app.state.webhooks)
            except Exception:  # tick_all keeps jobs apart; this keeps the thread alive
                log.exception("worker pass failed")
            stop.wait(tick_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stopping.clear()
        # A daemon thread, not the threadpool: on SIGTERM the server waits at most
        # STOP_GRACE for the job in hand (each job commits its own transactions; one cut off
        # at exit is rolled back), instead of the rest of a pass that can take half a minute.
        # What start-up built (modules, lexicons, automata, the workspace) lives as long as the
        # process: out of the collector's sight, a full collection during a big request scans
        # only that request's objects (a 1,000-rule check paused every thread ~0.5 s, 0.18 s).
        gc.freeze()
        hook = None
        if settings.bus.startswith("nats://"):  # scale-out: the intake publishes to JetStream
            from escapevelocity.adapters.bus.jetstream import (
                JetStream,
                api_from_env,
                prefix_from_env,
            )

            app.state.publisher = await JetStream(
                settings.bus, prefix_from_env(), **api_from_env()).connect(name="ev-serve")
            # live views on every replica wake on any process's commit (web/live.py)
            hook = app.state.publisher.commit_hook(asyncio.get_running_loop())
            workspace.store.on_commit.append(hook)
            app.state.nudge = Nudge()
            await app.state.publisher.on_changes(app.state.nudge.set)
            # who views a case, seen by every replica (the KV bucket <PREFIX>_presence)
            from escapevelocity.adapters import presence

            app.state.presence = presence.NatsPresence(
                app.state.publisher.nc, app.state.publisher.prefix, ttl=presence.TTL,
                js_options=app.state.publisher.js_options)
        thread, stop = None, threading.Event()  # this run's: an old pass never restarts
        if tick_seconds:
            thread = threading.Thread(target=ticker, args=(stop,), name="ev-ticker",
                                      daemon=True)
            thread.start()
        yield
        stop.set()
        stopping.set()  # end live streams and the ticker so the server can stop promptly
        if hook is not None:
            workspace.store.on_commit.remove(hook)
            app.state.nudge.set()  # live views waiting on a notice see `stopping` now
        if app.state.publisher is not None:
            await app.state.publisher.close()
            app.state.publisher = None
            app.state.presence = None
        waited = 0.0
        while thread is not None and thread.is_alive() and waited < STOP_GRACE:
            await asyncio.sleep(0.05)
            waited += 0.05

    app = FastAPI(title="Escape Velocity", lifespan=lifespan, docs_url=None,  # see reference
                  redoc_url=None, openapi_url="/api/openapi.json")
    app.state.workspace = workspace
    if workspace.away_after is None and settings.away_after_minutes > 0:
        workspace.away_after = timedelta(minutes=settings.away_after_minutes)  # auto-away
    app.state.settings = settings
    app.state.stopping = stopping
    app.state.org = _org_cache(workspace)
    app.state.org_refresh = app.state.org.reset
    app.state.intake = intake
    app.state.publisher = None  # the JetStream intake when EV_BUS=nats:// (lifespan connects)
    app.state.nudge = None  # its change notices for live views (web/live.py)
    app.state.presence = None  # who views a case: memory, or NATS KV (web/routes_people.py)
    app.state.notifier = notifier
    app.state.webhooks = Webhooks.from_env(workspace.store, workspace.clock)
    app.state.feed = feed or LogTailFeed(workspace.store)  # what live views read
    templates = app.state.templates = _templates(workspace)
    app.state.pace = templates.env.globals["pace"] = pace or Pace()  # the layout hands it on

    def render(request: Request, name: str, context: dict[str, Any],
               status: int = 200) -> HTMLResponse:
        context = {"request": request, "csrf": auth.csrf_token(request),
                   "crisis": _crisis_state(workspace), "bell": _bell(request), **context}
        return templates.TemplateResponse(request, name, context, status_code=status)

    app.state.render = render

    @app.exception_handler(auth.LoginRequired)
    async def _login(_: Request, exc: auth.LoginRequired) -> Response:
        return auth.login_redirect(exc)

    errors.install(app)  # domain errors and HTTP errors: a page for people, JSON for the API

    @app.get("/", include_in_schema=False)
    def root() -> Response:
        return RedirectResponse("/inbox", status_code=303)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        with workspace.store.begin() as tx:
            seq = tx.events.last_seq()
        return JSONResponse({"status": "ok", "last_seq": seq})

    from escapevelocity.web import live, routes_api, routes_case, routes_inbox, routes_playbook

    include(app, auth.router)
    include(app, routes_inbox.router)
    include(app, routes_case.router)
    include(app, live.router)
    include(app, routes_api.router)
    from escapevelocity.web import routes_ops

    include(app, routes_ops.router)  # /readyz, /metrics
    from escapevelocity.web import routes_hooks

    include(app, routes_hooks.router)  # signed inbound webhooks (channels/webhook)
    from escapevelocity.web import routes_channels

    include(app, routes_channels.router)  # connections and their health
    include(app, routes_playbook.router)
    # Feature pages: one include per router module (signals, drills, engagement, …).
    from escapevelocity.web import routes_engage

    include(app, routes_engage.router)  # approvals, notes, tags, CRM, bulk, audit
    from escapevelocity.web import routes_signals

    include(app, routes_signals.router)  # label distribution, corrections, model cards
    from escapevelocity.web import routes_drill

    include(app, routes_drill.router)  # drill director, incidents (crisis mode)

    from escapevelocity.web import routes_brand, routes_team

    include(app, routes_brand.router)  # the brand profile (admins edit)

    include(app, routes_team.router)  # team

    from escapevelocity.web import routes_notify

    include(app, routes_notify.router)  # the bell: notifications and preferences
    include(app, routes_notify.admin)  # webhook dead letters (replay), outbound switch
    from escapevelocity.web import routes_reports

    include(app, routes_reports.router)  # reports, drill-down, goals, the wall
    from escapevelocity.web import routes_drilldown

    include(app, routes_drilldown.router)  # approvals, incidents, drills behind rows

    from escapevelocity.web import api_v1

    api_v1.install(app)  # /api/v1: the versioned API, its reference page, rate-limit headers

    from escapevelocity.web import routes_governance

    include(app, routes_governance.router)  # readiness, training, maturity

    from escapevelocity.web import routes_bulk, routes_people, routes_search

    include(app, routes_bulk.router)  # bulk actions on a filtered selection

    include(app, routes_search.router)  # search, saved views (issue 18)
    include(app, routes_people.router)  # customer profiles, presence (issue 18)

    from escapevelocity.web import routes_admin

    include(app, routes_admin.router)  # members, teams, SLA, vocabulary, customers

    from escapevelocity.web import routes_answers

    include(app, routes_answers.router)  # suggested answers, automation, deflection
    from escapevelocity.web import routes_replies

    include(app, routes_replies.router)  # the saved-reply library
    from escapevelocity.web import routes_advocates

    include(app, routes_advocates.router)  # super users and the advocacy program

    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.add_middleware(ApiErrorsKeepAlive)  # innermost: an API error answers, not closes
    app.add_middleware(SessionMiddleware, secret_key=settings.secret_key,
                       session_cookie="ev_session", same_site="lax",
                       https_only=settings.secure_cookies,
                       max_age=int(signin.SESSION_MAX.total_seconds()))
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    from escapevelocity.web.drill_sandbox import DrillSandboxRouter

    app.add_middleware(DrillSandboxRouter)  # players in a drill work the sandbox's inbox
    if settings.trusted_proxies:
        # X-Forwarded-For / -Proto only from these peers; from anyone else the socket's peer is
        # the client (the throttle keys on it).
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
    extra = []
    if settings.hsts_seconds > 0:
        extra.append((b"strict-transport-security",
                      b"max-age=%d; includeSubDomains" % settings.hsts_seconds))
    inner = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(inner(), extra)  # outermost
    return app
