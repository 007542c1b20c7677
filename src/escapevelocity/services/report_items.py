"""The items behind the report's rows that are not cases counted by the case rollups:
approval waits (reply drafts, playbook versions, spokes, what waits now), incidents and their
affected cases, drill runs' scorecards and people's drill scores (domain/drilldowns.py).

Each list is read by the same rule as the figure it explains, so the figure equals the length
of the list; each exports as CSV (one row per item) and JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from escapevelocity.adapters.store.uow import SqlStore
from escapevelocity.domain import drilldowns, kpis
from escapevelocity.domain import events as ev
from escapevelocity.domain.cases import Case
from escapevelocity.domain.kpis import Period
from escapevelocity.services import reports

APPROVAL_COLUMNS = ("ref", "kind", "label", "state", "minutes", "decided_at", "draft", "team",
                    "channel", "title", "link")
INCIDENT_COLUMNS = ("id", "opened_at", "closed_at", "peak", "crisis_minutes", "minutes",
                    "affected", "link", "cases_link")
RUN_COLUMNS = ("run", "scenario", "title", "finished_at", "detection_delay_min",
               "routing_accuracy", "sla_met", "checks_met", "checks", "score", "players",
               "link")
PLAYER_COLUMNS = ("drill", "member", "score", "passed", "min_score", "recorded_at", "answers",
                  "within_sla", "escalations", "run", "cases")
CRISIS = ("crisis",)  # an affected case: its track or situation (services/incident_view.py)
MAX_AFFECTED = 5_000
MANY = 100_000  # events of one kind read for a list (the report reads as many)


def approvals(store: SqlStore, period: Period, now: datetime, kind: str | None,
              state: str) -> list[dict[str, Any]]:
    """What an approval row counts. `state` "decided": the waits decided in the period (reply
    drafts by the APPROVAL_WAIT rollup's rule, playbook versions and spokes by their
    streams'); "waiting": what waits now. Cases carry their team, channel and title."""
    if state not in (drilldowns.DECIDED, drilldowns.WAITING):
        raise ValueError("state is decided or waiting")
    with store.begin() as tx:
        if state == drilldowns.DECIDED:
            # decided since the period began: one kind a query (a range of ix_events_kind)
            decided = [e for k in (ev.APPROVED, ev.REJECTED)
                       for e in tx.events.of_kinds([k], since=period.instants()[0],
                                                   limit=MANY)]
            rows = (drilldowns.draft_waits(decided, period)
                    + drilldowns.stream_rows(reports._stream_waits(tx, period)))
        else:
            rows = drilldowns.waiting_rows(kpis.waiting_now(reports._waiting(tx, None), now))
        rows = drilldowns.of_kind(rows, kind)
        cases = tx.cases.get_many(r["ref"] for r in rows if ":" not in r["ref"])
    for r in rows:
        c = cases.get(r["ref"])
        r.update(team=c.team if c else None, channel=c.channel if c else None,
                 title=c.title if c else None)
    return rows


def incidents(store: SqlStore, period: Period, now: datetime) -> list[dict[str, Any]]:
    """The incidents behind the crisis-time rows (kpis.crisis_time), each with how many cases
    it affected (opened while it was open, on the crisis track or situation)."""
    with store.begin() as tx:
        out = kpis.crisis_time(tx.events.incident_heads(), period, now)
        for i in out:
            found = tx.cases.opened_between(i["opened_at"], i["closed_at"], limit=MAX_AFFECTED)
            i["affected"] = sum(1 for c in found if _affected(c))
            i["link"] = f"/incidents/{i['id']}"
            i["cases_link"] = f"/reports/incidents/{i['id']}/cases"
    return out


def _affected(c: Case) -> bool:
    return c.track in CRISIS or c.situation in CRISIS


def incident_cases(store: SqlStore, incident_id: str) -> list[Case] | None:
    """The cases an incident affected (the incident page's rule), oldest first; None when
    there is no such incident."""
    with store.begin() as tx:
        heads = [e for e in tx.events.stream(incident_id)
                 if e.kind in (ev.INCIDENT_OPENED, ev.INCIDENT_STOOD_DOWN)]
        if not heads or heads[0].kind != ev.INCIDENT_OPENED:
            return None
        end = next((e.at for e in heads if e.kind == ev.INCIDENT_STOOD_DOWN), None)
        found = tx.cases.opened_between(heads[0].at, end, limit=MAX_AFFECTED)
    return [c for c in found if _affected(c)]


def drill_runs(store: SqlStore, period: Period) -> list[dict[str, Any]]:
    with store.begin() as tx:
        return drilldowns.scorecards(reports.drill_cards(tx, period), period)


def drill_run(store: SqlStore, seq: int) -> ev.DrillScorecard | None:
    with store.begin() as tx:
        found = tx.events.numbered([seq])
    return found[0] if found and isinstance(found[0], ev.DrillScorecard) else None


def drill_players(store: SqlStore, period: Period, drill: str | None) -> list[dict[str, Any]]:
    with store.begin() as tx:
        rows = drilldowns.players(tx.events.of_kind(ev.DRILL_SCORED, limit=MANY), period,
                                  drill)
        runs = {e.run: e.seq for e in reports.drill_cards(tx, period)}  # scored together
    for r in rows:  # the run's report, when its scorecard is in the log
        r["run_link"] = f"/reports/drill-runs/{runs[r['run']]}" if r["run"] in runs else ""
    return rows


# --- export ----------------------------------------------------------------------------------

def _value(v: Any) -> Any:
    if isinstance(v, datetime):
        return reports._aware(v).isoformat()
    return v


def export_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    """One row per item; lists joined by a space, text guarded as reports.export_csv does."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    for r in rows:
        cells = []
        for k in columns:
            v = r.get(k)
            if isinstance(v, list | tuple):
                v = " ".join(str(x) for x in v)
            elif isinstance(v, dict):
                v = json.dumps(v, sort_keys=True)
            cells.append(reports._cell(v))
        w.writerow(cells)
    yield buf.getvalue()


def export_json(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[str]:
    yield json.dumps([{k: _value(r.get(k)) for k in columns} for r in rows])
