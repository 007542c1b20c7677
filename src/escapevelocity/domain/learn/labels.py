"""What learning is about, without the learning stack: the signals and their labels, a
correction, a model's card, what the shipped rules say in a signal's labels, and the measures
(`metrics`, `held_back`). Nothing here needs numpy, so the inbox, the case page and
`ev eval` work in a base install; fitting and applying models (numpy, scikit-learn) live in
`model`, `train` and `apply`, loaded only where learning runs."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from datetime import datetime

import msgspec

from escapevelocity.domain.records import Signals
from escapevelocity.domain.severity import LEVELS as SEVERITY_LEVELS

SIGNALS = {  # signal -> labels it takes; the first is what the rules say when they say nothing
    "sentiment": ("neutral", "negative", "positive"),
    "complaint": ("not_complaint", "complaint"),
    "spam": ("ham", "spam"),
    "relevance": ("relevant", "irrelevant"),
    # How hard a complaint is; a model for it answers only for mentions that are complaints
    # (after the complaint model, when there is one).
    "severity": SEVERITY_LEVELS,
}
DENSE_SHARE = 0.5  # the vectors' regression's share of a model's scores (the words': the rest)
HELD_BACK = 0.2  # share of corrections kept out of training to compare models
MIN_CORRECTIONS = 20  # below this a model is not trained (nothing to compare on)


class Correction(msgspec.Struct, frozen=True):
    """One correction by a member: this mention's `signal` should have been `label`."""

    signal: str
    label: str
    text: str
    key: str = ""  # mention key, when it came from the inbox
    rule_label: str = ""  # what the rules (or the model then in use) said


class ModelCard(msgspec.Struct, frozen=True, omit_defaults=True):
    signal: str
    version: int
    trained_at: datetime
    corrections: int  # all corrections for this signal when trained
    trained_on: int  # rows the promoted weights were fitted on
    held_back: int  # rows used to compare candidate and current
    labels: tuple[str, ...]
    metrics: dict[str, float] = {}  # candidate's macro_f1, accuracy, macro_recall on held back
    baseline: dict[str, float] = {}  # the model it was compared with, same rows
    baseline_name: str = ""
    promoted: bool = False
    note: str = ""
    features: str = ""  # what the model reads: WORDS or WORDS_AND_VECTORS


WORDS = "words only (embed extra not installed)"
WORDS_AND_VECTORS = "words + MiniLM embeddings"


def rule_label(signal: str, signals: Signals) -> str:
    """What the shipped rules say for `signal`, in that signal's labels."""
    if signal == "sentiment":
        return signals.sentiment_label
    if signal == "complaint":
        return "complaint" if "complaint" in signals.situations else "not_complaint"
    if signal == "spam":
        return "spam" if "spam" in signals.situations else "ham"
    if signal == "relevance":
        return ("irrelevant" if {"off_topic", "spam"} & set(signals.situations)
                else "relevant")
    if signal == "severity":  # a post the rules did not take for a complaint: the mildest
        return signals.severity or SEVERITY_LEVELS[0]
    raise ValueError(f"unknown signal {signal!r}; known: {', '.join(SIGNALS)}")



def metrics(gold: Sequence[str], pred: Sequence[str], labels: Iterable[str] | None = None) -> dict:
    """Macro recall, macro F1, accuracy and a confusion matrix {gold: {pred: n}}."""
    names = list(dict.fromkeys([*(labels or ()), *sorted(set(gold))]))
    conf = {g: dict.fromkeys(names, 0) for g in names}
    for g, p in zip(gold, pred, strict=True):
        conf.setdefault(g, dict.fromkeys(names, 0))
        conf[g][p] = conf[g].get(p, 0) + 1
    recalls, f1s = [], []
    present = [n for n in names if any(g == n for g in gold)]
    for n in present:
        tp = conf[n].get(n, 0)
        support = sum(conf[n].values())
        predicted = sum(row.get(n, 0) for row in conf.values())
        r = tp / support if support else 0.0
        p = tp / predicted if predicted else 0.0
        recalls.append(r)
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    total = len(gold)
    return {"macro_recall": round(sum(recalls) / len(recalls), 4) if recalls else 0.0,
            "macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
            "accuracy": round(sum(conf[g].get(g, 0) for g in conf) / total, 4) if total else 0.0,
            "n": total, "confusion": conf}


def held_back(key: str) -> bool:
    """A stable ~20% of corrections, by key, so the same ones are held back on every retrain."""
    return (zlib.crc32(key.encode("utf-8", "replace")) % 1000) < HELD_BACK * 1000
