"""Benchmark of enrichment alone (no playbook, no routing): `Enricher.enrich` per mention on one
core, against vaderSentiment's `polarity_scores` on the same texts in the same process.

Mentions come from the demo generator (realistic customer-service posts, some with emoji,
PII and other languages) and are built before timing; runs of ours and VADER's interleave so
both see the same machine, and medians are reported.

    python -m escapevelocity.bench.signals [N]
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime

from escapevelocity.demo.generator import generate
from escapevelocity.domain.enrich import Enricher

TARGET = 20_000  # mentions per second on one core
RATIO_TARGET = 3.0  # times vaderSentiment's throughput


def run(n: int = 20_000, runs: int = 5) -> dict:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    mentions = list(generate(n, seed=11, start=datetime(2026, 11, 2, tzinfo=UTC)))
    texts = [m.text for m in mentions]
    enricher = Enricher()
    vader = SentimentIntensityAnalyzer()
    for m in mentions[:500]:  # warm both: lexicons, language model
        enricher.enrich(m)
    for t in texts[:500]:
        vader.polarity_scores(t)
    ours, theirs = [], []
    for _ in range(runs):
        enrich = enricher.enrich
        started = time.perf_counter()
        for m in mentions:
            enrich(m)
        ours.append(n / (time.perf_counter() - started))
        score = vader.polarity_scores
        started = time.perf_counter()
        for t in texts:
            score(t)
        theirs.append(n / (time.perf_counter() - started))
    rate, base = statistics.median(ours), statistics.median(theirs)
    ratio = rate / base
    return {
        "name": "signals", "mentions": n, "runs": runs, "mentions_per_s": round(rate),
        "vader_mentions_per_s": round(base), "ratio_vs_vader": round(ratio, 2),
        "lines": [
            {"figure": f"{rate:,.0f} mentions/s (enrichment only)", "target": f"≥ {TARGET:,}/s",
             "met": rate >= TARGET},
            {"figure": f"{ratio:.1f}x vaderSentiment ({base:,.0f}/s, same run)",
             "target": f"≥ {RATIO_TARGET:.0f}x", "met": ratio >= RATIO_TARGET},
        ],
    }


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    result = run(n)
    for line in result["lines"]:
        print(f"{line['figure']:<50} target {line['target']:<12} "
              f"{'met' if line['met'] else 'MISSED'}")
    return 0 if all(line["met"] for line in result["lines"]) else 1


if __name__ == "__main__":
    sys.exit(main())
