"""Reports and the wall: the KPI rollups of a period, the live figures, the cases behind them.

Reads only: the rollups (domain/kpis.py) for the period and the previous one, and index
ranges for what is live (SLA at risk now, queues, oldest waiting case, newest mentions).
"""

from __future__ import annotations

import csv
import io
import json
import operator
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from escapevelocity.adapters.store.uow import SqlStore
from escapevelocity.domain import drilldowns, kpis
from escapevelocity.domain import events as ev
from escapevelocity.domain.cases import Case
from escapevelocity.domain.kpis import Figures, Period

FAMILIES = (kpis.TTFR, kpis.TTR, kpis.SLA, kpis.NO_REPLY, kpis.TOPIC, kpis.CALENDAR)
AT_RISK_MINUTES = 30  # "near": due within this many minutes (or already past)


@dataclass
class Report:
    period: Period
    now: datetime
    current: Figures
    previous: Figures
    at_risk: int
    at_risk_cases: list[dict[str, Any]]
    backlog: dict[str, dict[str, int]]  # team -> age bucket -> open cases
    incidents: list[dict[str, Any]]
    crisis_minutes: float
    goals: Any  # domain.goals.Goals, or None
    crisis: list[dict[str, Any]] = field(default_factory=list)  # kpis.crisis_time
    drills: list[dict[str, Any]] = field(default_factory=list)  # kpis.drill_scores
    # approvals kept on streams of their own: kind -> [(stream, minutes waited)]
    stream_waits: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    waiting: list[dict[str, Any]] = field(default_factory=list)  # kpis.waiting_now
    scorecards: list[dict[str, Any]] = field(default_factory=list)  # drilldowns.scorecards

    @property
    def backlog_total(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for buckets in self.backlog.values():
            for k, n in buckets.items():
                out[k] = out.get(k, 0) + n
        return out


def figures(store: SqlStore, period: Period, teams: frozenset[str] | None = None) -> Figures:
    with store.begin() as tx:
        return _figures(tx, period, teams)


def _figures(tx: Any, period: Period, teams: frozenset[str] | None = None) -> Figures:
    """The period's figures; `teams`: only these teams' (a member who does not see every
    team; the approval waiting time and the no-reply rules have no team and are left out)."""
    from escapevelocity.domain import rollups

    lo, hi = period.start.isoformat(), period.end.isoformat()
    cells, counts = tx.kpis.cells(lo, hi), tx.kpis.counts(lo, hi, FAMILIES)
    if teams is not None:
        cells, counts = kpis.only_teams(cells, counts, teams)
    f = kpis.figures(period, cells, counts)
    if teams is None:
        f.approval_kinds = kpis.by_kind_bucket(tx.events.rollup(rollups.APPROVAL_WAIT), period)
        for kind, waits in _stream_waits(tx, period).items():
            hist = f.approval_kinds.setdefault(kind, {})
            for _, minutes in waits:
                hist[kpis.bucket(minutes)] = hist.get(kpis.bucket(minutes), 0) + 1
        f.approval_wait = {}
        for hist in f.approval_kinds.values():
            for k, n in hist.items():
                f.approval_wait[k] = f.approval_wait.get(k, 0) + n
    return f


_REQUESTED = {ev.PLAYBOOK_REQUESTED: "playbook_version", ev.SPOKE_REQUESTED: "spoke"}
_DECIDED = {ev.PLAYBOOK_APPROVED: "approved", ev.PLAYBOOK_REJECTED: "rejected",
            ev.SPOKE_APPROVED: "approved"}


def _stream_waits(tx: Any, period: Period) -> dict[str, list[tuple[str, float]]]:
    """Playbook versions and spokes that waited for approval, decided in the period (their
    request and decision events: a few per version or spoke, by ix_events_kind)."""
    found = [e for kind in (*_REQUESTED, *_DECIDED)
             for e in tx.events.of_kind(kind, limit=100_000)]
    return kpis.stream_waits(found, period, _REQUESTED, _DECIDED)


PENDING_DRAFTS = 500  # the longest-waiting drafts read for "waiting for approval now"


def _waiting(tx: Any, teams: frozenset[str] | None) -> list[tuple[str, str, datetime]]:
    """What waits for approval now, (ref, kind, since): pending reply drafts (cases, read by
    ix_cases_approval_due, the submission from the draft's approval_requested event) and,
    for whoever reads every team, playbook versions and spokes awaiting their decision."""
    cases = [c for c in tx.cases.awaiting_approval(limit=PENDING_DRAFTS)
             if teams is None or c.team in teams]
    logs = tx.events.streams(c.id for c in cases)
    out = []
    for c in cases:
        asked = [e for e in logs.get(c.id, ()) if e.kind == ev.APPROVAL_REQUESTED
                 and e.draft == c.approval_draft]
        if asked:
            edited = any(e.kind == ev.APPROVAL_EDITED and getattr(e, "draft", "") ==
                         c.approval_draft for e in logs[c.id])
            out.append((c.id, kpis.approval_kind(asked[-1].reasons, edited), asked[-1].at))
    if teams is None:
        found = [e for kind in (*_REQUESTED, *_DECIDED)
                 for e in tx.events.of_kind(kind, limit=100_000)]
        out += kpis.stream_pending(found, _REQUESTED, _DECIDED)
    return out


RUNS = 1_000  # drill runs' scorecards read for a period (each carries its whole card)


def drill_cards(tx: Any, period: Period) -> list[Any]:
    """The drill_scorecard events recorded since the period began (ix_events_kind, newest
    first, at most RUNS): their cards are large, so they are not all decoded at every view."""
    return tx.events.of_kinds([ev.DRILL_SCORECARD], since=period.instants()[0], limit=RUNS)


def report(store: SqlStore, period: Period, now: datetime,
           goals: Any = None, teams: frozenset[str] | None = None) -> Report:
    from escapevelocity.services.crisis import incidents as all_incidents

    with store.begin() as tx:
        current = _figures(tx, period, teams)
        previous = _figures(tx, period.previous(), teams)
        waits = _stream_waits(tx, period) if teams is None else {}
        waiting = kpis.waiting_now(_waiting(tx, teams), now)
        heads = tx.events.incident_heads()
        # people's drill scores are training records: for whoever reads every team's figures
        scored = tx.events.of_kind(ev.DRILL_SCORED, limit=100_000) if teams is None else []
        cards = drill_cards(tx, period) if teams is None else []
        n, risky = tx.kpis.at_risk(now + timedelta(minutes=AT_RISK_MINUTES), limit=50,
                                   teams=teams)
        backlog = {team: kpis.age_buckets(days, now.date())
                   for team, days in tx.kpis.backlog().items()
                   if teams is None or team in teams}
    start = datetime.combine(period.start, datetime.min.time(), now.tzinfo)
    end = datetime.combine(period.end, datetime.min.time(), now.tzinfo)
    inc = [i for i in all_incidents(store)
           if i["opened_at"] < end and (i["closed_at"] or now) >= start]
    minutes = sum(((min(i["closed_at"] or now, end, now) - max(i["opened_at"], start))
                   .total_seconds() / 60) for i in inc)
    return Report(period, now, current, previous, n, risky, backlog, inc, max(0.0, minutes),
                  goals, crisis=kpis.crisis_time(heads, period, now),
                  drills=kpis.drill_scores(scored, period), stream_waits=waits,
                  waiting=waiting, scorecards=drilldowns.scorecards(cards, period))


def wall(store: SqlStore, org: Any, now: datetime, crisis: Mapping[str, Any],
         teams: frozenset[str] | None = None) -> dict:
    """Everything the command-center wall shows, as JSON-ready values (`teams`: only these
    teams' cases, for a member who does not see every team)."""
    today = kpis.Period(now.date(), now.date() + timedelta(days=1))
    lo, hi = today.start.isoformat(), today.end.isoformat()
    with store.begin() as tx:
        cells = tx.kpis.cells(lo, hi)
        if teams is not None:
            cells, _ = kpis.only_teams(cells, [], teams)
        f = kpis.figures(today, cells, [])  # the wall shows cells only
        hours = (tx.kpis.counts(today.start.isoformat(), today.end.isoformat(), [kpis.HOUR])
                 if teams is None else [])  # by hour has no team
        n, risky = tx.kpis.at_risk(now + timedelta(minutes=AT_RISK_MINUTES), limit=12,
                                   teams=teams)
        backlog = tx.kpis.backlog()
        queues = {team: sum(days.values()) for team, days in backlog.items()}
        shown = [t.id for t in org.teams if teams is None or t.id in teams]
        oldest = tx.kpis.oldest_waiting(shown, backlog)
        presence = tx.org.presence()
        fresh = tx.kpis.newest(now - timedelta(hours=24))
    by_hour: dict[int, dict[str, int]] = {}
    for _, _, key, count in hours:
        hour, _, sentiment = key.partition("|")
        slot = by_hour.setdefault(int(hour), {})
        slot[sentiment or "unknown"] = slot.get(sentiment or "unknown", 0) + count
    fresh = [c for c in fresh if teams is None or c["team"] in teams]
    notable = [c for c in fresh if c["priority"] in ("p1", "p2")
               or (c["sentiment"] == "negative" and c["author_class"] in (
                   "influencer", "journalist"))][:8]
    names = {m.id: m.name for m in org.members}
    return {
        "now": now.isoformat(),
        "today": {"cases": f.totals.get("cases", 0),
                  "sentiment": {k: v for k, v in sorted(f.by.get("sentiment", {}).items())},
                  "by_hour": {f"{h:02d}": by_hour[h] for h in sorted(by_hour)}},
        "teams": [{"team": t, "queue": queues.get(t, 0),
                   "oldest": oldest[t].isoformat() if oldest.get(t) else None,
                   "oldest_minutes": (round((now - _aware(oldest[t])).total_seconds() / 60)
                                      if oldest.get(t) else None)} for t in shown],
        "at_risk": {"count": n, "cases": [_brief(c, now) for c in risky]},
        "online": sorted(names.get(m, m) for m, p in presence.items() if p == "online"),
        "crisis": dict(crisis),
        "notable": [_brief(c, now) for c in notable],
    }


def _aware(at: datetime) -> datetime:
    from datetime import UTC
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _brief(c: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    out = {k: c.get(k) for k in ("id", "team", "track", "priority", "channel", "title",
                                 "sentiment")}
    if c.get("sla_due") is not None:
        out["due_minutes"] = round((_aware(c["sla_due"]) - now).total_seconds() / 60)
    return out


# --- drill-down and export -------------------------------------------------------------------

EXPORT_COLUMNS = ("id", "opened_at", "channel", "situation", "sentiment", "author_class",
                  "team", "track", "assignee", "priority", "state", "respond", "rule_id",
                  "visibility", "first_response_at", "resolved_at", "sla_minutes", "sla_due",
                  "csat", "approval_state", "topics", "sla_calendar", "first_response_minutes",
                  "resolution_minutes", "title")
_export_values = operator.attrgetter(*EXPORT_COLUMNS)


# Filters beyond the cells' dimensions: a topic (among the case's topics) and the calendar
# its business times were counted on (a column of the case row).
EXTRA_FILTERS = ("topic", "sla_calendar")


def cases_behind(store: SqlStore, period: Period, measure: str,
                 where: Mapping[str, str], limit: int | None = None
                 ) -> Iterator[Case]:
    """The cases a figure counts: opened in the period, with these dimensions, counted in
    `measure` by the same rule the rollups use (kpis.measures), newest first."""
    if measure not in kpis.MEASURES and measure not in kpis.DRILL_MEASURES:
        raise ValueError(f"no measure {measure[:40]!r}")
    bad = set(where) - set(kpis.DIMS) - set(EXTRA_FILTERS)
    if bad:
        raise ValueError(f"no dimension {sorted(bad)[0][:40]!r}")
    return _cases_behind(store, period, measure, where, limit)


def _cases_behind(store: SqlStore, period: Period, measure: str,
                  where: Mapping[str, str], limit: int | None) -> Iterator[Case]:
    start, end = period.instants()
    topic = where.get("topic")
    where = {k: v for k, v in where.items() if k != "topic"}
    timed = measure == "timed"
    n = 0
    with store.begin() as tx:
        for case in tx.kpis.in_period(start, end, where):
            if topic is not None and topic not in (case.topics or "").split(","):
                continue  # "" is the cases without a topic, as the rollup counts them
            if kpis.is_timed(case) if timed else measure in kpis.measures(case):
                yield case
                n += 1
                if limit is not None and n >= limit:
                    return


def export_csv(cases: Iterable[Case]) -> Iterator[str]:
    """One row per case; text cells that a spreadsheet would run as a formula are quoted
    with a leading apostrophe (a mention title is hostile input)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(EXPORT_COLUMNS)
    for c in cases:
        w.writerow([_cell(v) for v in _export_values(c)])
        if buf.tell() > 32_000:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _cell(v: Any) -> Any:
    if isinstance(v, datetime):
        return _aware(v).isoformat()
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return "" if v is None else v


def export_json(cases: Iterable[Case]) -> Iterator[str]:
    yield "["
    first = True
    for c in cases:
        row = {k: (_aware(v).isoformat() if isinstance(v, datetime) else v)
               for k, v in zip(EXPORT_COLUMNS, _export_values(c), strict=True)}
        yield ("" if first else ",") + json.dumps(row)
        first = False
    yield "]"
