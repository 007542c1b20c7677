"""Benchmark of the crisis monitor: `CrisisMonitor.observe` per mention, on one core.

Observations are generated in-process before timing (times, sentiment, one or two topics of 20,
three terms each, over two weeks with a rhythm and a spike), so only `observe` is timed; the
median of several runs is reported.

    python -m escapevelocity.bench.crisis
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from escapevelocity.domain.crisis import CrisisMonitor, Settings

TARGET = 100_000  # mentions per second on one core

_TOPICS = tuple(f"product-{i}" for i in range(20))
_TERMS = tuple(f"term{i}" for i in range(500))


def observations(n: int, seed: int = 7, days: int = 14) -> list[tuple]:
    """n synthetic (at, negative, topics, mention_id, terms) in time order, with a spike."""
    rnd = random.Random(seed)
    start = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
    span = days * 86400.0
    times = sorted(rnd.random() for _ in range(n))
    out = []
    spike = (0.9, 0.905)
    for i, u in enumerate(times):
        if spike[0] <= u < spike[1] and rnd.random() < 0.5:
            topics: tuple[str, ...] = ("recall",)
            negative = rnd.random() < 0.7
        else:
            topics = (rnd.choice(_TOPICS),) if rnd.random() < 0.8 else tuple(
                rnd.sample(_TOPICS, 2))
            negative = rnd.random() < 0.2
        terms = (rnd.choice(_TERMS), rnd.choice(_TERMS), rnd.choice(_TERMS))
        out.append((start + timedelta(seconds=u * span), negative, topics, f"m{i}", terms))
    return out


def run(n: int = 200_000, runs: int = 5) -> dict:
    data = observations(n)
    rates, alerts = [], 0
    for _ in range(runs):
        monitor = CrisisMonitor(Settings())
        observe = monitor.observe
        found = 0
        started = time.perf_counter()
        for at, negative, topics, mention_id, terms in data:
            found += len(observe(at, negative, topics, mention_id, terms))
        rates.append(n / (time.perf_counter() - started))
        alerts = found
    rate = statistics.median(rates)
    return {"mentions": n, "runs": runs, "mentions_per_s": round(rate),
            "min_mentions_per_s": round(min(rates)), "alerts": alerts,
            "target_mentions_per_s": TARGET, "meets_target": rate >= TARGET, "target": TARGET,
            "lines": [{"figure": f"{rate:,.0f} mentions/s (median of {runs} × {n:,}; slowest "
                                 f"{min(rates):,.0f}/s)",
                       "target": f"≥ {TARGET:,}/s", "met": rate >= TARGET}]}


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    result = run(n)
    for key, value in result.items():
        print(f"{key:>22}: {value:,}" if isinstance(value, int) and not isinstance(value, bool)
              else f"{key:>22}: {value}")
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
