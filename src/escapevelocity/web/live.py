"""Live views: one server-sent-events stream per page that tails the event log.

The stream only says which visible cases changed (id and event kind, never mention text); the
page re-fetches the fragments it shows through the ordinary, authorised routes. Tailing the
log (not an in-process bus) means changes made by another process — `ev ingest`, the demo
replay, a worker — reach every open inbox, and a reconnect resumes from the last seq it saw.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from escapevelocity.adapters.bus import Tail
from escapevelocity.domain import events as ev
from escapevelocity.domain.access import visible_teams
from escapevelocity.domain.org import Member
from escapevelocity.web.auth import member_of, org_of

router = APIRouter(tags=["live"])


@dataclass(frozen=True)
class Pace:
    """How often live pages ask and tell, in one place: the stream's reading of the log here,
    and what the pages' scripts wait (static/app.js, wall.js, the drill panel), which the
    layout hands them as data attributes. The defaults are the product's; the browser tests
    run the same code at a faster pace (tests/browser/conftest.py), since each of their steps
    waits for one of these."""

    poll_seconds: float = 0.5  # the stream reads the log this often (the embedded mode)
    gather_ms: int = 1000  # a page gathers this long of changes into one refresh
    beat_ms: int = 5000  # an open case page says who views it (presence) this often
    retry_ms: int = 3000  # first wait before a failed live refresh is asked again (doubles)
    reconnect_ms: int = 2000  # a dropped stream is opened again after this long
    drill_panel_ms: int = 2000  # the drill director's panel is read again this often


# Scale-out: a view wakes on NATS change notices (web/app.py) and polls this seldom besides
# (a lost notice costs at most this long).
NUDGED_POLL_SECONDS = 2.0
HEARTBEAT_SECONDS = 15.0


def _changes(request: Request, member: Member, after: int | Tail) -> tuple[int, list[dict]]:
    """What changed past the cursor that the member may see, and the position a page may
    resume from (adapters/bus/feed.py `Tail`: below any change that may still commit)."""
    tail = after if isinstance(after, Tail) else Tail(request.app.state.feed, after)
    teams = visible_teams(org_of(request), member)
    changes = tail.poll(limit=2000)
    out = [{"case": c.stream, "kind": c.kind, "seq": c.seq, "team": c.team} for c in changes
           if c.team in teams or c.stream.startswith(ev.INCIDENT_PREFIX)]
    return tail.cursor, out


def _bell(request: Request, member: Member) -> dict:
    """New events may be notifications: derive them now (after their commit), then the
    member's unread count for the bell (static/notify.js)."""
    from escapevelocity.web.routes_notify import bell

    notifier = getattr(request.app.state, "notifier", None)
    if notifier is not None and _sweeping.acquire(blocking=False):
        try:  # one sweep at a time per process; the cursor lock covers other processes
            notifier.sweep()
        finally:
            _sweeping.release()
    return bell(request, member.id)


_sweeping = threading.Lock()


@router.get("/live")
async def live(request: Request, member: Member = Depends(member_of),
               after: int = Query(0, ge=0)) -> StreamingResponse:
    last_event_id = request.headers.get("Last-Event-ID", "")
    if last_event_id.isdigit():
        after = max(after, int(last_event_id))
    stopping: threading.Event = request.app.state.stopping

    async def stream() -> AsyncIterator[str]:
        tail = Tail(request.app.state.feed, after)
        cursor = after
        quiet = 0.0
        last_bell: dict | None = None
        pace: Pace = request.app.state.pace
        yield f"retry: {pace.reconnect_ms}\n\n"
        nudge = request.app.state.nudge  # None in the embedded mode: poll (Pace.poll_seconds)
        loop = asyncio.get_running_loop()
        while not stopping.is_set() and not await request.is_disconnected():
            seen = nudge.generation if nudge is not None else 0
            began = loop.time()
            cursor, changes = await run_in_threadpool(_changes, request, member, tail)
            if changes:
                quiet = 0.0
                yield f"id: {cursor}\nevent: changes\ndata: {json.dumps(changes)}\n\n"
                bell = await run_in_threadpool(_bell, request, member)
                if bell != last_bell:
                    last_bell = bell
                    yield f"event: bell\ndata: {json.dumps(bell)}\n\n"
            elif quiet >= HEARTBEAT_SECONDS:
                quiet = 0.0
                yield ": still here\n\n"
            if nudge is None:
                await asyncio.sleep(pace.poll_seconds)
            else:
                await asyncio.sleep(0.05)  # a burst of notices: one read per 50 ms at most
                await nudge.wait(seen, NUDGED_POLL_SECONDS)
            if not changes:
                quiet += loop.time() - began

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
