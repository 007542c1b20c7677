"""What an incident page shows besides its timeline: the cases since onset (affected ones
first), their volume per hour and sentiment, and who is working it.

A read of the case projection over the incident's window (onset to stand-down, or now),
bounded so a loud incident costs one index range (ix_cases_opened), not a scan.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev
from escapevelocity.domain.cases import replace
from escapevelocity.domain.events import Event
from escapevelocity.domain.pii import mask_pii

MAX_CASES = 5_000  # read at most this many cases of the window
SHOWN = 50
CRISIS = ("crisis",)


def summary(store: SqlStore, events: list[Event], now: datetime) -> dict[str, Any]:
    onset = events[0].at
    end = next((e.at for e in events if e.kind == ev.INCIDENT_STOOD_DOWN), None)
    with store.begin() as tx:
        cases = tx.cases.opened_between(onset, end, limit=MAX_CASES)
    affected = [c for c in cases if c.track in CRISIS or c.situation in CRISIS]
    hours: Counter[datetime] = Counter()
    for c in cases:
        if c.opened_at:
            hours[c.opened_at.replace(minute=0, second=0, microsecond=0)] += 1
    volume = sorted(hours.items())
    sentiment = Counter(c.sentiment or "unknown" for c in cases)
    workers: dict[str, set[str]] = {}

    def add(who: str | None, why: str) -> None:
        if who and who != ev.SYSTEM:
            workers.setdefault(who, set()).add(why)

    for e in events:
        if e.kind == ev.INCIDENT_PAGED:
            add(e.member, "paged")
        elif e.kind in (ev.INCIDENT_NOTE, ev.INCIDENT_LEVEL, ev.INCIDENT_OPENED,
                        ev.INCIDENT_STOOD_DOWN):
            add(e.actor, "on the timeline")
    for c in affected:
        add(c.assignee, "assigned an affected case")
        add(c.claimed_by, "answering an affected case")
    shown = [replace(c, title=mask_pii(c.title)) for c in sorted(
        affected or cases, key=lambda c: (c.priority or "p9", c.sla_due or now)
    )[:SHOWN]]
    return {"onset": onset, "end": end, "total": len(cases), "capped": len(cases) >= MAX_CASES,
            "affected": len(affected), "cases": shown, "showing_affected": bool(affected),
            "volume": volume, "peak": max((n for _, n in volume), default=0),
            "sentiment": sentiment.most_common(),
            "workers": sorted((w, sorted(why)) for w, why in workers.items())}
