"""Learning from the team: corrections are events, models and their cards are documents.

- `record_correction` appends a CORRECTED event to the case's stream (the log is the record);
- `retrain` reads every correction from the log, trains a candidate per signal and promotes
  it (document "model:<signal>") only if it beats the model in use (or the shipped rules) on
  the workspace's own held-back corrections; every attempt's card is kept in "model_cards";
- `load_models` gives the promoted models to the enricher.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

import msgspec

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev
from escapevelocity.domain import learn, rollups
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.events import Event
from escapevelocity.domain.records import Author, Mention, Signals

log = logging.getLogger(__name__)
CARDS = "model_cards"
MAX_CARDS = 50  # attempts kept per workspace, newest last


def record_correction(store: SqlStore, *, case_id: str, signal: str, label: str, text: str,
                      actor: str, at: datetime, was: str = "", mention_key: str = "") -> Event:
    if signal not in learn.SIGNALS:
        raise ValueError(f"unknown signal {signal!r}; one of {', '.join(learn.SIGNALS)}")
    if label not in learn.SIGNALS[signal]:
        raise ValueError(f"{signal}: label must be one of {', '.join(learn.SIGNALS[signal])}")
    event = ev.Corrected(stream=case_id, at=at, actor=actor, signal=signal, label=label,
                         was=was, text=text[:10_000], mention=mention_key)
    with store.begin() as tx:
        tx.events.append([event])
    return event


# A corrected situation teaches the model of the signal it implies.
_SITUATION_TEACHES = {"complaint": ("complaint", "complaint"), "spam": ("spam", "spam"),
                      "off_topic": ("relevance", "irrelevant")}


def learned_label(signal: str, label: str) -> tuple[str | None, str]:
    """(model signal, label) a correction teaches, or (None, "") when no model learns it."""
    if signal in learn.SIGNALS:
        return signal, label
    if signal == "situation":
        return _SITUATION_TEACHES.get(label, ("relevance", "relevant"))
    return None, ""


def corrections(store: SqlStore) -> list[learn.Correction]:
    out: list[learn.Correction] = []
    seq = 0
    with store.begin() as tx:
        while True:  # corrections only, through ix_events_kind: not a scan of the whole log
            batch = tx.events.of_kind(ev.CORRECTED, after=seq, limit=2000)
            if not batch:
                break
            for e in batch:
                if not isinstance(e, ev.Corrected):
                    continue
                signal, label = learned_label(e.signal, e.label)
                if signal is None:  # author class, track, priority: no model learns them
                    continue
                out.append(learn.Correction(
                    signal=signal, label=label, text=e.text,
                    key=e.mention or f"{e.stream}:{e.seq}",
                    rule_label=(e.was or "") if signal == e.signal else ""))
            seq = batch[-1].seq or seq
            if len(batch) < 2000:
                break
    return out


def with_implied(corrections: list[learn.Correction]) -> list[learn.Correction]:
    """The corrections a model learns from: the team's own, plus "complaint" for every mention
    whose complaint severity was set and whose complaint label was not (a member who sets a
    severity has said it is a complaint)."""
    said = {c.key for c in corrections if c.signal == "complaint"}
    implied = [learn.Correction(signal="complaint", label="complaint", text=c.text, key=c.key)
               for c in corrections if c.signal == "severity" and c.key not in said]
    return corrections + list({c.key: c for c in implied}.values())


def correction_counts(store: SqlStore) -> dict[str, dict[str, int]]:
    """Corrections by signal and label, from the rollup kept as they are appended."""
    with store.begin() as tx:
        return rollups.pairs(tx.events.rollup(rollups.CORRECTIONS))


def load_models(store: SqlStore) -> dict[str, learn.SignalModel]:
    """The promoted models. With none there is nothing to import: a base install (no `learn`
    extra) triages by the rules. With models but without the extra the rules answer too, and
    the log says why, once per load."""
    models = {}
    with store.begin() as tx:
        bodies = {s: tx.documents.get(f"model:{s}") for s in learn.SIGNALS}
    for signal, body in bodies.items():
        if body:
            try:
                models[signal] = learn.loads(body)
            except learn.LearnExtraMissing as exc:
                log.warning("learned models not used, the rules answer: %s", exc)
                return {}
            except (ValueError, msgspec.DecodeError):
                continue  # a damaged model is ignored: the rules still answer
    return models


def cards(store: SqlStore) -> list[dict]:
    with store.begin() as tx:
        body = tx.documents.get(CARDS)
    return json.loads(body) if body else []


def retrain(store: SqlStore, now: datetime, enricher: Enricher | None = None,
            signals: tuple[str, ...] | None = None) -> list[learn.ModelCard]:
    """Train every signal with corrections; promote a model only when it wins on held back."""
    base = enricher or Enricher()
    rules = Enricher(base.vocabulary)  # the shipped rules alone, for the features
    current = load_models(store)
    every = with_implied(corrections(store))
    out: list[learn.ModelCard] = []
    for signal in signals or tuple(learn.SIGNALS):
        if not any(c.signal == signal for c in every):
            continue
        model = current.get(signal)
        version = (model.card.version if model else 0) + 1

        def enrich(text: str) -> Signals:
            return rules.enrich(_mention(text))

        if model is not None:
            def predict(text: str, s: Signals, m: learn.SignalModel = model) -> str:
                return m.predict(text, s)[0]
            name = f"model v{model.card.version}"
        else:
            def predict(text: str, s: Signals, sig: str = signal) -> str:
                return learn.rule_label(sig, s)
            name = "shipped rules"
        result = learn.train_and_compare(signal, every, enrich, predict, name, version, now)
        card = result.card if isinstance(result, learn.SignalModel) else result
        with store.begin() as tx:
            if isinstance(result, learn.SignalModel):
                tx.documents.put(f"model:{signal}", learn.dumps(result), now)
            history = json.loads(tx.documents.get(CARDS) or "[]")
            history.append(msgspec.to_builtins(card))
            tx.documents.put(CARDS, json.dumps(history[-MAX_CARDS:], default=str), now)
        out.append(card)
    return out


def _mention(text: str) -> Mention:
    return Mention(source_id="learn", channel="web", text=text, author=Author(handle="someone"),
                   created_at=datetime(2026, 1, 1))
