"""API errors that keep the client's connection: an exception that escapes a route reaches
Starlette's ServerErrorMiddleware, which answers 500 and re-raises, and uvicorn then closes
the connection, so one failed request also broke the keep-alive connection a channel
connector was posting on (issue 15.3). For /api/ paths this answers the 500 itself, as JSON,
and logs the exception; pages for browsers are left to the app's error pages."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
BODY = b'{"detail":"internal error; nothing of this request may be assumed stored"}'
V1_BODY = (b'{"error":{"code":"internal_error","message":"internal error; nothing of this '
           b'request may be assumed stored"}}')


class ApiErrorsKeepAlive:
    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            if started:  # half a response went out: only closing can end it
                raise
            log.exception("%s %s failed", scope.get("method"), scope["path"])
            body = V1_BODY if scope["path"].startswith("/api/v1/") else BODY
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
