"""Benchmarks of the main path: `ev triage` on 100k generated mentions, `ev ingest` into SQLite.

Each runs in-process through the same functions the commands use (file parsing and output
encoding included), on one core, and reports medians of several runs: wall-clock mentions/s
(what the target is judged on) and CPU-time mentions/s (the process's own core; on a shared,
busy machine the two differ, and the load average is printed so a reader can tell).

Both compare against a baseline run in the same process, interleaved with the real runs so
that both see the same machine:
- triage: the plain way to write the same command: stdlib `json` per line, the generic
  validation, the same pipeline and record, `json.dumps` and a write per line;
- ingest: a bare SQL insert of the same parsed mentions (JSON bodies, executemany, same batch
  size and pragmas) into a table with the mentions table's unique key: the storage floor that
  ingest, which also triages, threads and writes the event log and the case projection, is
  measured against.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from escapevelocity.domain.clock import FixedClock
from escapevelocity.domain.routing import RoutingState
from escapevelocity.services.parse import Problem, _reason, from_object, read_file

TRIAGE_TARGET = 20_000
INGEST_TARGET = 5_000


def _mentions_file(n: int, folder: Path) -> Path:
    from escapevelocity.demo.generator import generate, write_jsonl

    path = folder / f"mentions-{n}.jsonl"
    if not path.exists():
        write_jsonl(generate(n, seed=11, start=datetime(2026, 11, 20, 8, tzinfo=UTC)), path)
    return path


def _timed(fn: Callable[[], int]) -> tuple[float, float]:
    """(wall mentions/s, CPU mentions/s) of one call that returns how many it handled."""
    wall, cpu = time.perf_counter(), time.process_time()
    count = fn()
    return count / (time.perf_counter() - wall), count / max(time.process_time() - cpu, 1e-9)


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


# --- ev triage ----------------------------------------------------------------------------------

def _triage_fast(path: Path, triager) -> int:
    from escapevelocity.cli.triage import write_decisions

    return write_decisions(read_file(path), triager, io.BytesIO())


def _triage_baseline(path: Path, triager) -> int:
    """The unoptimised way: json.loads, generic validation, json.dumps, a write per line."""
    from escapevelocity.cli.triage import decision_record

    state = RoutingState(presence={m.id: "online" for m in triager.org.members})
    sink = io.BytesIO()
    count = 0
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                mention = from_object(json.loads(raw))
            except (ValueError, TypeError, msgspec.ValidationError) as exc:
                Problem(number, _reason(exc))
                continue
            record = decision_record(triager.triage(mention, state, mention.created_at))
            sink.write(json.dumps(record, default=list).encode() + b"\n")
            count += 1
    return count


def triage(n: int = 100_000, runs: int = 3) -> dict:
    """`ev triage FILE`: parse + enrich + decide + route + one JSON line per mention."""
    from escapevelocity.cli.common import package_file
    from escapevelocity.cli.triage import build_triager

    # the demo's mentions, triaged as the demo workspace would: its playbook and brand
    triager = build_triager(package_file("demo", "playbook.yaml"), None, None,
                            package_file("demo", "brand.yaml"))
    load_before = _load()
    fast, base = [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = _mentions_file(n, Path(tmp))
        for _ in range(runs):
            fast.append(_timed(lambda: _triage_fast(path, triager)))
            base.append(_timed(lambda: _triage_baseline(path, triager)))
    return _result("triage", n, runs, fast, base, TRIAGE_TARGET, load_before,
                   "json.loads + generic validation + json.dumps per line")


# --- ev ingest ----------------------------------------------------------------------------------

def _ingest_run(path: Path, folder: Path, run: int, batch_size: int) -> tuple[float, float]:
    from escapevelocity.services.ingest import batches, ingest_batch
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    clock = FixedClock(datetime(2026, 11, 20, 9, tzinfo=UTC))
    ws = Workspace.open(f"sqlite:///{folder / f'bench-{run}.db'}", clock)
    seed_demo(ws, password="bench-password")
    triager = ws.triager()

    def go() -> int:
        total = 0
        good = (m for m in read_file(path) if not isinstance(m, Problem))
        for batch in batches(good, batch_size):
            total += len(batch)
            ingest_batch(ws.store, triager, clock.now(), batch)
        return total

    try:
        return _timed(go)
    finally:
        ws.store.close()


def _plain_insert_run(path: Path, folder: Path, run: int, batch_size: int) -> tuple[float, float]:
    """The storage floor: parse, then insert (channel, source_id, body JSON) rows, one
    executemany and commit per batch, on a SQLite file with the store's pragmas."""
    from escapevelocity.adapters.store.base import make_engine
    from escapevelocity.services.ingest import batches

    engine = make_engine(f"sqlite:///{folder / f'plain-{run}.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE mentions (id INTEGER PRIMARY KEY, channel TEXT, "
                             "source_id TEXT, body TEXT, UNIQUE (channel, source_id))")
    encode = msgspec.json.encode

    def go() -> int:
        total = 0
        good = (m for m in read_file(path) if not isinstance(m, Problem))
        for batch in batches(good, batch_size):
            total += len(batch)
            with engine.begin() as conn:
                cur = conn.connection.driver_connection.cursor()
                cur.executemany("INSERT OR IGNORE INTO mentions (channel, source_id, body) "
                                "VALUES (?, ?, ?)",
                                [(m.channel, m.source_id, encode(m).decode()) for m in batch])
                cur.close()
        return total

    try:
        return _timed(go)
    finally:
        engine.dispose()


def ingest(n: int = 100_000, runs: int = 3, batch_size: int | None = None) -> dict:
    """`ev ingest FILE` into a fresh SQLite file: parse, triage, thread, write log + projection,
    one transaction per batch (the command's default batch size)."""
    from escapevelocity.services.ingest import DEFAULT_BATCH_SIZE

    batch_size = batch_size or DEFAULT_BATCH_SIZE
    load_before = _load()
    fast, base = [], []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = _mentions_file(n, folder)
        for run in range(runs):
            fast.append(_ingest_run(path, folder, run, batch_size))
            base.append(_plain_insert_run(path, folder, run, batch_size))
    return _result("ingest", n, runs, fast, base, INGEST_TARGET, load_before,
                   "bare SQL insert of the same mentions (storage floor)")


# --- reporting ----------------------------------------------------------------------------------

def _result(name: str, n: int, runs: int, fast: list[tuple[float, float]],
            base: list[tuple[float, float]], target: int, load_before: str,
            baseline: str) -> dict:
    wall = statistics.median(w for w, _ in fast)
    cpu = statistics.median(c for _, c in fast)
    base_wall = statistics.median(w for w, _ in base)
    ratio = statistics.median(f[0] / b[0] for f, b in zip(fast, base, strict=True))
    return {
        "mentions": n, "runs": runs, "mentions_per_s": wall, "cpu_mentions_per_s": cpu,
        "target": target, "baseline": baseline, "baseline_mentions_per_s": base_wall,
        "ratio_vs_baseline": ratio, "wall_runs": [round(w) for w, _ in fast],
        "cpu_runs": [round(c) for _, c in fast], "baseline_runs": [round(w) for w, _ in base],
        "load_average": {"before": load_before, "after": _load()},
        "lines": [
            {"figure": f"{wall:,.0f} mentions/s wall, {cpu:,.0f}/s CPU (median of {runs} × "
                       f"{n:,}; runs {', '.join(f'{w:,.0f}' for w, _ in fast)})",
             "target": f"≥ {target:,}/s", "met": wall >= target},
            {"figure": f"baseline, {baseline}: {base_wall:,.0f}/s → {ratio:.2f}× "
                       f"(median of per-run ratios)", "target": None, "met": None},
            {"figure": f"load average {load_before} before, {_load()} after (2+ on this "
                       f"machine means shared cores: wall figures are low)",
             "target": None, "met": None},
        ],
    }
