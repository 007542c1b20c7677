"""Small per-signal models that learn from the team's corrections.

A model maps a mention's text plus what the shipped rules already said about it (sentiment
label and score band, situations, matched phrases) to one label of one signal. Features are
hashed (words, word pairs, character 3-5-grams inside words, and the rule outputs), so a model
is a sparse weight table plus a bias per label: small enough to keep as a document, and
predicting needs nothing but numpy. Prediction is on the enrichment hot path, so a token's
hashed ids are memoised, a mention's features are computed once for every model, and a
model is unpacked once into a dense table (`_Compiled`). Training uses scikit-learn's logistic
regression (the optional `learn` extra); nothing here reads or writes storage.

With the optional `embed` extra a model also has a dense part: weights over MiniLM sentence
vectors (`embedding.embed`, middle and last layers), fitted as a second regression and
averaged with the words' one. Words catch the exact phrases a workspace sees; the vectors
catch the same complaint said in other words. Computing a vector is a transformer pass, far
too slow for one mention at a time on the hot path, so `apply_models_many` embeds a whole
batch in one call, and vectors are remembered per text (`vectors`) so one train or eval run
embeds nothing twice. Without the extra, learning falls back to words only and says so on the card.

A new model replaces the current one only if it beats it on corrections held back from its
training (`train_and_compare`); the card records data size, both scores, version and time.

The pieces: `labels` (the signals, a correction, a card, the rules' own answer, the
measures: no numpy), `model` (SignalModel and its storage form), `hashing` (hashed ids),
`dense` (sentence vectors and their memo), `train` (fit, compare, promote) and `apply`
(answers in place of the rules'). Callers import from here.

numpy and scikit-learn are the optional `learn` extra, and this package sits under the
inbox, the case page and the worker of a base install. So `labels` is imported at once and
everything else on first use (PEP 562 `__getattr__`): a base install works until something
actually learns or applies a model, which then raises `LearnExtraMissing` (a RuntimeError,
what the callers that train already catch) naming the extra to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from escapevelocity.domain.learn.labels import (
    DENSE_SHARE,
    HELD_BACK,
    MIN_CORRECTIONS,
    SIGNALS,
    WORDS,
    WORDS_AND_VECTORS,
    Correction,
    ModelCard,
    held_back,
    metrics,
    rule_label,
)

if TYPE_CHECKING:
    from escapevelocity.domain.learn.apply import apply_models, apply_models_many
    from escapevelocity.domain.learn.dense import DENSE_LAYERS, vectors
    from escapevelocity.domain.learn.hashing import DIM, _h, distinct, feature_ids, features, tokens
    from escapevelocity.domain.learn.model import SignalModel, dumps, loads
    from escapevelocity.domain.learn.train import fit, train_and_compare


class LearnExtraMissing(RuntimeError):
    """Learning or a learned model was asked for in an install without the `learn` extra."""


_LAZY = {  # name -> the submodule that defines it (each imports numpy)
    "apply_models": "apply", "apply_models_many": "apply",
    "DENSE_LAYERS": "dense", "vectors": "dense",
    "DIM": "hashing", "_h": "hashing", "distinct": "hashing", "feature_ids": "hashing",
    "features": "hashing", "tokens": "hashing",
    "SignalModel": "model", "dumps": "model", "loads": "model",
    "fit": "train", "train_and_compare": "train",
}
_SUBMODULES = {"apply", "dense", "hashing", "model", "train"}


def __getattr__(name: str):
    if name not in _LAZY and name not in _SUBMODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{_LAZY.get(name, name)}")
    except ModuleNotFoundError as exc:
        if exc.name != "numpy":
            raise
        raise LearnExtraMissing(
            "learning needs the learn extra (numpy, scikit-learn): "
            "pip install 'escapevelocity[learn]'") from exc
    value = module if name in _SUBMODULES else getattr(module, name)
    globals()[name] = value
    return value


__all__ = ["DENSE_LAYERS", "DENSE_SHARE", "DIM", "HELD_BACK", "MIN_CORRECTIONS", "SIGNALS",
           "WORDS", "WORDS_AND_VECTORS", "Correction", "LearnExtraMissing", "ModelCard",
           "SignalModel", "_h", "apply_models", "apply_models_many", "distinct", "dumps",
           "feature_ids", "features", "fit", "held_back", "loads", "metrics", "rule_label",
           "tokens", "train_and_compare", "vectors"]
