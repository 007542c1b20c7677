"""The Signals page: label distribution over recent mentions, corrections by signal and label,
and the model cards (promoted or not); plus the form post that records a correction.

A correction is an event on the case that re-decides it (services/corrections.py);
retraining is on demand here (lead's button) or by schedule, and a model replaces the
current one only if it wins on the workspace's own held-back corrections.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from escapevelocity.adapters.store.schema import mentions
from escapevelocity.domain import access, correct, learn
from escapevelocity.domain import permissions as perm
from escapevelocity.services import corrections, learning
from escapevelocity.services.casetx import CaseError
from escapevelocity.web import auth
from escapevelocity.web.deps import CaseAccess, load_visible, visible_case
from escapevelocity.web.views import flash

router = APIRouter(tags=["signals"])
RECENT = 50_000  # mentions the distribution is computed over


def _workspace(request: Request) -> Any:
    workspace = getattr(request.app.state, "workspace", None)
    if workspace is None:
        raise HTTPException(503, "no workspace is configured")
    return workspace


def distribution(conn: sa.Connection) -> dict[str, Counter]:
    out = {"sentiment": Counter(), "situation": Counter(), "severity": Counter(),
           "author_class": Counter()}
    rows = conn.execute(sa.select(mentions.c.signals).order_by(mentions.c.id.desc())
                        .limit(RECENT))
    for (body,) in rows:
        try:
            s = json.loads(body)
        except (TypeError, ValueError):
            continue
        out["sentiment"][s.get("sentiment_label", "?")] += 1
        for situation in s.get("situations") or [s.get("situation", "?")]:
            out["situation"][situation] += 1
        if s.get("severity"):
            out["severity"][s["severity"]] += 1
        out["author_class"][s.get("author_class", "customer")] += 1
    return out


@router.get("/signals", response_class=HTMLResponse)
def signals_page(request: Request, member=Depends(auth.member_of)) -> HTMLResponse:
    workspace = _workspace(request)
    with workspace.store.begin() as conn:
        dist = distribution(conn)
        waiting = workspace.store.provisional_count(conn)
    context = {"distribution": {k: v.most_common() for k, v in dist.items()},
               "corrections": learning.correction_counts(workspace.store),
               "cards": list(reversed(learning.cards(workspace.store))),
               "signals": learn.SIGNALS, "member": member, "provisional": waiting,
               "may_retrain": perm.allowed((member.role,), perm.CONFIGURE),
               "csrf": auth.csrf_token(request)}
    return request.app.state.templates.TemplateResponse(request, "signals.html", context)


@router.get("/cases/{case_id}/correction-form", response_class=HTMLResponse)
def correction_form(request: Request, signal: str = Query("situation", max_length=32),
                    seen: CaseAccess = Depends(visible_case)) -> HTMLResponse:
    """The correction form for one signal: only the labels that signal takes (HTMX swaps it
    in when the signal changes). 404 unless the case is in the member's sight."""
    workspace = _workspace(request)
    choices = correct.labels(workspace.triager().playbook)
    chosen = signal if signal in choices else "situation"
    return request.app.state.render(request, "_correct_form.html", {
        "case_id": seen.id, "correctable": choices, "chosen": chosen})


@router.post("/signals/corrections", dependencies=[Depends(auth.check_csrf)])
def record_correction(request: Request, case_id: str = Form(..., max_length=64),
                      signal: str = Form(..., max_length=32),
                      label: str = Form(..., max_length=32), why: str = Form("", max_length=500),
                      member=Depends(auth.member_of)) -> RedirectResponse:
    """A correction: an event the models learn from, and the playbook decides the case again
    on the corrected signals (services/corrections.py). Out of sight: 404; a role that may not
    correct (the roles that may tag): 403, both as pages by web/errors."""
    workspace = _workspace(request)
    seen = load_visible(request, member, case_id)
    access.check(seen.org, member, seen.case, access.CORRECT)
    case = seen.case
    try:
        updated = corrections.correct(workspace, case["id"], member.id, signal, label, why)
    except correct.CorrectionError as exc:
        raise HTTPException(422, str(exc)) from None
    except CaseError as exc:
        raise HTTPException(409, str(exc)) from None
    flash(request, f"{signal.replace('_', ' ')} corrected to {label.replace('_', ' ')}: "
                   f"now {updated['track']} · {updated['priority'].upper()} · "
                   f"{updated['team']}; the models learn from it.")
    return RedirectResponse(f"/cases/{case['id']}", status_code=303)


@router.post("/signals/retrain", dependencies=[Depends(auth.check_csrf)])
def retrain(request: Request, member=Depends(auth.member_of)) -> RedirectResponse:
    workspace = _workspace(request)
    if not perm.allowed((member.role,), perm.CONFIGURE):  # the lead's button, not everyone's
        raise HTTPException(403, f"your role ({member.role}) may not retrain the models; roles "
                                 "that may: strategist, admin")
    try:
        learning.retrain(workspace.store, workspace.clock.now())
    except RuntimeError as exc:  # scikit-learn missing
        raise HTTPException(503, str(exc)) from None
    return RedirectResponse("/signals", status_code=303)
