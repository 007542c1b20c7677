"""Benchmark of learned models on the enrichment path: what a workspace pays once a model
learned from its corrections is promoted.

A complaint model is trained first (outside the timing) on generated posts labelled by the
shipped rules, with sentence vectors when the `embed` extra is there. Then, on the same posts,
in this process, medians of runs:
- the rules alone (the default path, as in the signals benchmark);
- the hot path with the model promoted: ingest's enricher (`defer_vectors=True`), which answers
  from the model's words and leaves its vectors to the refine job;
- the refine job's work: the rules again plus the model with its all-MiniLM-L6-v2 vectors,
  embedded in batches of 64 (services/refine.py). The transformer's matrix products may use
  both cores, so this line gives wall time and CPU time of the process.

    python -m escapevelocity.bench.learned [N]
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime

from escapevelocity.demo.generator import generate
from escapevelocity.domain import learn
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.records import Mention
from escapevelocity.evaluation.signals import mention

TRAIN = 300  # corrections the model learns from
REFINE_BATCH = 64


def _model(enricher: Enricher, mentions: list[Mention]) -> learn.SignalModel | None:
    corrections = [learn.Correction(signal="complaint", text=m.text, key=f"b{i}",
                                    label=learn.rule_label("complaint", enricher.rules(m)))
                   for i, m in enumerate(mentions)]

    def current(_text, signals):
        return "not_complaint"  # a baseline the model beats, so it is promoted

    result = learn.train_and_compare("complaint", corrections,
                                     lambda t: enricher.rules(mention(t)), current,
                                     "nothing", version=1, now=datetime.now(UTC))
    return result if isinstance(result, learn.SignalModel) else None


def _rate(fn, mentions: list[Mention], runs: int) -> tuple[float, float]:
    """(median mentions per CPU-second, median mentions per wall-second)."""
    cpu, wall = [], []
    for _ in range(runs):
        c, w = time.process_time(), time.perf_counter()
        fn(mentions)
        c, w = time.process_time() - c, time.perf_counter() - w
        cpu.append(len(mentions) / max(c, 1e-9))
        wall.append(len(mentions) / max(w, 1e-9))
    return statistics.median(cpu), statistics.median(wall)


def run(n: int = 5_000, runs: int = 3, train_size: int = TRAIN) -> dict:
    """`train_size` corrections for the model: the figures are for TRAIN; a test that only
    checks that every line is measured may train on fewer (each is embedded once)."""
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return {"name": "learned", "lines": [{"figure": "learn extra not installed",
                                              "target": "", "met": None}]}
    start = datetime(2026, 11, 2, tzinfo=UTC)
    train = list(generate(train_size, seed=21, start=start))
    mentions = list(generate(n, seed=22, start=start))
    rules = Enricher()
    model = _model(rules, train)
    if model is None:
        return {"name": "learned", "lines": [{"figure": "no model was trained", "target": "",
                                              "met": False}]}
    hot = Enricher(models={"complaint": model}, defer_vectors=True)
    full = Enricher(models={"complaint": model})
    hot.enrich_many(mentions[:200])  # warm: lexicons, the model's table, the language model

    def rules_only(ms):
        for m in ms:
            rules.enrich(m)

    def refine(ms):
        learn.dense._VECTORS.clear()  # every text embedded, as in the job (each mention once)
        for i in range(0, len(ms), REFINE_BATCH):
            full.enrich_many(ms[i:i + REFINE_BATCH])

    base, _ = _rate(rules_only, mentions, runs)
    hot_rate, _ = _rate(hot.enrich_many, mentions, runs)
    dense = model.needs_vectors
    lines = [
        {"figure": f"{base:,.0f} mentions/s, rules alone ({n:,} generated posts)",
         "target": "", "met": None},
        {"figure": f"{hot_rate:,.0f} mentions/s on the hot path with a promoted "
                   f"{'words + MiniLM' if dense else 'words'} model "
                   f"({hot_rate / base:.2f}x the rules alone)", "target": "", "met": None},
    ]
    result = {"name": "learned", "mentions": n, "rules_mentions_per_s": round(base),
              "hot_path_mentions_per_s": round(hot_rate), "features": model.card.features}
    if dense:
        sample = mentions[:512]
        cpu, wall = _rate(refine, sample, 1)
        lines.append({"figure": f"{wall:,.0f} mentions/s wall ({cpu:,.0f} per CPU-second), the "
                                f"refine job: MiniLM vectors in batches of {REFINE_BATCH}",
                      "target": "", "met": None})
        result.update(refine_mentions_per_s=round(wall), refine_mentions_per_cpu_s=round(cpu))
    else:
        lines.append({"figure": "refine job not timed: the embed extra is not installed",
                      "target": "", "met": None})
    result["lines"] = lines
    return result


def main() -> int:
    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 5_000)
    for line in result["lines"]:
        print(line["figure"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
