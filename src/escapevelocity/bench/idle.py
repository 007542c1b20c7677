"""What a running server costs when nothing happens, and how long a worker pass takes, on a
workspace with many open cases (issue 14.2 / 15 "at scale").

`build(url, n)` fills a workspace through the real ingest path (demo organisation, generated
mentions spread over the past days so most SLA clocks are long breached); `measure(url)`
starts `ev serve` on it, lets the first passes settle, then reads the process's CPU time
from /proc for `seconds` and reports the share of one core; `passes(url)` times worker
passes in-process.

    python -m escapevelocity.bench.idle build postgresql://postgres@127.0.0.1/ev_scale 100000
    python -m escapevelocity.bench.idle measure postgresql://postgres@127.0.0.1/ev_scale 60
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from escapevelocity.domain.clock import FixedClock, SystemClock

IDLE_TARGET = 0.02  # of one core


def _create_database(url: str) -> None:
    if not url.startswith("postgresql"):
        return
    import sqlalchemy as sa

    base, name = url.rsplit("/", 1)
    engine = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                              isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()


def build(url: str, n: int = 100_000, days: float = 3.0) -> dict:
    """A fresh workspace at `url` with about `n` cases (one per generated mention, minus the
    generator's re-deliveries and follow-ups), created through `ingest_batch`."""
    from escapevelocity.demo.generator import generate
    from escapevelocity.services.ingest import batches, ingest_batch
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    _create_database(url)
    now = datetime.now(UTC)
    start = now - timedelta(days=days)
    ws = Workspace.open(url, FixedClock(start))
    seed_demo(ws, password="bench-password")
    triager = ws.triager()
    began = time.perf_counter()
    stored = 0
    gap = days * 86400 / n
    for batch in batches(generate(n, seed=5, start=start, mean_gap_seconds=gap), 5000):
        stored += ingest_batch(ws.store, triager, batch[-1].created_at, batch).accepted
    with ws.store.begin() as tx:
        cases = tx.count("cases")
        events = tx.count("events")
    ws.store.close()
    return {"mentions": stored, "cases": cases, "events": events,
            "seconds": round(time.perf_counter() - began, 1)}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(url: str, seconds: float = 60.0, settle: float = 30.0) -> dict:
    """CPU share of one core used by an idle `ev serve` over `seconds`, after `settle`
    seconds in which the first passes may do the work that was due."""
    port = _free_port()
    env = dict(os.environ, EV_DATABASE_URL=url)
    ev = Path(sys.executable).with_name("ev")
    proc = subprocess.Popen([str(ev), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(settle)
        if proc.poll() is not None:
            raise RuntimeError(f"ev serve exited: {proc.stderr.read().decode()[-2000:]}")
        cpu0, wall0 = _cpu_seconds(proc.pid), time.perf_counter()
        time.sleep(seconds)
        cpu1, wall1 = _cpu_seconds(proc.pid), time.perf_counter()
        rss = int(Path(f"/proc/{proc.pid}/statm").read_text().split()[1]) * os.sysconf(
            "SC_PAGE_SIZE")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    share = (cpu1 - cpu0) / (wall1 - wall0)
    return {"core_share": round(share, 4), "seconds": round(wall1 - wall0, 1),
            "rss_mb": round(rss / 2**20), "target": IDLE_TARGET, "met": share < IDLE_TARGET}


def passes(url: str, count: int = 3) -> dict:
    """Wall time of `count` full worker passes (tick_all) at the real time, in-process."""
    from escapevelocity.services.crisis import CrisisMode
    from escapevelocity.services.worker import tick_all
    from escapevelocity.services.workspace import Workspace

    ws = Workspace.open(url, SystemClock())
    ws.away_after = timedelta(minutes=10)
    crisis = CrisisMode(ws.store, ws.clock)
    times, jobs = [], []
    for _ in range(count):
        began = time.perf_counter()
        done = tick_all(ws, crisis)
        times.append(round(time.perf_counter() - began, 2))
        jobs.append({k: (len(v.events) if hasattr(v, "events") else v)
                     for k, v in done.done.items()} | {"failed": done.failed})
    ws.store.close()
    return {"pass_seconds": times, "jobs": jobs}


if __name__ == "__main__":
    what, target = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    if what == "build":
        print(build(target, int(arg or 100_000)))
    elif what == "measure":
        print(measure(target, float(arg or 60)))
    else:
        print(passes(target, int(arg or 3)))
