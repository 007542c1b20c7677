"""Reports and the wall at scale: the 30-day report over 1,000,000 cases, and /wall/data.

Issue 19 asks for the 30-day report page in under 5 s and the wall's data endpoint in under
100 ms at a million cases, on SQLite and on PostgreSQL. The workspace is grown as
bench/pages.py grows it, with two differences that matter for reports:

- the seed day is worked first (through the case commands' write path: most cases answered
  at different delays, most of those resolved, some closed unanswered), so the copies carry
  a realistic mix of outcomes, response times and open cases instead of a million untouched
  ones;
- each copy round shifts the copied cases back by a few days (1, 2, 4, 8, 1, 2, 4, 1, 3, …:
  at most 26 days in all), so the cases spread over the 30-day window and the report sums a
  month of rollup cells, not one day's.

Only the case rows (the projection) are copied, with their KPI rollups (a copy is its
original shifted by whole days, so its rollups are the original's with the days shifted,
upserted in SQL): neither the report nor the wall reads the log or the mentions.
tests/integration/test_bench_reports.py checks at a small size that the copied rollups equal
the ones the rebuild computes from the copied cases. Pages are fetched in-process (the ASGI
app, a real store, a real login); the median of a few fetches is reported against the target.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.bench.pages import PASSWORD, _login, _rotated
from escapevelocity.bench.targets import targets

REPORT_MS, WALL_MS = 5000.0, 100.0
SHIFTS = (1, 2, 4, 8, 1, 2, 4, 1, 3, 2, 1, 1)  # days back per copy round (first 9: 26)
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _shifted(conn: sa.Connection, column: sa.Column, days: int):
    if conn.dialect.name == "sqlite":  # the text SQLAlchemy writes: 2026-11-20 12:00:00.000000
        return sa.func.strftime("%Y-%m-%d %H:%M:%f", column, f"-{days} days") + "000"
    return column - sa.literal_column(f"interval '{days} days'")


def _copy_cases(conn: sa.Connection, round_: int) -> None:
    position = 1 + (round_ - 1) % 12
    days = SHIFTS[(round_ - 1) % len(SHIFTS)]
    cols = list(t.cases.columns)
    conn.execute(t.cases.insert().from_select(
        [c.name for c in cols],
        sa.select(*[_rotated(c, position) if c.name == "id"
                    else _shifted(conn, c, days) if isinstance(c.type, t.UtcDateTime)
                    else c for c in cols])))


def _shifted_day(conn: sa.Connection, column: sa.Column, days: int):
    if conn.dialect.name == "sqlite":
        return sa.func.date(column, f"-{days} days")
    return sa.func.to_char(sa.cast(column, sa.Date) - days, "YYYY-MM-DD")


def _copy_rollups(conn: sa.Connection, round_: int) -> None:
    """The copied cases' rollups: each copy is its original shifted back by whole days, so
    its contribution is the original's with the days shifted; added (upserted) in SQL."""
    from escapevelocity.adapters.store.base import insert_for
    from escapevelocity.domain import kpis

    days = SHIFTS[(round_ - 1) % len(SHIFTS)]
    insert = insert_for(conn.dialect.name)
    cells = t.kpi_cells
    src = sa.select(*[_shifted_day(conn, c, days) if c.name == "day" else c
                      for c in cells.columns]).where(sa.true())
    stmt = insert(cells).from_select([c.name for c in cells.columns], src)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["day", *kpis.DIMS],
        set_={m: cells.c[m] + stmt.excluded[m] for m in kpis.MEASURES}))
    counts = t.kpi_counts
    src = sa.select(*[_shifted_day(conn, c, days) if c.name == "day" else c
                      for c in counts.columns]).where(sa.true())
    stmt = insert(counts).from_select([c.name for c in counts.columns], src)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["family", "day", "key"],
        set_={"count": counts.c["count"] + stmt.excluded["count"]}))


def _work_the_seed_day(ws, now: datetime, seed: int = 19) -> None:
    """Answer about 80 % of the cases that need it (5 min to a day later), resolve most of
    those, close a few unanswered: one transaction through casetx.commit."""
    from escapevelocity.domain import events as ev
    from escapevelocity.services import casetx

    rng = random.Random(seed)
    with ws.store.begin() as tx:
        ids = [r[0] for r in tx.conn.execute(sa.select(t.cases.c.id).where(
            t.cases.c.respond.is_(True)).order_by(t.cases.c.id))]
        for case_id in ids:
            roll = rng.random()
            case = casetx.load(tx, case_id)
            opened = case.opened_at
            if roll < 0.8:
                at = min(now, opened + timedelta(
                    minutes=rng.choice([4, 12, 25, 40, 75, 150, 400, 1300])))
                events = [ev.Replied(stream=case_id, at=at, actor="sam", text="hello")]
                if rng.random() < 0.85:
                    events.append(ev.Resolved(stream=case_id, actor="sam", at=min(
                        now, at + timedelta(minutes=rng.randint(5, 2000)))))
                casetx.commit(tx, case, *events)
            elif roll < 0.88:
                casetx.commit(tx, case, ev.Resolved(stream=case_id, actor="sam",
                                                    at=min(now, opened + timedelta(hours=2))))


def build(url: str, n_cases: int, *, seed_mentions: int = 4000, rebuild: bool = False,
          progress: Callable[[str], None] = print):
    """A workspace at `url` of at least `n_cases` cases over ~27 days; returns it, the count
    and (with `rebuild`) the seconds the rollups took to recompute from the cases."""
    from escapevelocity.demo.generator import generate
    from escapevelocity.domain.clock import FixedClock
    from escapevelocity.services.ingest import batches, ingest_batch
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    clock = FixedClock(NOW)
    ws = Workspace.open(url, clock)
    seed_demo(ws, password=PASSWORD)
    triager = ws.triager()
    start = time.perf_counter()
    ingest_at = NOW - timedelta(hours=3)
    mentions = generate(seed_mentions, seed=7, start=ingest_at - timedelta(hours=1))
    for batch in batches(iter(mentions), 500):
        ingest_batch(ws.store, triager, ingest_at, batch)
    _work_the_seed_day(ws, NOW)
    with ws.store.engine.begin() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(t.cases)).scalar_one()
    progress(f"  ingested {seed_mentions:,} mentions → {count:,} cases, worked them "
             f"({time.perf_counter() - start:.1f}s)")
    round_ = 0
    while count < n_cases:
        round_ += 1
        with ws.store.engine.begin() as conn:
            _copy_cases(conn, round_)
            _copy_rollups(conn, round_)
            count = conn.execute(sa.select(sa.func.count()).select_from(t.cases)).scalar_one()
        progress(f"  round {round_}: {count:,} cases ({time.perf_counter() - start:.1f}s)")
    rebuild_s = None
    if rebuild:
        t0 = time.perf_counter()
        rebuild_rollups(ws)
        rebuild_s = time.perf_counter() - t0
    with ws.store.engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
        cells = conn.execute(sa.select(sa.func.count()).select_from(t.kpi_cells)).scalar_one()
    progress(f"  {cells:,} KPI cells" + (f"; rebuilt from the cases in {rebuild_s:.1f}s"
                                          if rebuild_s is not None else ""))
    return ws, count, rebuild_s


def rebuild_rollups(ws) -> None:
    """The rollups again from the projection alone, by the rebuild's own function."""
    from escapevelocity.adapters.store import kpis as kpi_store
    from escapevelocity.adapters.store.cases import case_of_row

    with ws.store.engine.begin() as conn:
        rows = conn.execute(sa.select(t.cases).execution_options(yield_per=5000))
        kpi_store.rebuild(conn, (case_of_row(r) for r in rows))


def time_pages(ws, *, repeats: int = 5) -> dict:
    from fastapi.testclient import TestClient

    from escapevelocity.config import Settings
    from escapevelocity.domain import kpis
    from escapevelocity.web.app import create_app

    app = create_app(ws, Settings(database_url="unused", secret_key="b" * 32), tick_seconds=None)
    out = {}
    with TestClient(app) as client:
        _login(client)
        for name, path in (("report", "/reports?period=30d"), ("wall", "/wall/data"),
                           ("report JSON", "/reports/data.json?period=30d")):
            times, status = [], None
            for _ in range(repeats):
                t0 = time.perf_counter()
                r = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                status = r.status_code
            out[name] = {"path": path, "status": status, "median_ms": statistics.median(times),
                         "max_ms": max(times)}
        data = client.get("/reports/data.json?period=30d").json()
    period = kpis.Period.last(30, NOW)
    out["in_window"] = data["totals"].get("cases", 0)
    out["period"] = f"{period.start}..{period.end}"
    return out


def run(n_cases: int | None = None, pg: bool | None = None) -> dict:
    """Report and wall timings on SQLite (and PostgreSQL when reachable) at `n_cases`."""
    n_cases = n_cases or int(os.environ.get("EV_BENCH_CASES", "1000000"))
    results, lines = {}, []
    with tempfile.TemporaryDirectory() as tmp, targets(tmp, "reports.db", pg) as dbs:
        for name, url in dbs:
            print(f"building a {n_cases:,}-case workspace over a month on {name} …")
            ws, count, _ = build(url, n_cases)
            try:
                timings = time_pages(ws)
            finally:
                ws.store.close()
            results[name] = {"cases": count, **timings}
            for key, target in (("report", REPORT_MS), ("wall", WALL_MS)):
                row = timings[key]
                ok = row["status"] == 200 and row["median_ms"] < target
                lines.append({"figure": f"{name} {row['path']}: {row['median_ms']:,.0f} ms "
                                        f"(HTTP {row['status']}; {timings['in_window']:,} of "
                                        f"{count:,} cases in the 30 days)",
                              "target": f"< {target:,.0f} ms", "met": ok})
    return {"lines": lines, "results": results}


if __name__ == "__main__":
    import json
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else None
    print(json.dumps(run(n, pg="--no-pg" not in sys.argv)["results"], indent=1, default=str))
