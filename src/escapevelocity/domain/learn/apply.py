"""Learned models' answers in place of the rules' ones, for one mention or a batch (one
embedding call and one gather for the whole batch)."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import numpy as np

from escapevelocity.domain.learn import dense
from escapevelocity.domain.learn.hashing import feature_ids
from escapevelocity.domain.learn.model import SEVERITY_LEVELS, SignalModel
from escapevelocity.domain.records import Signals


def apply_models(models: dict[str, SignalModel], text: str, signals: Signals) -> Signals:
    """`apply_models_many` for one mention."""
    return apply_models_many(models, [text], [signals])[0]


def apply_models_many(models: dict[str, SignalModel], texts: Sequence[str],
                      signals_list: Sequence[Signals], defer_vectors: bool = False
                      ) -> list[Signals]:
    """Signals with each learned model's answer in place of the rules' one, with confidence and
    a "because" naming the model, for a batch: the sentence vectors of all the texts come from
    one batched call (only when some model has a dense part) and each model scores the whole
    batch in one gather. `defer_vectors`: no vectors now (the ingest path): dense models
    answer from their words and the signals are provisional until the refine job reads the
    vectors."""
    if len(texts) != len(signals_list):
        raise ValueError(f"{len(texts)} texts but {len(signals_list)} signals")
    if not texts:
        return []
    batches: dict[tuple[int, ...], np.ndarray | None] = {}
    for layers in {m.dense_layers for m in models.values() if m.needs_vectors}:
        batches[layers] = None if defer_vectors else dense.vectors(texts, layers)
    read = {layers for layers, v in batches.items() if v is not None}
    ids = [feature_ids(t, s) for t, s in zip(texts, signals_list, strict=True)]
    scored = [(signal, m, m._compiled().scores_many(
                  ids, batches.get(m.dense_layers) if m.needs_vectors else None))
              for signal, m in models.items()]
    return [_answered(models, signals, {signal: m.label_of(s[i]) for signal, m, s in scored},
                      read, defer_vectors)
            for i, signals in enumerate(signals_list)]


def _answered(models: dict[str, SignalModel], signals: Signals,
              answers: dict[str, tuple[str, float]], read: set[tuple[int, ...]],
              deferred: bool) -> Signals:
    """One mention's signals with the models' (label, probability) `answers` in place of the
    rules' ones; `read`: the layer sets whose sentence vectors were computed."""
    situations = list(signals.situations or (signals.situation,))
    confidence, because = dict(signals.confidence), dict(signals.because)
    label_out, score = signals.sentiment_label, signals.sentiment
    severity = signals.severity

    def answer(signal: str, model: SignalModel) -> tuple[str, float, str]:
        label, p = answers[signal]
        why = f"learned v{model.card.version} from {model.card.trained_on} corrections ({p:.0%})"
        if model.needs_vectors and model.dense_layers not in read:
            why += ("; words for now, its sentence vectors to follow" if deferred
                    else "; words only, the embed extra is not installed")
        return label, p, why

    for signal, model in models.items():
        if signal == "severity":
            continue  # below, once the complaint model has said whether it is a complaint
        label, p, why = answer(signal, model)
        confidence[signal] = round(p, 2)
        if signal == "sentiment":
            if label != label_out:
                label_out = label
                # keep the score's sign consistent with the label the inbox shows
                score = {"negative": -abs(score) or -0.3, "positive": abs(score) or 0.3,
                         "neutral": 0.0}.get(label, score)
            because["sentiment"] = f"{label}: {why}"
            continue
        name = {"complaint": "complaint", "spam": "spam", "relevance": "off_topic"}[signal]
        wanted = label in ("complaint", "spam", "irrelevant")
        if wanted and name not in situations:
            weak = situations[0] in ("venting", "off_topic", "other") if situations else True
            situations.insert(0 if signal == "spam" or weak else 1, name)
        elif not wanted and name in situations:
            situations.remove(name)
        because[signal] = f"{label}: {why}"
    if not situations:
        situations = ["other"]
    if "complaint" not in situations:
        severity = ""
        because.pop("severity", None)
    elif "severity" in models:
        severity, p, why = answer("severity", models["severity"])
        confidence["severity"] = round(p, 2)
        because["severity"] = f"{severity.replace('_', ' ')}: {why}"
    elif not severity:  # the complaint model found a complaint the rules did not
        severity = SEVERITY_LEVELS[0]
        because["severity"] = "no explicit reproach: no cue read (a complaint by the model)"
    primary = situations[0]
    provisional = deferred and any(m.needs_vectors for m in models.values())
    return msgspec.structs.replace(signals, sentiment=score, sentiment_label=label_out,
                                   situation=primary, situations=tuple(situations),
                                   severity=severity, confidence=confidence, because=because,
                                   provisional=provisional)
