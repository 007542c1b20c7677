"""The playbook in the web app: the active version as a wall diagram with per-rule hit counts
from the event log, its Mermaid text, and a check-only editor that validates exactly as
`ev playbook check` does (saving stays with the workspace's one write path).

The routes find the workspace on `request.app.state.workspace` and render with the app's
Jinja templates (web/templates/playbook.html, extending the app's base.html when there is one).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import TemplateNotFound

from escapevelocity.adapters.store.schema import events
from escapevelocity.domain.events import DECIDED
from escapevelocity.domain.playbook import Playbook, PlaybookError, compile_playbook
from escapevelocity.domain.playbook_check import as_dict, check_source
from escapevelocity.domain.playbook_diagram import mermaid, svg

router = APIRouter(tags=["playbook"])
TEMPLATES_DIR = Path(__file__).parent / "templates"
MAX_SOURCE_BYTES = 512_000  # a playbook is a document, not a data dump
_templates: Jinja2Templates | None = None

_STANDALONE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{% block title %}Escape Velocity{% endblock %}</title></head>
<body>{% block content %}{% endblock %}</body></html>"""


def rule_hits(conn: sa.Connection, version: str | None = None) -> Counter[str]:
    """Cases decided per rule id, from DECIDED events (only `version`'s, when given)."""
    hits: Counter[str] = Counter()
    rows = conn.execute(sa.select(events.c.data).where(events.c.kind == DECIDED)
                        .execution_options(yield_per=2000))
    for (data,) in rows:
        try:
            decision = json.loads(data).get("decision") or {}
        except (ValueError, AttributeError):
            continue
        if version is None or decision.get("playbook_version") == version:
            hits[str(decision.get("rule_id", "?"))] += 1
    return hits


def _workspace(request: Request) -> Any:
    workspace = getattr(request.app.state, "workspace", None)
    if workspace is None:
        raise HTTPException(503, "no workspace is configured")
    return workspace


def _render(request: Request, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    global _templates
    if _templates is None:
        _templates = getattr(request.app.state, "templates", None) or Jinja2Templates(
            directory=str(TEMPLATES_DIR))
    env = _templates.env
    layout: Any = "base.html"
    try:
        env.get_template("base.html")
    except TemplateNotFound:  # no app layout yet: a minimal one keeps the page self-contained
        layout = env.from_string(_STANDALONE)
    return _templates.TemplateResponse(request, "playbook.html", {**context, "layout": layout},
                                       status_code=status)


def _active(request: Request) -> tuple[Playbook, int, str, Counter[str]]:
    workspace = _workspace(request)
    with workspace.store.begin() as conn:
        active = workspace.store.active_playbook(conn)
        if active is None:
            raise HTTPException(404, "this workspace has no active playbook")
        number, source = active
        hits = rule_hits(conn, f"v{number}")
    playbook = compile_playbook(source, version=f"v{number}")
    return playbook, number, source, hits


@router.get("/playbook", response_class=HTMLResponse)
def playbook_page(request: Request) -> HTMLResponse:
    playbook, number, source, hits = _active(request)
    return _render(request, {
        "playbook": playbook, "version": number, "svg": svg(playbook, hits),
        "total": sum(hits.values()), "source": source, "report": None,
    })


@router.get("/playbook.svg")
def playbook_svg(request: Request) -> Response:
    playbook, _, _, hits = _active(request)
    return Response(svg(playbook, hits), media_type="image/svg+xml")


@router.get("/playbook.mmd", response_class=PlainTextResponse)
def playbook_mermaid(request: Request) -> str:
    playbook, *_ = _active(request)
    return mermaid(playbook)


@router.post("/playbook/check", response_class=HTMLResponse)
def playbook_check(request: Request, source: str = Form(...)) -> HTMLResponse:
    """Validate a draft exactly as `ev playbook check` does; nothing is saved."""
    if len(source.encode()) > MAX_SOURCE_BYTES:
        raise HTTPException(413, f"a playbook is limited to {MAX_SOURCE_BYTES:,} bytes")
    report = check_source(source, source="draft")
    current, number, _, hits = _active(request)
    shown = report.playbook or current
    return _render(request, {
        "playbook": shown, "version": number, "svg": svg(shown, hits if shown is current else
                                                          None),
        "total": sum(hits.values()), "source": source, "report": as_dict(report),
    }, status=200 if report.ok else 422)


@router.post("/api/playbook/check")
async def playbook_check_api(request: Request) -> Response:
    """The same check as JSON, for editors and CI: POST the YAML as the body."""
    body = await request.body()
    if len(body) > MAX_SOURCE_BYTES:
        raise HTTPException(413, f"a playbook is limited to {MAX_SOURCE_BYTES:,} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(400, "the playbook must be UTF-8") from None
    report = check_source(text, source="draft")
    return Response(json.dumps(as_dict(report), default=str), media_type="application/json",
                    status_code=200 if report.ok else 422)


__all__ = ["PlaybookError", "router", "rule_hits"]
