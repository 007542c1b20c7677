"""Benchmark of enrichment alone (no playbook, no routing): `Enricher.enrich` per mention on one
core, against vaderSentiment's `polarity_scores` on the same texts in the same process.

Two sets of texts, both from the demo generator (customer-service posts, some with emoji, PII,
other languages) and built before timing:
- the generator's posts as they are (short: about 55 characters on average);
- tweet-length posts: consecutive generator posts joined until 140-280 characters, so the ratio
  to VADER is not an artefact of very short texts (both do work per word).
Runs of ours and VADER's interleave so both see the same machine; each run is timed in CPU time
of this process (time.process_time, so other processes on a shared machine do not count) and
medians are reported.

    python -m escapevelocity.bench.signals [N]
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from datetime import UTC, datetime

import msgspec

from escapevelocity.demo.generator import generate
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.records import Mention

TARGET = 20_000  # mentions per second on one core
RATIO_TARGET = 3.0  # times vaderSentiment's throughput


def tweet_length(mentions: list[Mention], seed: int = 5) -> list[Mention]:
    """Consecutive posts joined into one of 140-280 characters (a target length drawn per post)."""
    rnd = random.Random(seed)
    out: list[Mention] = []
    i = 0
    while i < len(mentions):
        want = rnd.randint(140, 280)
        first = mentions[i]
        text = first.text
        i += 1
        while i < len(mentions) and len(text) + 1 + len(mentions[i].text) <= want:
            text = f"{text} {mentions[i].text}"
            i += 1
        out.append(msgspec.structs.replace(first, text=text))
    return out


def _compare(enricher: Enricher, mentions: list[Mention], runs: int) -> tuple[float, float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    texts = [m.text for m in mentions]
    for m in mentions[:500]:  # warm both: lexicons, language model
        enricher.enrich(m)
    for t in texts[:500]:
        vader.polarity_scores(t)
    ours, theirs = [], []
    n = len(mentions)
    for _ in range(runs):
        enrich = enricher.enrich
        started = time.process_time()
        for m in mentions:
            enrich(m)
        ours.append(n / max(time.process_time() - started, 1e-9))
        score = vader.polarity_scores
        started = time.process_time()
        for t in texts:
            score(t)
        theirs.append(n / max(time.process_time() - started, 1e-9))
    return statistics.median(ours), statistics.median(theirs)


def run(n: int = 20_000, runs: int = 5) -> dict:
    mentions = list(generate(n, seed=11, start=datetime(2026, 11, 2, tzinfo=UTC)))
    longer = tweet_length(list(generate(n * 3, seed=12, start=datetime(2026, 11, 2, tzinfo=UTC))))
    enricher = Enricher()
    rate, base = _compare(enricher, mentions, runs)
    long_rate, long_base = _compare(enricher, longer, runs)
    short_len = sum(len(m.text) for m in mentions) / len(mentions)
    long_len = sum(len(m.text) for m in longer) / len(longer)
    ratio, long_ratio = rate / base, long_rate / long_base
    return {
        "name": "signals", "mentions": n, "runs": runs, "mentions_per_s": round(rate),
        "vader_mentions_per_s": round(base), "ratio_vs_vader": round(ratio, 2),
        "tweet_length": {"mentions": len(longer), "mean_chars": round(long_len),
                         "mentions_per_s": round(long_rate),
                         "vader_mentions_per_s": round(long_base),
                         "ratio_vs_vader": round(long_ratio, 2)},
        "lines": [
            {"figure": f"{rate:,.0f} mentions/s (enrichment only, {short_len:.0f}-char posts)",
             "target": f"≥ {TARGET:,}/s", "met": rate >= TARGET},
            {"figure": f"{ratio:.1f}x vaderSentiment ({base:,.0f}/s, same posts, same run)",
             "target": f"≥ {RATIO_TARGET:.0f}x", "met": ratio >= RATIO_TARGET},
            {"figure": f"{long_rate:,.0f} mentions/s on tweet-length posts ({long_len:.0f} chars),"
                       f" {long_ratio:.1f}x vaderSentiment ({long_base:,.0f}/s)",
             "target": f"≥ {RATIO_TARGET:.0f}x", "met": long_ratio >= RATIO_TARGET},
        ],
    }


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    result = run(n)
    for line in result["lines"]:
        print(f"{line['figure']:<80} target {line['target']:<12} "
              f"{'met' if line['met'] else 'MISSED'}")
    return 0 if all(line["met"] for line in result["lines"]) else 1


if __name__ == "__main__":
    sys.exit(main())
