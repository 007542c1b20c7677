"""A case: the conversation, who is asking, the signals, the rule that decided it and why,
how it was routed, its history; and the actions a member takes on it (claim, reply, resolve).

Actions go through services/cases.py, the one place their rules live, so the web cannot do
what the CLI or the API may not. The case comes from web/deps.visible_case (404 unless the
access policy lets the member see it), and the page offers only `allowed_actions`. Forms
work without JavaScript (303 back to the page); with HTMX they swap the case panel in place
and show why an action was refused.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import access, correct
from escapevelocity.domain import cases as projection
from escapevelocity.domain import events as ev
from escapevelocity.domain.case_errors import ClaimTaken
from escapevelocity.domain.cases import Case
from escapevelocity.domain.org import Member
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.domain.pii import mask_pii
from escapevelocity.services import answers, replies, saved_replies
from escapevelocity.services import cases as commands
from escapevelocity.web.deps import CaseAccess, load_visible, visible_case
from escapevelocity.web.views import conversation, fill_template, flash, pop_flash

router = APIRouter(tags=["cases"])


def _sealer(request: Request) -> Any:
    from escapevelocity.web.routes_hooks import _sealer as sealer

    return sealer(request)


def _sends(history: list[Any]) -> dict[int, Any]:
    """Each live reply's outcome by the seq of its `replied` event."""
    return {int(e.data["reply"]): e for e in history
            if e.kind in (ev.REPLY_SENT, ev.SEND_FAILED) and e.data.get("reply") is not None}


def case_view(request: Request, seen: CaseAccess) -> dict[str, Any]:
    workspace = request.app.state.workspace
    store = workspace.store
    case, case_id, member = seen.case, seen.id, seen.member
    with store.begin() as tx:
        mentions = conversation(tx.mentions.of_case(case_id))
        history = tx.events.stream(case_id)
        earlier = tx.cases.count_by_author(case.channel, case.author_handle,
                                           exclude=case_id)
        way = replies.route(tx, case, seen.now)
        needs_factor = tx.signin.factor_rule().missing(member)
    case = projection.replace(case, title=mask_pii(case.title))
    # the latest decision: a correction decides again (services/corrections.py)
    decided = next((e.data for e in reversed(history) if e.kind == ev.DECIDED), {})
    assigned = [e for e in history if e.kind == ev.ASSIGNED]
    decision = decided.get("decision", {})
    signals = decided.get("signals", {})
    # A learned model's full answer, read off the hot path after ingest (services/refine.py).
    last_decided = max((i for i, e in enumerate(history) if e.kind == ev.DECIDED), default=-1)
    revised = [e.data for e in history[last_decided + 1:]
               if e.kind == ev.SIGNALS_REVISED and e.data.get("first")]
    if revised:
        signals = revised[-1]["signals"]
    first = mentions[0]["mention"] if mentions else None
    timeline: list[dict[str, Any]] = [{"kind": "mention", "at": m["mention"].created_at, **m}
                                      for m in mentions]
    sends = _sends(history)
    timeline += [{"kind": "reply", "at": e.at, "actor": e.actor, "text": e.data.get("text", ""),
                  "visibility": e.data.get("visibility", "public"),
                  "dry_run": e.data.get("dry_run", True), "outcome": sends.get(e.seq or -1)}
                 for e in history if e.kind == ev.REPLIED]
    unsent = [o for o in sends.values() if o.kind == ev.SEND_FAILED]
    timeline.sort(key=lambda item: item["at"])
    playbook = workspace.triager().playbook
    templates = {name: fill_template(text, first.author.name if first else "",
                                     first.author.handle if first else "")
                 for name, text in playbook.spec.templates.items()}
    holder = access.holder(case, seen.now)
    # A draft awaiting approval blocks reply and resolve: say so up front, with its approver,
    # and offer the submitter (or an admin) to withdraw it.
    from escapevelocity.services.approvals import fold_drafts

    pending = next((d for d in fold_drafts(history) if d.state == "pending"
                    and d.id == case.approval_draft), None)
    allowed = (access.allowed_actions(seen.org, member, seen.case, seen.now,
                                      submitter=pending.submitter) if pending else seen.allowed)
    from escapevelocity.web.routes_answers import suggestions_for  # the answers area's

    question = " ".join(m["mention"].text for m in mentions[:3]) or case.title
    autos = [e for e in history if e.kind in (ev.AUTO_REPLIED, ev.AUTO_REPLY_WITHDRAWN)]
    author = first.author if first else None
    values = {"author": (author.name or author.handle) if author else "",
              "handle": author.handle if author else "", "agent": member.name or member.id,
              "team": case.team or "", "case": case_id}
    return {"pending": pending, "breach": breach_summary(history, case),
            "suggestions": suggestions_for(store, question, case.team, values),
            "auto_reply": autos[-1] if autos and autos[-1].kind == ev.AUTO_REPLIED else None,
            "auto_rule": bool(decision.get("auto_reply")),
            "case": case, "timeline": timeline, "author": first.author if first else None,
            "author_bio": mentions[0]["bio"] if mentions else "", "earlier_cases": earlier,
            "decision": decision, "signals": signals,
            "assignment": assigned[-1].data if assigned else {},
            "history": history, "templates": templates,
            **_composer(store, case, decision, templates, values),
            "holder": holder, "mine": holder == member.id, "me": member,
            "can": allowed, "needs_factor": needs_factor,
            "max_reply": min(commands.MAX_REPLY_CHARS, way.max_chars or commands.MAX_REPLY_CHARS)
            if not way.dry_run else commands.MAX_REPLY_CHARS,
            "correctable": correct.labels(playbook), "correct_chosen": "situation",
            "reply_label": way.label(case.visibility), "reply_live": not way.dry_run,
            "unsent": unsent}


def breach_summary(history: list[Any], case: Case) -> dict[str, Any] | None:
    """The latest SLA breach of an unresolved case and what the ladder did about it since
    (who was told, reassigned or not), for the case page's banner; None when not breached."""
    if case.state == "resolved":
        return None
    breaches = [e for e in history if e.kind == ev.SLA_BREACHED]
    if not breaches:
        return None
    last = breaches[-1]
    met = any(e.kind == ev.REPLIED and e.seq and last.seq and e.seq > last.seq
              for e in history) and last.data.get("clock") != "resolution"
    if met:
        return None
    steps = [e for e in history if e.kind == ev.ESCALATED
             and e.data.get("since") == last.data.get("since")
             and e.data.get("clock") == last.data.get("clock")]
    return {"event": last, "steps": steps}


def _composer(store: Any, case: Case, decision: dict[str, Any],
              templates: dict[str, str], values: dict[str, str]) -> dict[str, Any]:
    """What the reply box offers: the saved replies for the case (its situation's first,
    preselected over the playbook's template when one fits) and the draft."""
    with store.begin() as tx:
        saved, pick = saved_replies.offered(tx, case, values)
    if pick:
        chosen = saved_replies.PREFIX + pick
        draft = next(r["text"] for r in saved if r["name"] == pick)
    else:
        chosen = decision.get("template", "")
        draft = templates.get(chosen, "")
    return {"saved": saved, "chosen": chosen, "draft": draft}


async def _page(request: Request, seen: CaseAccess | None, member: Member, case_id: str,
                message: str = "", error: str = "", partial: bool = False,
                status: int = 200) -> HTMLResponse:
    """The page (or its panel) as it is now: after an action the case is read again, and what
    the member may do is asked again."""
    if seen is None:
        seen = await run_in_threadpool(load_visible, request, member, case_id)
    data = await run_in_threadpool(case_view, request, seen)
    name = "_case_panel.html" if partial else "case.html"
    return request.app.state.render(request, name,
                                    {**data, "message": message, "error": error}, status)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, seen: CaseAccess = Depends(visible_case)) -> HTMLResponse:
    message, error = pop_flash(request)
    return await _page(request, seen, seen.member, seen.id, message=message, error=error)


@router.get("/cases/{case_id}/panel", response_class=HTMLResponse)
async def case_panel(request: Request, seen: CaseAccess = Depends(visible_case)) -> HTMLResponse:
    return await _page(request, seen, seen.member, seen.id, partial=True)


async def _act(request: Request, seen: CaseAccess, action: str, run: Any, done: Any) -> Response:
    """Run one command on a case the member may see (visible_case checked login, CSRF and
    sight); a refusal is shown on the case page with its reason."""
    member, case_id = seen.member, seen.id
    partial = bool(request.headers.get("HX-Request"))
    message, error = "", ""
    try:
        result = await run_in_threadpool(run)
        message = done(result) if callable(done) else done
    except PermissionDenied as exc:  # not a conflict: the role may not, so 403 with the reason
        if isinstance(exc, access.NotVisible):
            raise
        return await _page(request, None, member, case_id, error=f"You may not {action} this "
                           f"case: {exc}", partial=partial, status=403)
    except ClaimTaken as exc:
        until = f" until {exc.until:%H:%M}" if exc.until else ""
        message, error = "", (f"{exc.holder} has claimed this case{until}, so you cannot "
                              f"{action} it now. Pick another case or ask {exc.holder}.")
    except commands.CaseError as exc:
        message, error = "", f"Could not {action}: {exc}"
    if partial:
        return await _page(request, None, member, case_id, message=message, error=error,
                           partial=True)
    flash(request, message, error)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


def _held(event: Any) -> str:
    until = event.data.get("until", "")
    return f"You hold this case until {until[11:16]} UTC." if until else "You hold this case."


@router.post("/cases/{case_id}/claim")
async def claim(request: Request, seen: CaseAccess = Depends(visible_case)) -> Response:
    ws = request.app.state.workspace
    return await _act(request, seen, "claim",
                      lambda: commands.claim(ws.store, ws.clock, seen.id, seen.member.id), _held)


@router.post("/cases/{case_id}/release")
async def release(request: Request, seen: CaseAccess = Depends(visible_case)) -> Response:
    ws = request.app.state.workspace
    return await _act(request, seen, "release",
                      lambda: commands.release(ws.store, ws.clock, seen.id, seen.member.id),
                      "Released: the case is back in the queue.")


@router.post("/cases/{case_id}/reply")
async def reply(request: Request, target: CaseAccess = Depends(visible_case),
                text: str = Form("", max_length=commands.MAX_REPLY_CHARS * 2),
                template: str = Form("", max_length=64),
                seen: int | None = Form(None, ge=0)) -> Response:
    """`seen` is the last event the member's page showed: if the customer or a colleague
    added to the conversation since, the send is refused and the page says what changed."""
    ws = request.app.state.workspace

    def sent(event: Any) -> str:
        if event.kind == ev.REPLIED:
            if event.data.get("dry_run"):
                return "Reply recorded (dry run: nothing was sent)."
            outcome = replies.deliver(ws.store, ws.clock, target.id, sealer=_sealer(request),
                                      sleep=getattr(request.app.state, "send_sleep",
                                                    time.sleep),
                                      attempts=3, max_wait=15.0, defer=True)
            if outcome is None:
                return ("Reply recorded; the network is busy: it will be sent by the next "
                        "pass (the case shows when).")
            if outcome.kind == ev.SEND_FAILED:
                return f"Reply recorded but NOT sent: {outcome.data.get('error')}"
            return "Reply sent."
        approver = event.data.get("approver", "the approver on call")
        return f"This reply needs approval: it is held as a draft for {approver}."

    def run() -> tuple[Any, str]:
        # Record, then (live) send in the same worker thread: no lock is held while the
        # network answers; services/replies.py records the outcome.
        if template.startswith(saved_replies.PREFIX):  # the channel's own length limit
            saved_replies.check_length(target.case, text)
        if template.startswith("answer:"):  # a suggested answer, sent as is or edited
            event = answers.reply_with(ws.store, ws.clock, target.id, target.member.id,
                                       template.removeprefix("answer:"), text, seen_seq=seen)
        else:
            event = commands.reply(ws.store, ws.clock, target.id, target.member.id, text,
                                   template=template, seen_seq=seen)
        return event, sent(event)

    return await _act(request, target, "reply to", run, lambda pair: pair[1])


@router.post("/cases/{case_id}/resolve")
async def resolve(request: Request, seen: CaseAccess = Depends(visible_case),
                  note: str = Form("", max_length=commands.MAX_REPLY_CHARS)) -> Response:
    ws = request.app.state.workspace
    return await _act(request, seen, "resolve",
                      lambda: commands.resolve(ws.store, ws.clock, seen.id, seen.member.id, note),
                      "Resolved.")
