"""Scoring "needs a response" on labelled posts: `ev eval FILE --signal respond --brand B.yaml`.

The answer is the whole pure pipeline's (enrich, brand relevance, the playbook's decision),
not one signal: a post needs a response when the playbook decides `respond`. Rows are JSON
objects with `text` and `label` (respond | ignore; answer/reply/1 and ignore/no/0 are read
too), and optionally `to`: the handle the post replies to, as a channel reports it. The brand
profile says who "we" are, as a workspace's does. Reported: recall of
respond, recall of ignore, the confusion, the tracks and rules that decided the misses (what
to look at), and mentions/s (CPU time, median of three passes, like the other signals).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from escapevelocity.domain.brand import BrandProfile, parse_yaml
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.playbook import Context, Playbook, load_playbook
from escapevelocity.domain.playbook.load import default_playbook_path
from escapevelocity.domain.records import Author, Mention
from escapevelocity.domain.relevance import Relevance
from escapevelocity.domain.triage import Triager
from escapevelocity.evaluation.signals import read_rows

LABELS = ("respond", "ignore")
_GOLD = {"respond": "respond", "answer": "respond", "reply": "respond", "1": "respond",
         "true": "respond", "yes": "respond",
         "ignore": "ignore", "no": "ignore", "0": "ignore", "false": "ignore"}
_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _mention(row: dict, i: int) -> Mention:
    return Mention(source_id=str(row.get("id", i)), channel=str(row.get("channel") or "twitter"),
                   text=str(row.get("text") or ""), author=Author(handle="someone"),
                   created_at=_AT, to=str(row.get("to") or "")[:64])


def evaluate(rows: Sequence[dict], brand: BrandProfile, playbook: Playbook | None = None,
             *, file: str = "", rules: frozenset[str] | None = None, passes: int = 3,
             enricher: Enricher | None = None) -> dict:
    """`rules`: the brand relevance rules to run (all of them unless an evaluation leaves one
    out, scripts/respond_cv.py)."""
    playbook = playbook or load_playbook(default_playbook_path())
    triager = Triager(enricher or Enricher(), playbook, org=None,  # type: ignore[arg-type]
                      brand=brand)
    if rules is not None:
        triager.relevance = Relevance(brand, rules)
    gold, mentions, skipped = [], [], 0
    for i, row in enumerate(rows):
        label = _GOLD.get(str(row.get("label")).strip().lower())
        if label is None:
            skipped += 1
            continue
        gold.append(label)
        mentions.append(_mention(row, i))
    context = Context()
    for m in mentions[:200]:  # warm caches outside the timing
        triager.decide(m, context)
    rates, decisions = [], []
    for _ in range(passes):
        started = time.process_time()
        decisions = [triager.decide(m, context) for m in mentions]
        elapsed = time.process_time() - started
        if elapsed > 0:
            rates.append(len(mentions) / elapsed)
    predicted = ["respond" if d.respond else "ignore" for d in decisions]
    confusion = {g: {p: 0 for p in LABELS} for g in LABELS}
    for g, p in zip(gold, predicted, strict=True):
        confusion[g][p] += 1
    recall = {g: (confusion[g][g] / sum(confusion[g].values()) if sum(confusion[g].values())
                  else None) for g in LABELS}
    present = [r for r in recall.values() if r is not None]
    misses = Counter(f"{d.rule_id} -> {d.track}" for g, p, d in
                     zip(gold, predicted, decisions, strict=True) if g != p)
    examples = [{"gold": g, "rule": d.rule_id, "text": m.text[:200]}
                for g, p, d, m in zip(gold, predicted, decisions, mentions, strict=True)
                if g != p][:20]
    return {"file": file, "signal": "respond", "brand": brand.name, "rows": len(gold),
            "skipped_rows": skipped, "recall": recall,
            "macro_recall": sum(present) / len(present) if present else None,
            "confusion": confusion, "misses_by_rule": dict(misses.most_common(10)),
            "miss_examples": examples,
            "mentions_per_s": round(statistics.median(rates)) if rates else None}


def evaluate_file(path: Path, brand_file: Path | None, playbook_file: Path | None = None) -> dict:
    rows, bad = read_rows(path)
    brand = parse_yaml(brand_file.read_text(encoding="utf-8")) if brand_file else BrandProfile()
    playbook = load_playbook(str(playbook_file)) if playbook_file else None
    report = evaluate(rows, brand, playbook, file=str(path))
    report["unreadable_lines"] = bad
    return report


def render(report: dict, console: Console) -> None:
    console.print(f"[bold]respond[/] on {report['file'] or 'rows'}: {report['rows']:,} labelled "
                  f"rows, brand {report['brand'] or '(none)'}"
                  + (f", {report['skipped_rows']:,} skipped (label not respond/ignore)"
                     if report.get("skipped_rows") else ""))
    table = Table(title="needs a response (the playbook's decision)")
    for col in ("recall respond", "recall ignore", "macro-recall", "mentions/s"):
        table.add_column(col, justify="right")
    r = report["recall"]

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x:.3f}"
    table.add_row(pct(r["respond"]), pct(r["ignore"]), pct(report["macro_recall"]),
                  f"{report['mentions_per_s']:,}" if report["mentions_per_s"] else "–")
    console.print(table)
    conf = Table(title="confusion (rows: gold, columns: predicted)")
    conf.add_column("gold \\ predicted")
    for lab in LABELS:
        conf.add_column(lab, justify="right")
    for g in LABELS:
        conf.add_row(g, *(str(report["confusion"][g][p]) for p in LABELS))
    console.print(conf)
    if report["misses_by_rule"]:
        console.print("misses by deciding rule: " + ", ".join(
            f"{k} ({v})" for k, v in report["misses_by_rule"].items()))
