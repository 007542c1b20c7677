"""The after-action report of a live incident: what happened, how the team answered, what to
learn. Pure; drills have theirs (drill/report.py), and a real incident deserves the same
review (issue 23).

From the incident's timeline (opened, levels, pages, decisions, holding statements, stood
down) and the cases opened while it was open: how long it lasted and how high it went, how
soon people were paged and a holding statement approved, how much of what needed an answer
got one and how fast, SLA breaches, and findings in words, each from those figures.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from escapevelocity.domain import events as ev
from escapevelocity.domain.cases import Case
from escapevelocity.domain.crisis.model import RANK
from escapevelocity.domain.events import Event


@dataclass(frozen=True)
class TrackRow:
    track: str
    cases: int
    answered: int
    median_minutes: float | None
    breached: int


@dataclass(frozen=True)
class AfterAction:
    incident: str
    opened: datetime | None
    closed: datetime | None
    peak: str
    minutes: float | None
    levels: list[tuple[datetime, str]]
    pages: int
    pages_failed: int
    minutes_to_page: float | None
    decisions: int
    statements: int
    minutes_to_statement: float | None
    cases: int
    needing_answer: int
    answered: int
    median_minutes: float | None
    p90_minutes: float | None
    breached: int
    tracks: list[TrackRow]
    findings: list[str] = field(default_factory=list)


def _aware(t: Any) -> datetime | None:
    if not isinstance(t, datetime):
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else round((b - a).total_seconds() / 60, 1)


def _q(xs: Sequence[float], q: float) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    return round(s[min(len(s) - 1, int(q * len(s)))], 1)


def summarise(incident: str, timeline: Iterable[Event], cases: Iterable[Case],
              now: datetime) -> AfterAction:
    """`cases`: the cases opened while the incident was open (their opened_at,
    first_response_at, sla_due, respond, track)."""
    events = sorted(timeline, key=lambda e: (e.at, e.seq or 0))
    opened = next((e.at for e in events if e.kind == ev.INCIDENT_OPENED), None)
    closed = next((e.at for e in events if e.kind == ev.INCIDENT_STOOD_DOWN), None)
    levels = [(e.at, e.level) for e in events
              if isinstance(e, ev.IncidentOpened | ev.IncidentLevel) and e.level]
    peak = max((lv for _, lv in levels), key=lambda lv: RANK.get(lv, 0), default="normal")
    pages = [e for e in events if isinstance(e, ev.IncidentPaged)]
    notes = [e for e in events if isinstance(e, ev.IncidentNote)]
    statements = [e for e in notes if e.note_kind == "statement"]
    end = closed or now
    rows = list(cases)
    by_track: dict[str, list[Case]] = {}
    times: list[float] = []
    breached = needing = answered = 0
    for c in rows:
        by_track.setdefault(c.track or "untracked", []).append(c)
    track_rows = []
    for track, group in sorted(by_track.items()):
        t_times, t_breached, t_answered = [], 0, 0
        for c in group:
            if not c.respond:
                continue
            needing += 1
            first, due = _aware(c.first_response_at), _aware(c.sla_due)
            if first is not None:
                t_answered += 1
                t_times.append(_minutes(_aware(c.opened_at), first) or 0.0)
            if due is not None and (first or end) > due:
                t_breached += 1
        answered += t_answered
        breached += t_breached
        times += t_times
        track_rows.append(TrackRow(track, len(group), t_answered, _q(t_times, 0.5),
                                   t_breached))
    report = AfterAction(
        incident, opened, closed, peak, _minutes(opened, closed), levels, len(pages),
        sum(1 for p in pages if not p.ok), _minutes(opened, pages[0].at if pages else None),
        len(notes) - len(statements), len(statements),
        _minutes(opened, statements[0].at if statements else None), len(rows), needing,
        answered, round(statistics.median(times), 1) if times else None, _q(times, 0.9),
        breached, track_rows)
    return _with_findings(report)


def _with_findings(r: AfterAction) -> AfterAction:
    out: list[str] = []
    if r.closed is None:
        out.append("The incident is still open: this report covers it so far.")
    if not r.pages:
        out.append("Nobody was paged: check the on-call rota and the crisis overlay's paging.")
    elif r.pages_failed:
        out.append(f"{r.pages_failed} of {r.pages} pages failed to deliver: fix the contact "
                   "details or the transport before the next incident.")
    if r.statements == 0:
        out.append("No holding statement was approved: agree one early (legal and PR on call).")
    elif r.minutes_to_statement is not None and r.minutes_to_statement > 60:
        out.append(f"The first holding statement came {r.minutes_to_statement:.0f} minutes "
                   "after the incident opened: pre-approve templates to be faster.")
    if r.needing_answer and r.answered < r.needing_answer:
        out.append(f"{r.needing_answer - r.answered} of {r.needing_answer} cases that needed "
                   "an answer got none while the incident was open.")
    if r.breached:
        out.append(f"{r.breached} cases breached their SLA: review staffing and overflow for "
                   "the busiest tracks.")
    if not out:
        out.append("Paged, stated and answered within SLA: keep the playbook as it is, and "
                   "drill it again next quarter.")
    return replace(r, findings=out)
