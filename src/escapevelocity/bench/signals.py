"""Benchmark of enrichment alone (no playbook, no routing): `Enricher.enrich` per mention on one
core, against vaderSentiment's `polarity_scores` on the same texts in the same process.

Three sets of texts, built before timing:
- the demo generator's posts as they are (customer-service posts, some with emoji, PII, other
  languages; short: about 55 characters on average);
- tweet-length posts: consecutive generator posts joined until 140-280 characters, so the ratio
  to VADER is not an artefact of very short texts (both do work per word);
- real posts, when the evaluation data is beside the project (../shared/data: TweetEval,
  airline, complaints and brand tweets, read at run time and never shipped): what a social
  team's stream looks like, English and not.
Ours is the rules (enrich.py) over the compiled kernels (domain/hotpath.pyx, built by `make
install`); the same rules over the kernels' Python references (kernels.py) are timed on the
same posts too, for what compiling buys.
Ours and VADER's alternate by chunks of 500 posts, so both see the same machine; everything is
timed in CPU time of this process (time.process_time, so other processes on a shared machine
do not count) and medians over runs are reported, the ratio as the median of each run's.

    python -m escapevelocity.bench.signals [N]
"""

from __future__ import annotations

import itertools
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from escapevelocity.demo.generator import generate
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.records import Author, Mention

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


CHUNK = 500  # posts timed at a stretch, ours then VADER's, so both see the same machine


def _compare(enricher: Enricher, mentions: list[Mention],
             runs: int) -> tuple[float, float, float]:
    """(ours, VADER's, ratio): mentions/s of each, and the median over runs of the ratio of
    their times. Each run alternates chunks of posts between the two, so a slow stretch of a
    shared machine slows both sides alike; every figure is CPU time of this process."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    for m in mentions[:500]:  # warm both: lexicons, language model
        enricher.enrich(m)
        vader.polarity_scores(m.text)
    chunks = [(mentions[i:i + CHUNK], [m.text for m in mentions[i:i + CHUNK]])
              for i in range(0, len(mentions), CHUNK)]
    enrich, score, clock = enricher.enrich, vader.polarity_scores, time.process_time
    ours, theirs, ratios = [], [], []
    n = len(mentions)
    for _ in range(runs):
        mine = other = 0.0
        for posts, texts in chunks:
            started = clock()
            for m in posts:
                enrich(m)
            middle = clock()
            for t in texts:
                score(t)
            mine += middle - started
            other += clock() - middle
        ours.append(n / max(mine, 1e-9))
        theirs.append(n / max(other, 1e-9))
        ratios.append(other / max(mine, 1e-9))
    return statistics.median(ours), statistics.median(theirs), statistics.median(ratios)


REAL = ("tweeteval/sentiment_val.jsonl", "airline_sentiment/dev.jsonl", "complaints/dev.jsonl",
        "sanders_brand/dev.jsonl")


def real_posts(root: Path | None = None, per_file: int = 2_000) -> list[Mention]:
    """Up to `per_file` posts from each real set in ../shared/data, or [] when it is absent."""
    root = root or Path(__file__).resolve().parents[3].parent / "shared" / "data"
    out: list[Mention] = []
    at = datetime(2026, 11, 2, tzinfo=UTC)
    for name in REAL:
        path = root / name
        if not path.exists():
            continue
        with open(path, encoding="utf-8", errors="replace") as fh:
            for i, line in enumerate(itertools.islice(fh, per_file)):
                text = str(json.loads(line).get("text") or "")
                out.append(Mention(source_id=f"{name}:{i}", channel="twitter", text=text,
                                   author=Author(handle="someone"), created_at=at))
    return out


def run(n: int = 20_000, runs: int = 5) -> dict:
    mentions = list(generate(n, seed=11, start=datetime(2026, 11, 2, tzinfo=UTC)))
    longer = tweet_length(list(generate(n * 3, seed=12, start=datetime(2026, 11, 2, tzinfo=UTC))))
    enricher = Enricher()
    rate, base, ratio = _compare(enricher, mentions, runs)
    # the Python definition, through the same interleaved timing, for what compiling buys
    python, _, python_ratio = _compare(Enricher(compiled=False), mentions, max(3, runs // 2))
    long_rate, long_base, long_ratio = _compare(enricher, longer, runs)
    short_len = sum(len(m.text) for m in mentions) / len(mentions)
    long_len = sum(len(m.text) for m in longer) / len(longer)
    real = real_posts()
    real_lines: list[dict] = []
    real_result: dict = {}
    if real:
        real_rate, real_base, real_ratio = _compare(enricher, real, runs)
        real_len = sum(len(m.text) for m in real) / len(real)
        real_result = {"mentions": len(real), "mean_chars": round(real_len),
                       "mentions_per_s": round(real_rate),
                       "vader_mentions_per_s": round(real_base),
                       "ratio_vs_vader": round(real_ratio, 2)}
        real_lines = [
            {"figure": f"{real_rate:,.0f} mentions/s on {len(real):,} real posts "
                       f"({real_len:.0f} chars), {real_ratio:.1f}x vaderSentiment "
                       f"({real_base:,.0f}/s)",
             "target": f"≥ {RATIO_TARGET:.0f}x", "met": real_ratio >= RATIO_TARGET}]
    path = "compiled kernels" if enricher.compiled else \
        "PYTHON KERNELS (hotpath not built: run `make install`)"
    return {
        "name": "signals", "mentions": n, "runs": runs, "path": path,
        "mentions_per_s": round(rate), "python_rules_mentions_per_s": round(python),
        "vader_mentions_per_s": round(base), "ratio_vs_vader": round(ratio, 2),
        "tweet_length": {"mentions": len(longer), "mean_chars": round(long_len),
                         "mentions_per_s": round(long_rate),
                         "vader_mentions_per_s": round(long_base),
                         "ratio_vs_vader": round(long_ratio, 2)},
        "lines": [
            {"figure": f"{rate:,.0f} mentions/s (enrichment only, {short_len:.0f}-char posts, "
                       f"{path})",
             "target": f"≥ {TARGET:,}/s", "met": rate >= TARGET},
            {"figure": f"{ratio:.1f}x vaderSentiment ({base:,.0f}/s, same posts, same run)",
             "target": f"≥ {RATIO_TARGET:.0f}x", "met": ratio >= RATIO_TARGET},
            {"figure": f"{long_rate:,.0f} mentions/s on tweet-length posts ({long_len:.0f} chars),"
                       f" {long_ratio:.1f}x vaderSentiment ({long_base:,.0f}/s)",
             "target": f"≥ {RATIO_TARGET:.0f}x", "met": long_ratio >= RATIO_TARGET},
            *real_lines,
            {"figure": f"for comparison, enrich.py's Python rules: {python:,.0f} mentions/s on the "
                       f"{short_len:.0f}-char posts ({python_ratio:.1f}x vaderSentiment)",
             "target": "", "met": None},
        ],
        "real_posts": real_result,
    }


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    result = run(n)
    for line in result["lines"]:
        verdict = {True: "met", False: "MISSED", None: ""}[line["met"]]
        print(f"{line['figure']:<80} target {line['target']:<12} {verdict}")
    return 0 if all(line["met"] is not False for line in result["lines"]) else 1


if __name__ == "__main__":
    sys.exit(main())
