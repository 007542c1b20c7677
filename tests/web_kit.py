"""Signing in to the web app in tests: one text for what ten modules each wrote out.

`app` (tests/conftest.py) is the app over the demo workspace; `login` signs a member in through
the real form (GET the page for its CSRF token, POST, expect the redirect) and returns the
client and the CSRF token of the page the member lands on.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"  # every demo member's (tests/conftest.py seeds it)
NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # a Friday afternoon: the `clock` fixture's time
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


_PATHS: dict[tuple, dict[str, dict]] = {}


def openapi_paths(app) -> dict[str, dict]:
    """The app's OpenAPI `paths` (path -> {method: operation}), made once per route table.

    Each test builds its own app, and FastAPI makes the description anew for each (0.15-0.4
    CPU-seconds); the paths and their methods come from the routes alone, so apps with the
    same routes (path, methods, shown in the description or not) share one description."""
    key = tuple((type(r).__name__, getattr(r, "path", None),
                 tuple(sorted(getattr(r, "methods", None) or ())),
                 getattr(r, "include_in_schema", None)) for r in app.routes)
    if key not in _PATHS:
        _PATHS[key] = app.openapi()["paths"]
    return _PATHS[key]


def csrf_of(html: str) -> str:
    return _CSRF.search(html).group(1)


def login(target, member: str, password: str = PASSWORD, *, page: str = "/inbox"
          ) -> tuple[TestClient, str]:
    """Sign `member` in on `target` (an app: a new client; or a client) and return the client
    with the CSRF token read from `page`."""
    client = target if isinstance(target, TestClient) else TestClient(target)
    csrf = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"member": member, "password": password, "csrf": csrf,
                                    "next": "/inbox"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:300]
    return client, csrf_of(client.get(page).text)
