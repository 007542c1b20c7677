"""Scoring triage signals on labelled posts, side by side with vaderSentiment in the same run.

`evaluate(rows, signal)` enriches every row with the shipped rules (and, with `learn_from`,
first feeds those labelled rows as team corrections through the same train-and-compare path a
workspace uses), then reports macro recall, macro F1, accuracy, a confusion matrix and
mentions/s (CPU time of this process; ours as the median of three passes) for ours and for
VADER (sentiment, and negative-as-complaint for complaints).

Rows are JSON objects with at least `text` and `label`; labels are mapped onto the signal's
own (spam/ham, complaint/not_complaint, relevant/irrelevant, negative/neutral/positive) and rows
whose label does not map (a sentiment set's "irrelevant") are left out and counted.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from escapevelocity.domain import learn
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.records import Author, Mention, Signals
from escapevelocity.domain.severity import LEVELS

SIGNALS = ("sentiment", "complaint", "spam", "relevance", "severity")
# Complaint severity is scored on the complaints only (rows whose `severity` is one of the four
# levels); a complaint the rules (or the learned complaint model) missed counts as wrong
# ("not_complaint"). Learning severity feeds the rows' complaint labels as corrections too: a
# member who sets a complaint's severity has said it is a complaint.
_SEVERITY_LABELS = (*LEVELS, "not_complaint")
_AT = datetime(2026, 1, 1, tzinfo=UTC)
_LABELS = {
    "sentiment": {"negative": "negative", "neg": "negative", "0": "negative",
                  "neutral": "neutral", "neu": "neutral", "1": "neutral",
                  "positive": "positive", "pos": "positive", "2": "positive"},
    "complaint": {"complaint": "complaint", "1": "complaint", "true": "complaint",
                  "not_complaint": "not_complaint", "0": "not_complaint",
                  "false": "not_complaint", "non_complaint": "not_complaint"},
    "spam": {"spam": "spam", "1": "spam", "true": "spam", "ham": "ham", "0": "ham",
             "false": "ham", "not_spam": "ham"},
    "relevance": {"irrelevant": "irrelevant", "off-topic": "irrelevant",
                  "off_topic": "irrelevant", "relevant": "relevant", "on-topic": "relevant",
                  "on_topic": "relevant", "positive": "relevant", "negative": "relevant",
                  "neutral": "relevant"},
}


def read_rows(path: Path) -> tuple[list[dict], int]:
    """Labelled rows of a JSONL file, and how many lines were unreadable or unlabelled.
    Bytes that are not UTF-8 are replaced, never fatal."""
    rows, bad = [], 0
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if not isinstance(row, dict) or "label" not in row or "text" not in row:
                bad += 1
                continue
            rows.append(row)
    return rows, bad


def gold_label(signal: str, row: dict) -> str | None:
    if signal == "severity":
        level = str(row.get("severity") or "").strip().lower().replace(" ", "_")
        return level if level in LEVELS else None
    return _LABELS[signal].get(str(row.get("label")).strip().lower())


def predicted(signal: str, signals: Signals) -> str:
    """Our answer for `signal`, in the labels the gold rows use."""
    if signal == "severity":
        return signals.severity or "not_complaint"
    return learn.rule_label(signal, signals)


def _labels(signal: str) -> tuple[str, ...]:
    return _SEVERITY_LABELS if signal == "severity" else learn.SIGNALS[signal]


def mention(text: str, i: int = 0) -> Mention:
    return Mention(source_id=str(i), channel="twitter", text=str(text or ""),
                   author=Author(handle="someone"), created_at=_AT)


def corrections(rows: Iterable[dict], signal: str) -> list[learn.Correction]:
    out = []
    for i, row in enumerate(rows):
        label = gold_label(signal, row)
        if label is not None:
            out.append(learn.Correction(signal=signal, label=label, text=str(row["text"] or ""),
                                        key=str(row.get("id", i))))
    return out


def learn_model(enricher: Enricher, signal: str, rows: Sequence[dict],
                now: datetime | None = None) -> learn.SignalModel | learn.ModelCard:
    """Feed labelled rows as corrections; the model if it beat the rules on held-back rows."""
    def enrich(text: str) -> Signals:
        return enricher.enrich(mention(text))

    def current(_text: str, signals: Signals) -> str:
        return learn.rule_label(signal, signals)

    return learn.train_and_compare(signal, corrections(rows, signal), enrich, current,
                                   "shipped rules", version=1, now=now or datetime.now(UTC))


def _vader_labels(texts: Sequence[str], signal: str) -> tuple[list[str], float]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser = SentimentIntensityAnalyzer()
    started = time.process_time()
    compounds = [analyser.polarity_scores(t)["compound"] for t in texts]
    elapsed = time.process_time() - started
    labels = ["negative" if c <= -0.05 else "positive" if c >= 0.05 else "neutral"
              for c in compounds]
    if signal == "complaint":
        labels = ["complaint" if lab == "negative" else "not_complaint" for lab in labels]
    return labels, len(texts) / elapsed if elapsed > 0 else 0.0


def evaluate(rows: Sequence[dict], signal: str, *, learn_from: Sequence[dict] | None = None,
             enricher: Enricher | None = None, file: str = "", learn_file: str = "") -> dict:
    if signal not in SIGNALS:
        raise ValueError(f"unknown signal {signal!r}; one of {', '.join(SIGNALS)} (or crisis)")
    enricher = enricher or Enricher()
    skipped = 0
    gold, texts = [], []
    for row in rows:
        label = gold_label(signal, row)
        if label is None:
            skipped += 1
            continue
        gold.append(label)
        texts.append(str(row["text"] or ""))
    report: dict = {"file": file, "signal": signal, "rows": len(gold),
                    "skipped_rows": skipped}
    mentions = [mention(t, i) for i, t in enumerate(texts)]
    for m in mentions[:200]:  # warm caches (language model, lexicons) outside the timing
        enricher.enrich(m)
    signals, rate = _timed(enricher, mentions)
    rules = [predicted(signal, s) for s in signals]
    report["ours"] = {**learn.metrics(gold, rules, _labels(signal)),
                      "mentions_per_s": rate}
    if signal in ("sentiment", "complaint") and texts:
        vader, rate = _vader_labels(texts, signal)
        report["vader"] = {**learn.metrics(gold, vader, learn.SIGNALS[signal]),
                           "mentions_per_s": round(rate)}
    if learn_from is not None:
        started = time.process_time()
        result = learn_model(enricher, signal, learn_from)
        models = {signal: result} if isinstance(result, learn.SignalModel) else {}
        if signal == "severity" and models:
            complaint = learn_model(enricher, "complaint", learn_from)
            if isinstance(complaint, learn.SignalModel):
                models = {"complaint": complaint, **models}
                report["learning_complaint"] = _card_dict(complaint.card)
        train_s = time.process_time() - started
        card = result.card if isinstance(result, learn.SignalModel) else result
        report["learning"] = {"file": learn_file, "seconds": round(train_s, 1),
                              "card": _card_dict(card)}
        if isinstance(result, learn.SignalModel):
            after, rate, wall = _timed_learned(enricher, models, mentions)
            report["learned"] = {
                **learn.metrics(gold, [predicted(signal, s) for s in after], _labels(signal)),
                "mentions_per_s": rate, "wall_mentions_per_s": wall,
                "features": result.card.features}
    return report


def _timed_learned(enricher: Enricher, models: dict[str, learn.SignalModel],
                   mentions: Sequence[Mention]) -> tuple[list[Signals], int | None, int | None]:
    """The learned path as a batch: the rules' signals, then `apply_models_many` (which embeds
    every text in one call when a model reads sentence vectors). Mentions/s in CPU time (all
    threads: the encoder's matrix products use every core) and in wall time; one timed pass
    from a cold vector memo when vectors are involved (a second pass would only read the
    memo), else the median of three like the rules."""
    texts = [m.text for m in mentions]
    dense = any(m.needs_vectors for m in models.values())
    warm = mentions[:16] if dense else mentions[:200]
    learn.apply_models_many(models, [m.text for m in warm], [enricher.enrich(m) for m in warm])
    learn.dense._VECTORS.clear()
    rates, walls, out = [], [], []
    for _ in range(1 if dense else 3):
        started, wall = time.process_time(), time.perf_counter()
        out = learn.apply_models_many(models, texts, [enricher.enrich(m) for m in mentions])
        elapsed, wall = time.process_time() - started, time.perf_counter() - wall
        if elapsed > 0:
            rates.append(len(mentions) / elapsed)
            walls.append(len(mentions) / wall)
    if not rates:
        return out, None, None
    return out, round(statistics.median(rates)), round(statistics.median(walls))


def _timed(enricher: Enricher, mentions: Sequence[Mention], passes: int = 3
           ) -> tuple[list[Signals], int | None]:
    """Every mention's signals, and mentions/s as the median of `passes` timed passes (CPU time
    of this process, like the bench: one pass on a shared machine is noisy)."""
    rates = []
    out: list[Signals] = []
    for _ in range(passes):
        started = time.process_time()
        out = [enricher.enrich(m) for m in mentions]
        elapsed = time.process_time() - started
        if elapsed > 0:
            rates.append(len(mentions) / elapsed)
    return out, round(statistics.median(rates)) if rates else None


def _card_dict(card: learn.ModelCard) -> dict:
    import msgspec

    return msgspec.to_builtins(card)


def evaluate_file(path: Path, signal: str, learn_from: Path | None = None) -> dict:
    rows, bad = read_rows(path)
    dev = read_rows(learn_from)[0] if learn_from else None
    report = evaluate(rows, signal, learn_from=dev, file=str(path),
                      learn_file=str(learn_from or ""))
    report["unreadable_lines"] = bad
    return report


# --- output ---------------------------------------------------------------------------------------

def render(report: dict, console: Console) -> None:
    console.print(f"[bold]{report['signal']}[/] on {report['file'] or 'rows'}: "
                  f"{report['rows']:,} labelled rows"
                  + (f", {report['skipped_rows']:,} skipped (label not a {report['signal']} "
                     "label)" if report.get("skipped_rows") else "")
                  + (f", {report['unreadable_lines']:,} unreadable lines"
                     if report.get("unreadable_lines") else ""))
    table = Table(title="scores (same rows, same run)")
    for col in ("model", "macro-recall", "macro-F1", "accuracy", "mentions/s"):
        table.add_column(col, justify="right" if col != "model" else "left")
    names = {"ours": "Escape Velocity (shipped)", "learned": "after learning",
             "vader": "vaderSentiment" + (" (negative = complaint)"
                                          if report["signal"] == "complaint" else "")}
    for key in ("ours", "learned", "vader"):
        m = report.get(key)
        if m:
            rate = m.get("mentions_per_s")
            table.add_row(names[key], f"{m['macro_recall']:.3f}", f"{m['macro_f1']:.3f}",
                          f"{m['accuracy']:.3f}", f"{rate:,}" if rate else "–")
    console.print(table)
    for key in ("ours", "learned"):
        m = report.get(key)
        if not m or not m.get("confusion"):
            continue
        conf = m["confusion"]
        labels = list(conf)
        t = Table(title=f"confusion, {names[key]} (rows: gold, columns: predicted)")
        t.add_column("gold \\ predicted")
        for lab in labels:
            t.add_column(lab, justify="right")
        for g in labels:
            t.add_row(g, *(str(conf[g].get(p, 0)) for p in labels))
        console.print(t)
    learning = report.get("learning")
    if learning:
        card = learning["card"]
        console.print(f"learning from {learning['file']}: {card['corrections']:,} corrections, "
                      f"{card.get('held_back', 0):,} held back, {learning['seconds']} s — "
                      f"{card.get('note', '')}")
