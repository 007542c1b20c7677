"""Benchmarks of the main path: `ev triage` on 100k generated mentions, `ev ingest` into SQLite.

Each runs in-process through the same functions the commands use (file parsing included), on
one core, and reports the median of several runs.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from escapevelocity.domain.clock import FixedClock
from escapevelocity.domain.routing import RoutingState
from escapevelocity.services.parse import Problem, read_file


def _mentions_file(n: int, folder: Path) -> Path:
    from escapevelocity.demo.generator import generate, write_jsonl

    path = folder / f"mentions-{n}.jsonl"
    if not path.exists():
        write_jsonl(generate(n, seed=11, start=datetime(2026, 11, 20, 8, tzinfo=UTC)), path)
    return path


def triage(n: int = 100_000, runs: int = 3) -> dict:
    """Parse + enrich + decide + route + encode a JSON line, as `ev triage FILE` does."""
    from escapevelocity.cli.triage import build_triager, decision_record

    triager = build_triager(None, None, None)
    encode = msgspec.json.Encoder().encode
    with tempfile.TemporaryDirectory() as tmp:
        path = _mentions_file(n, Path(tmp))
        rates = []
        for _ in range(runs):
            state = RoutingState(presence={m.id: "online" for m in triager.org.members})
            sink = io.BytesIO()
            started = time.perf_counter()
            count = 0
            for item in read_file(path):
                if isinstance(item, Problem):
                    continue
                sink.write(encode(decision_record(triager.triage(item, state, item.created_at))))
                count += 1
            rates.append(count / (time.perf_counter() - started))
    return {"mentions": n, "runs": runs, "mentions_per_s": statistics.median(rates),
            "target": 20_000}


def ingest(n: int = 100_000, runs: int = 1) -> dict:
    """`ev ingest FILE` into a fresh SQLite file: parse, triage, thread, write log + projection."""
    from escapevelocity.services.ingest import batches, ingest_batch
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    rates = []
    with tempfile.TemporaryDirectory() as tmp:
        path = _mentions_file(n, Path(tmp))
        for run in range(runs):
            clock = FixedClock(datetime(2026, 11, 20, 9, tzinfo=UTC))
            ws = Workspace.open(f"sqlite:///{Path(tmp) / f'bench-{run}.db'}", clock)
            seed_demo(ws, password="bench-password")
            triager = ws.triager()
            started = time.perf_counter()
            total = 0
            good = (m for m in read_file(path) if not isinstance(m, Problem))
            for batch in batches(good, 1000):
                total += len(batch)
                ingest_batch(ws.store, triager, clock.now(), batch)
            rates.append(total / (time.perf_counter() - started))
            ws.store.close()
    return {"mentions": n, "runs": runs, "mentions_per_s": statistics.median(rates),
            "target": 5_000}
