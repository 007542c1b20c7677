"""Issue 15.3: an error in an API route is answered (a JSON 500), not raised to the server,
which would close the client's keep-alive connection."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from escapevelocity.web.keepalive import ApiErrorsKeepAlive


async def _boom(scope, receive, send):
    raise RuntimeError("a bug")


def _call(app, path: str) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    async def call():
        await app({"type": "http", "path": path, "method": "POST", "headers": []}, receive, send)

    # A loop of its own, in a thread of its own: a browser test earlier in the session may leave
    # the main thread's event loop running (Playwright's sync API), where asyncio.run refuses.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, call()).result()
    return sent


def test_an_api_error_is_answered_so_the_connection_stays_open():
    sent = _call(ApiErrorsKeepAlive(_boom), "/api/mentions")
    assert sent[0]["status"] == 500 and b"internal error" in sent[1]["body"]


def test_pages_are_left_to_the_app_s_error_pages():
    try:
        _call(ApiErrorsKeepAlive(_boom), "/inbox")
    except RuntimeError:
        return
    raise AssertionError("a page error must reach the app's own handlers")
