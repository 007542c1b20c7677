"""The Signals page: label distribution over recent mentions, corrections by signal and label,
and the model cards (promoted or not); plus the form post that records a correction.

A correction is an event on the case that re-decides it (services/corrections.py);
retraining is on demand here (lead's button) or by schedule, and a model replaces the
current one only if it wins on the workspace's own held-back corrections.
"""

from __future__ import annotations

import time
import weakref
from collections import Counter
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from escapevelocity.domain import access, correct, learn
from escapevelocity.domain import permissions as perm
from escapevelocity.services import corrections, learning
from escapevelocity.services.casetx import CaseError
from escapevelocity.web import auth
from escapevelocity.web.deps import CaseAccess, load_visible, visible_case
from escapevelocity.web.views import flash

router = APIRouter(tags=["signals"])
RECENT = 20_000  # the newest mentions the distribution is computed over


def _workspace(request: Request) -> Any:
    workspace = getattr(request.app.state, "workspace", None)
    if workspace is None:
        raise HTTPException(503, "no workspace is configured")
    return workspace


class _Labels(msgspec.Struct):
    """The four labels the page counts; the rest of a stored Signals is skipped, not built."""

    sentiment_label: str = "?"
    situation: str = "?"
    situations: list[str] = msgspec.field(default_factory=list)
    severity: str = ""
    author_class: str = "customer"


_decode_labels = msgspec.json.Decoder(_Labels).decode
_CACHE: weakref.WeakKeyDictionary[Any, tuple[int, float, dict[str, Counter]]] = (
    weakref.WeakKeyDictionary())
CACHE_TTL = 30.0  # seconds a distribution is reused once newer mentions arrived


def distribution(store: Any) -> dict[str, Counter]:
    """Labels over the newest RECENT mentions. Decoding them is the page's cost (1.4 s for
    50,000 at 176k cases), so a store's distribution is reused until newer mentions arrived and
    CACHE_TTL seconds have passed."""
    with store.begin() as tx:
        newest = tx.mentions.last_id()
        cached = _CACHE.get(store)
        if cached and (cached[0] == newest or time.monotonic() - cached[1] < CACHE_TTL):
            return cached[2]
        bodies = tx.mentions.recent_signals(RECENT)
    out = {"sentiment": Counter(), "situation": Counter(), "severity": Counter(),
           "author_class": Counter()}
    for body in bodies:
        try:
            s = _decode_labels(body)
        except (TypeError, ValueError, msgspec.DecodeError):
            continue
        out["sentiment"][s.sentiment_label] += 1
        for situation in s.situations or [s.situation]:
            out["situation"][situation] += 1
        if s.severity:
            out["severity"][s.severity] += 1
        out["author_class"][s.author_class] += 1
    _CACHE[store] = (newest, time.monotonic(), out)
    return out


@router.get("/signals", response_class=HTMLResponse)
def signals_page(request: Request, member=Depends(auth.member_of)) -> HTMLResponse:
    workspace = _workspace(request)
    dist = distribution(workspace.store)
    with workspace.store.begin() as tx:
        waiting = tx.mentions.provisional_count()
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
        updated = corrections.correct(workspace, case.id, member.id, signal, label, why)
    except correct.CorrectionError as exc:
        raise HTTPException(422, str(exc)) from None
    except CaseError as exc:
        raise HTTPException(409, str(exc)) from None
    flash(request, f"{signal.replace('_', ' ')} corrected to {label.replace('_', ' ')}: "
                   f"now {updated.track} · {updated.priority.upper()} · "
                   f"{updated.team}; the models learn from it.")
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


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
