"""A learned model of one signal, its card, the corrections it learns from, and its storage
form; `_Compiled` lays a model out for predicting one mention at a time or a batch."""

from __future__ import annotations

import base64
import math
import weakref
import zlib
from collections.abc import Sequence

import msgspec
import numpy as np

from escapevelocity.domain.learn import dense
from escapevelocity.domain.learn.hashing import DIM, distinct, feature_ids
from escapevelocity.domain.learn.labels import (  # noqa: F401  (callers import them from here too)
    DENSE_SHARE,
    HELD_BACK,
    MIN_CORRECTIONS,
    SEVERITY_LEVELS,
    SIGNALS,
    WORDS,
    WORDS_AND_VECTORS,
    Correction,
    ModelCard,
    rule_label,
)
from escapevelocity.domain.records import Signals


class SignalModel(msgspec.Struct, frozen=True, weakref=True):
    """Sparse hashed logistic regression: weights[label][feature] over DIM features, plus,
    when fitted with sentence vectors, dense weights over the vector's dimensions. Models
    stored before the dense part existed have none (the defaults)."""

    signal: str
    labels: tuple[str, ...]
    index: bytes  # sorted feature ids (uint32), shared by all labels
    weights: bytes  # float32, len(labels) x len(index) (one row for binary signals)
    bias: tuple[float, ...]
    card: ModelCard
    dense: bytes = b""  # float32, one row per weight row x the vector's dimensions
    dense_layers: tuple[int, ...] = ()  # the `embedding.embed` layers the vectors come from

    @property
    def needs_vectors(self) -> bool:
        return bool(self.dense)

    def _compiled(self) -> _Compiled:
        cached = _COMPILED.get(id(self))
        if cached is None or cached.model() is not self:
            cached = _COMPILED[id(self)] = _Compiled(self)
            # the table goes with the model (a retrained model replaces it)
            weakref.finalize(self, _COMPILED.pop, id(self), None)
        return cached

    def scores(self, feats: Sequence[int]) -> list[float]:
        """One score per weight row: the sum of the weights of the distinct feature ids,
        scaled by 1/sqrt(their number) (rows were L2-normalised binary presence when fitted),
        plus the row's bias."""
        return self._compiled().scores(distinct(feats))

    def predict(self, text: str, signals: Signals) -> tuple[str, float]:
        """(label, probability of that label). One mention: its vector, when the model has a
        dense part, comes from the per-text memo or a pass of its own (see `predict_many`)."""
        vec = None
        if self.needs_vectors:
            got = dense.vectors([text], self.dense_layers)
            vec = None if got is None else got[0]
        return self.predict_ids(feature_ids(text, signals), vec)

    def predict_ids(self, ids: np.ndarray, vector: np.ndarray | None = None
                    ) -> tuple[str, float]:
        """`predict` on a mention's `feature_ids`, computed once for every model, and its
        sentence vector (ignored by a words-only model; without one, a dense model scores on
        its words alone)."""
        return self.label_of(self._compiled().scores(ids, vector))

    def label_of(self, s: Sequence[float]) -> tuple[str, float]:
        """(label, probability) from one score per weight row."""
        if len(self.labels) == 2 and len(s) == 1:
            x = s[0]
            # the logistic, without overflow for very confident scores
            p1 = 1.0 / (1.0 + math.exp(-x)) if x >= 0 else 1.0 - 1.0 / (1.0 + math.exp(x))
            return (self.labels[1], p1) if p1 >= 0.5 else (self.labels[0], 1 - p1)
        top = max(s)
        e = [math.exp(v - top) for v in s]
        k = e.index(max(e))
        return self.labels[k], e[k] / sum(e)


class _Compiled:
    """A model laid out for predicting one mention at a time: the weights as one dense
    float32 table over the whole hashed space, a feature's weights for every label side by
    side (4 MB per label), so a mention's scores are one gather over its ~200 distinct ids:
    no search of the sparse index, no per-call vectors the size of the model."""

    __slots__ = ("bias", "dense", "model", "table")

    def __init__(self, model: SignalModel) -> None:
        idx = np.frombuffer(model.index, dtype=np.uint32)
        w = np.frombuffer(model.weights, dtype=np.float32).reshape(-1, len(idx))
        self.model = weakref.ref(model)
        self.table = np.zeros((DIM, w.shape[0]), dtype=np.float32)
        self.table[idx] = w.T
        self.bias = tuple(float(b) for b in model.bias)
        self.dense = (np.frombuffer(model.dense, dtype=np.float32).reshape(w.shape[0], -1)
                      if model.dense else None)

    def scores(self, ids: np.ndarray, vector: np.ndarray | None = None) -> list[float]:
        n = len(ids)
        if n > len(_ONES):
            total = self.table.take(ids, axis=0).sum(axis=0)
        else:  # a sum over rows as a product with ones: the quickest gather-and-add
            total = _ONES[:n] @ self.table.take(ids, axis=0)
        norm = 1.0 / math.sqrt(max(n, 1))
        out = [t * norm + b for t, b in zip(total.tolist(), self.bias, strict=True)]
        if self.dense is not None and vector is not None:
            out = [o + d for o, d in zip(out, (self.dense @ vector).tolist(), strict=True)]
        return out


    def scores_many(self, ids: Sequence[np.ndarray], vectors: np.ndarray | None = None
                    ) -> list[list[float]]:
        """`scores` for a batch: one gather over every mention's ids and one sum per mention
        (np.add.reduceat), instead of a few small numpy calls per mention. Every id list holds
        at least the rules' bias feature, so no mention's slice is empty."""
        lengths = np.fromiter((len(i) for i in ids), dtype=np.intp, count=len(ids))
        starts = np.zeros(len(ids), dtype=np.intp)
        np.cumsum(lengths[:-1], out=starts[1:])
        gathered = self.table.take(np.concatenate(ids), axis=0)
        total = np.add.reduceat(gathered, starts, axis=0, dtype=np.float64)
        total *= (1.0 / np.sqrt(np.maximum(lengths, 1)))[:, None]
        total += np.asarray(self.bias)
        if self.dense is not None and vectors is not None:
            total += vectors @ self.dense.T
        return total.tolist()


_ONES = np.ones(4096, dtype=np.float32)
_COMPILED: dict[int, _Compiled] = {}


def dumps(model: SignalModel) -> str:
    """Text for the documents table: JSON with the arrays zlib-compressed and base64-encoded."""
    raw = msgspec.json.encode(model)
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def loads(body: str) -> SignalModel:
    return msgspec.json.decode(zlib.decompress(base64.b64decode(body)), type=SignalModel)
