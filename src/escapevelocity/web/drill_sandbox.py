"""Players work a drill in the normal inbox, served from the drill's sandbox workspace.

A member invited to a drill joins it from the director page: their session is copied into
the sandbox database (the same cookie signs them in there) and a cookie names the drill. From
then on this middleware, outermost in the live app, hands every request except the drill
pages (/drills…, where they leave) and static files to the sandbox's own app: the same inbox,
case pages and commands, on the sandbox's database and simulated clock, with a banner on
every page saying it is a drill. Nothing a player does there touches the live workspace. Once
the drill is scored, their requests go to the live app again.
"""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "ev_drill"
PASS_THROUGH = ("/drills", "/static")


def _drill_of(scope: Scope) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is no drill
                return None
            if COOKIE in jar:
                return jar[COOKIE].value[:64]
    return None


class DrillSandboxRouter:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] in ("http", "websocket") and "ev.drill" not in scope
                and not scope["path"].startswith(PASS_THROUGH)):
            name = _drill_of(scope)
            if name:
                from escapevelocity.services import drill as drills

                drill = drills.RUNNING.get(name)
                if drill is not None and drill.app is not None and not drill.done:
                    # marked, so the sandbox app's own router lets it through
                    await drill.app({**scope, "ev.drill": name}, receive, send)
                    return
        await self.app(scope, receive, send)


def sandbox_app(drill: Any, settings: Any, pace: Any = None) -> Any:
    """The drill's own web app (built once): the live app's settings, so the session cookie
    reads the same, and its pace (web/live.py), on the sandbox workspace; its pages carry the
    drill banner."""
    if drill.app is None:
        from escapevelocity.web.app import create_app

        app = create_app(drill.workspace, settings, tick_seconds=None,  # the drill ticks
                         pace=pace)
        app.state.templates.env.globals["drill_banner"] = drill.scenario.title
        drill.app = app
    return drill.app


def copy_session(drill: Any, raw_sid: str, member: str) -> None:
    """Sign the member in to the sandbox with the session they have here."""
    from escapevelocity.services.signin import _hash

    now = drill.workspace.clock.now()
    # The sandbox's clock may run a simulated day a wall minute, which would end a session
    # (12 h idle, 7 days at most) mid-drill. Stamped a year ahead of it, the session is never
    # slid (its last use lies in the clock's future) and lasts the whole drill.
    ahead = now + timedelta(days=365)
    with drill.workspace.store.begin() as tx:
        if tx.signin.live_session(_hash(raw_sid), now) is None:
            tx.signin.create_session(_hash(raw_sid), member, ahead, ahead + timedelta(days=365))


__all__ = ["COOKIE", "DrillSandboxRouter", "copy_session", "sandbox_app"]
