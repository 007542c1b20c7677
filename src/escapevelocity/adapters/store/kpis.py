"""The KPI rollups (domain/kpis.py): moved whenever a case row is written, in its transaction.

`Cases.insert/update/update_many` call `apply` with (old row or None, new row) pairs; the
rebuild (`Cases.replace_all`) calls `rebuild`. Keys go in sorted order, so two writers that
touch the same counters lock them in the same order on PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import insert_for, utc
from escapevelocity.domain import kpis
from escapevelocity.domain.cases import Case

CELL_KEYS = ("day", *kpis.DIMS)
AROUND_THE_CLOCK = ""  # the calendar name of a track without one


def calendars(conn: Connection) -> Callable[[str | None], tuple[str, Any]]:
    """track -> (calendar name, BusinessCalendar) of the active playbook (around the clock for
    a track without a calendar, or without an active playbook in the store): what the store
    fixes a case's business times on (domain/kpis.py business_times). Compiled once per
    playbook text (a version's text never changes)."""
    from escapevelocity.domain.calendar import ALWAYS

    source = conn.execute(sa.select(t.playbooks.c.source)
                          .where(t.playbooks.c.active.is_(True))).scalar()
    tracks = _compiled(source) if source else {}

    def of(track: str | None) -> tuple[str, Any]:
        return tracks.get(track or "", (AROUND_THE_CLOCK, ALWAYS))
    return of


_COMPILED: dict[str, dict[str, tuple[str, Any]]] = {}


def _compiled(source: str) -> dict[str, tuple[str, Any]]:
    import hashlib

    from escapevelocity.domain.calendar import ALWAYS, from_spec
    from escapevelocity.domain.playbook import PlaybookError, compile_playbook

    key = hashlib.sha256(source.encode()).hexdigest()
    found = _COMPILED.get(key)
    if found is None:
        try:
            spec = compile_playbook(source, version="calendars", stored=True).spec
        except PlaybookError:  # an active playbook always compiled; a damaged row: clock time
            spec = None
        found = {}
        if spec is not None:
            cals = {name: from_spec(c, name) for name, c in spec.calendars.items()}
            for track, tr in spec.tracks.items():
                if tr.calendar and tr.calendar in cals:
                    found[track] = (tr.calendar, cals[tr.calendar])
                else:
                    found[track] = (AROUND_THE_CLOCK, ALWAYS)
        if len(_COMPILED) > 64:  # a long-lived process that saw many versions
            _COMPILED.clear()
        _COMPILED[key] = found
    return found


def with_business_times(cases: Iterable[Case], conn: Connection,
                        resolver: list | None = None) -> list[Case]:
    """`cases` with their business times fixed (kpis.business_times); the active playbook's
    calendars are read once, and only when a case needs them. `resolver`: a one-slot list
    that keeps the calendars for the rest of the transaction."""
    holder = resolver if resolver is not None else []

    def calendar_of(track: str | None) -> tuple[str, Any]:
        if not holder:
            holder.append(calendars(conn))
        return holder[0](track)
    out = []
    for case in cases:
        moved = kpis.business_times(case, calendar_of)
        out.append(msgspec.structs.replace(case, **moved) if moved else case)
    return out


def apply(conn: Connection, pairs: Iterable[tuple[Case | None, Case | None]]) -> None:
    """Move the rollups by what each (old, new) case pair changes."""
    cells: Counter = Counter()
    counts: Counter = Counter()
    for old, new in pairs:
        c, k = kpis.delta(old, new)
        cells.update(c)
        counts.update(k)
    _write(conn, cells, counts)


@cache
def _upserts(dialect: str) -> tuple[Any, Any]:
    """The two rollup upserts of a dialect, built once: every case write moves the rollups, and
    building them anew (then walking their cache keys) cost more than running them."""
    insert = insert_for(dialect)
    cells = insert(t.kpi_cells)
    cells = cells.on_conflict_do_update(
        index_elements=list(CELL_KEYS),
        set_={m: t.kpi_cells.c[m] + cells.excluded[m] for m in kpis.MEASURES})
    counts = insert(t.kpi_counts)
    counts = counts.on_conflict_do_update(
        index_elements=["family", "day", "key"],
        set_={"count": t.kpi_counts.c.count + counts.excluded.count})
    return cells, counts


def _write(conn: Connection, cells: Counter, counts: Counter) -> None:
    by_cell: dict[tuple, dict[str, int]] = {}
    for (cell, measure), n in cells.items():
        if n:
            by_cell.setdefault(cell, dict.fromkeys(kpis.MEASURES, 0))[measure] += n
    if by_cell:
        conn.execute(_upserts(conn.dialect.name)[0],
                     [{**dict(zip(CELL_KEYS, cell, strict=True)), **values}
                      for cell, values in sorted(by_cell.items())])
    rows = [{"family": f, "day": d, "key": k, "count": n}
            for (d, f, k), n in counts.items() if n]
    if rows:
        conn.execute(_upserts(conn.dialect.name)[1],
                     sorted(rows, key=lambda r: (r["family"], r["day"], r["key"])))


def rebuild(conn: Connection, cases: Iterable[Case]) -> None:
    """Every KPI rollup again from the projection (itself rebuilt from the log)."""
    conn.execute(sa.delete(t.kpi_cells))
    conn.execute(sa.delete(t.kpi_counts))
    cells: Counter = Counter()
    counts: Counter = Counter()
    for i, case in enumerate(cases, 1):
        c, k = kpis.contribution(case)
        cells.update(c)
        counts.update(k)
        if i % 50_000 == 0:  # bounded memory on a large log: flush and go on
            _write(conn, cells, counts)
            cells, counts = Counter(), Counter()
    _write(conn, cells, counts)


def cells(conn: Connection, start: str, end: str
          ) -> list[tuple[tuple[str, ...], dict[str, int]]]:
    """The cells of days [start, end) with cases in them."""
    c = t.kpi_cells.c
    q = sa.select(t.kpi_cells).where(c.day >= start, c.day < end, c.cases != 0)
    out = []
    for r in conn.execute(q).mappings():
        out.append((tuple(r[k] for k in CELL_KEYS), {m: r[m] for m in kpis.MEASURES}))
    return out


def counts(conn: Connection, start: str, end: str, families: Iterable[str]
           ) -> list[tuple[str, str, str, int]]:
    """(day, family, key, count) of `families` over days [start, end), non-zero only."""
    c = t.kpi_counts.c
    out = []
    for family in sorted(families):  # one range of the primary key per family
        q = sa.select(c.day, c.family, c.key, c["count"]).where(
            c.family == family, c.day >= start, c.day < end, c["count"] != 0)
        out += [tuple(r) for r in conn.execute(q)]
    return out


def backlog(conn: Connection) -> dict[str, dict[str, int]]:
    """Open cases that need an answer: team -> opened day -> count (every day)."""
    c = t.kpi_counts.c
    out: dict[str, dict[str, int]] = {}
    q = sa.select(c.day, c.key, c["count"]).where(c.family == kpis.BACKLOG, c["count"] > 0)
    for day, team, n in conn.execute(q):
        out.setdefault(team, {})[day] = n
    return out


# --- live reads: what is not a function of one case's state (index ranges, never a scan) ----

C = t.cases.c
OPEN = ("queued", "assigned", "claimed", "replied")


def at_risk(conn: Connection, until: datetime, limit: int = 200,
            teams: Iterable[str] | None = None) -> tuple[int, list[dict]]:
    """Open cases that need a first answer and have none, due before `until` (near or past):
    (how many, the most urgent `limit`). The count sums the DUE rollup's whole hours before
    `until`'s hour and counts the rest of that hour by index; the list reads
    ix_cases_state_due in due order, one waiting state at a time, and stops at `limit`."""
    if teams is not None:  # a member who sees some teams: their cases only, by ix_cases_inbox
        waiting = sa.and_(C.team.in_(sorted(teams)), C.state.in_(kpis.WAITING_STATES),
                          C.respond.is_(True), C.sla_due.is_not(None), C.sla_due <= until,
                          C.first_response_at.is_(None))
        n = conn.execute(sa.select(sa.func.count()).select_from(t.cases).where(waiting)
                         ).scalar_one()
        q = (sa.select(C.id, C.team, C.track, C.priority, C.assignee, C.sla_due, C.opened_at,
                       C.channel, C.title).where(waiting).order_by(C.sla_due, C.id).limit(limit))
        return n, [_aware(r) for r in conn.execute(q).mappings()]
    c = t.kpi_counts.c
    hour = until.replace(minute=0, second=0, microsecond=0)
    day, hh = hour.date().isoformat(), f"{hour.hour:02d}"
    full = conn.execute(sa.select(sa.func.coalesce(sa.func.sum(c["count"]), 0)).where(
        c.family == kpis.DUE, sa.or_(c.day < day, sa.and_(c.day == day, c.key < hh)))
    ).scalar_one()
    waiting = sa.and_(C.respond.is_(True), C.sla_due.is_not(None), C.sla_due <= until,
                      C.first_response_at.is_(None))
    partial = conn.execute(sa.select(sa.func.count()).select_from(t.cases).where(
        C.state.in_(kpis.WAITING_STATES), waiting, C.sla_due >= hour)).scalar_one()
    rows: list[dict] = []
    for state in kpis.WAITING_STATES:  # in due order within one state: a range, no sort
        q = (sa.select(C.id, C.team, C.track, C.priority, C.assignee, C.sla_due, C.opened_at,
                       C.channel, C.title).where(C.state == state, waiting)
             .order_by(C.sla_due, C.id).limit(limit))
        rows += [_aware(r) for r in conn.execute(q).mappings()]
    rows.sort(key=lambda r: (r["sla_due"], r["id"]))
    return int(full) + partial, rows[:limit]


def oldest_waiting(conn: Connection, teams: Iterable[str],
                   known: Mapping[str, Mapping[str, int]] | None = None) -> dict[str, Any]:
    """Per team, when its oldest open case that needs an answer opened: the BACKLOG rollup
    says which day, one read of that day's range of ix_cases_team_opened the instant."""
    first_day: dict[str, str] = {}
    for team, days in (backlog(conn) if known is None else known).items():
        if days:
            first_day[team] = min(days)
    out: dict[str, Any] = {}
    for team in teams:
        out[team] = None
        if team not in first_day:
            continue
        start = datetime.fromisoformat(first_day[team]).replace(tzinfo=UTC)
        q = (sa.select(sa.func.min(C.opened_at)).where(
            C.team == team, C.state.in_(OPEN), C.respond.is_(True), C.opened_at >= start,
            C.opened_at < start + timedelta(days=1)))
        v = conn.execute(q).scalar()
        out[team] = utc(v) if v is not None else None
    return out


def newest(conn: Connection, since: Any, limit: int = 12) -> list[dict]:
    """The newest cases opened since `since` (ix_cases_opened, read backwards)."""
    q = (sa.select(C.id, C.team, C.track, C.priority, C.channel, C.title, C.sentiment,
                   C.situation, C.author_class, C.opened_at)
         .where(C.opened_at >= since).order_by(C.opened_at.desc(), C.id.desc())
         .limit(limit * 5))
    return [_aware(r) for r in conn.execute(q).mappings()]


def in_period(conn: Connection, start: Any, end: Any, where: Mapping[str, str],
              batch: int = 2000) -> Iterable[Case]:
    """Every case opened in [start, end) whose dimensions (or its `sla_calendar`) equal
    `where`, newest first (ix_cases_opened), streamed."""
    from escapevelocity.adapters.store.cases import case_of_row  # it imports this module

    q = sa.select(t.cases).where(C.opened_at >= start, C.opened_at < end)
    for dim, value in where.items():
        col = C[dim]
        # "" is the rollups' key for no value: a NULL or an empty text alike
        q = q.where(sa.or_(col.is_(None), col == "") if value == "" else col == value)
    q = q.order_by(C.opened_at.desc(), C.id).execution_options(yield_per=batch)
    for r in conn.execute(q):
        yield case_of_row(r)


def _aware(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row with its instants as aware UTC (SQLite gives them back naive)."""
    return {k: utc(v) if hasattr(v, "tzinfo") and hasattr(v, "hour") else v
            for k, v in row.items()}
