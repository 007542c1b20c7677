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
"""

from __future__ import annotations

import base64
import itertools
import math
import re
import weakref
import zlib
from array import array
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from operator import itemgetter

import msgspec
import numpy as np

from escapevelocity.domain.records import Signals
from escapevelocity.domain.severity import LEVELS as SEVERITY_LEVELS

DIM = 1 << 20  # hashed feature space
SIGNALS = {  # signal -> labels it takes; the first is what the rules say when they say nothing
    "sentiment": ("neutral", "negative", "positive"),
    "complaint": ("not_complaint", "complaint"),
    "spam": ("ham", "spam"),
    "relevance": ("relevant", "irrelevant"),
    # How hard a complaint is; a model for it answers only for mentions that are complaints
    # (after the complaint model, when there is one).
    "severity": SEVERITY_LEVELS,
}
DENSE_LAYERS = (2, 4, 6)  # MiniLM layers whose mean-pooled outputs a dense part reads
DENSE_SHARE = 0.5  # the vectors' regression's share of a model's scores (the words': the rest)
HELD_BACK = 0.2  # share of corrections kept out of training to compare models
MIN_CORRECTIONS = 20  # below this a model is not trained (nothing to compare on)

_TOKEN = re.compile(r"https?://\S+|www\.\S+|@\w+|#?[a-z][a-z'0-9]*|\d+|[!?]+|"
                    r"[:;=][-']?[()dp/\\|*]|[^\w\s]", re.UNICODE)


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
            got = vectors([text], self.dense_layers)
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


def distinct(feats: Sequence[int] | np.ndarray) -> np.ndarray:
    """The distinct ids of a feature list, sorted (what a model scores)."""
    return _sorted_distinct(np.array(feats, dtype=np.intp))


def feature_ids(text: str, signals: Signals | None = None) -> np.ndarray:
    """A mention's distinct feature ids: computed once, scored by every model."""
    return _sorted_distinct(_id_array(text, signals))


def _sorted_distinct(ids: np.ndarray) -> np.ndarray:
    """Sorts `ids` in place and keeps the first of each run."""
    if len(ids) < 2:
        return ids
    ids.sort()
    keep = np.empty(len(ids), dtype=bool)
    keep[0] = True
    np.not_equal(ids[1:], ids[:-1], out=keep[1:])
    return ids[keep]


# --- sentence vectors -------------------------------------------------------------------------

_VECTORS_MAX = 4096  # ~19 MB of 1152-dim vectors; a train run inserts its held-back rows last
_VECTORS: dict[tuple[tuple[int, ...], str], np.ndarray] = {}


def vectors(texts: Sequence[str], layers: Sequence[int] = DENSE_LAYERS) -> np.ndarray | None:
    """Sentence vectors for `texts`, in order (`embedding.embed` on `layers`), or None when the
    embed extra is not installed. Texts already seen come from a bounded memo; the rest, each
    distinct text once, go through the encoder in one batched call."""
    from escapevelocity.domain import embedding

    layers = tuple(layers)
    missing = list(dict.fromkeys(t for t in texts if (layers, t) not in _VECTORS))
    if missing:
        try:
            fresh = embedding.embed(missing, layers)
        except RuntimeError:  # the embed extra is missing: words only
            return None
        for t, v in zip(missing, fresh, strict=True):
            _remember(_VECTORS, (layers, t), v, _VECTORS_MAX)
    if not texts:
        return np.zeros((0, embedding.DIMS * len(layers)), dtype=np.float32)
    hits = [_VECTORS.get((layers, t)) for t in texts]
    if any(h is None for h in hits):  # more new texts than the memo holds: embed them again
        return embedding.embed(list(texts), layers)
    return np.stack(hits)


# --- features -----------------------------------------------------------------------------------

def _h(s: str) -> int:
    return zlib.crc32(s.encode("utf-8", "replace")) & (DIM - 1)


def _canonical(t: str) -> str:
    if t.startswith(("http", "www.")):
        return "<url>"
    if t[0] == "@":
        return "<user>"
    if t.isdigit():
        return "<num>"
    return t


def tokens(text: str) -> list[str]:
    return [_canonical(t) for t in _TOKEN.findall(text.lower()[:5000])]


def features(text: str, signals: Signals | None = None) -> list[int]:
    """Hashed feature ids: words, word pairs, char 3-5-grams of words, and the rule outputs."""
    return _id_array(text, signals).tolist()


def _id_array(text: str, signals: Signals | None) -> np.ndarray:
    """`features` (with repeats) from memoised parts: the per-mention hot path, where nothing
    is hashed for a token seen before and the loops run in C. A word pair's id needs no table:
    crc32 runs on, so crc32("b:{prev} {t}") is crc32(t, crc32("b:{prev} ")), and a token keeps
    its bytes and its crc32 state as the left of a pair."""
    raws = _TOKEN.findall((text or "").lower()[:5000])
    hits = list(map(_TOKEN_IDS.get, raws))
    if None in hits:
        hits = [h or _token_ids(r) for h, r in zip(hits, raws, strict=True)]
    words = list(map(_IDS, hits))
    if signals is not None:
        words.append(_rule_ids(signals))
    rights = list(map(_BYTES, hits))
    rights.append(b"</s>")
    lefts = [_START]
    lefts += map(_STATE, hits)
    words.append(array("I", map(zlib.crc32, rights, lefts)).tobytes())
    ids = np.frombuffer(b"".join(words), dtype=np.uint32) & np.uint32(DIM - 1)
    return ids


# Hashing every char n-gram of every word is most of the cost of features, and words repeat:
# memoise, per raw token, its ids (its word and its char 3-5-grams, packed int32), its
# canonical form's bytes and crc32 state as the left of a word pair; and the rule outputs' ids.
# Bounded: when a table is full its older half goes (typos and handles would otherwise grow it
# forever); URLs and numbers are never kept.
_CACHE_MAX = 100_000
_TOKEN_IDS: dict[str, tuple[bytes, bytes, int]] = {}
_RULE_IDS: dict[tuple, bytes] = {}
_IDS, _BYTES, _STATE = itemgetter(0), itemgetter(1), itemgetter(2)
_START = zlib.crc32(b"b:<s> ")
assert array("i").itemsize == array("I").itemsize == 4  # ids are packed as 32 bits
_C = zlib.crc32(b"c:")  # crc32 runs on: crc32(gram, crc32(b"c:")) == crc32(b"c:" + gram)


def _remember(table: dict, key, value, limit: int | None = None):
    limit = _CACHE_MAX if limit is None else limit  # read at call time (tests shrink it)
    if len(table) >= limit:
        for old in list(itertools.islice(table, len(table) - limit // 2)):
            del table[old]
    table[key] = value
    return value


def _word_ids(t: str) -> list[int]:
    out = [_h("w:" + t)]
    if len(t) >= 3 and t[0] != "<":
        if t.isascii():  # one byte a character: byte slices are the character n-grams
            w = f" {t} ".encode("ascii")
            crc, mask = zlib.crc32, DIM - 1
            out += [crc(w[i:i + n], _C) & mask for n in (3, 4, 5) for i in range(len(w) - n + 1)]
        else:
            w = f" {t} "
            out += [_h("c:" + w[i:i + n]) for n in (3, 4, 5) for i in range(len(w) - n + 1)]
    return out


def _token_ids(raw: str) -> tuple[bytes, bytes, int]:
    t = _canonical(raw)
    if t in _FIXED:  # URLs and numbers: one answer each, and too many to keep
        return _FIXED[t]
    return _remember(_TOKEN_IDS, raw, _hit(t))


def _hit(t: str) -> tuple[bytes, bytes, int]:
    enc = t.encode("utf-8", "replace")
    return array("i", _word_ids(t)).tobytes(), enc, zlib.crc32(b"b:" + enc + b" ")


_FIXED = {t: _hit(t) for t in ("<url>", "<num>")}


def _rule_ids(signals: Signals) -> bytes:
    band = max(-4, min(4, round(signals.sentiment * 4)))
    key = (signals.sentiment_label, band, signals.situations, signals.keywords)
    hit = _RULE_IDS.get(key)
    if hit is None:
        ids = [_h("r:label=" + signals.sentiment_label), _h(f"r:band={band}")]
        ids.extend(_h("r:sit=" + s) for s in signals.situations)
        ids.extend(_h("r:kw=" + k) for k in signals.keywords)
        ids.append(_h("r:bias"))
        hit = _remember(_RULE_IDS, key, array("i", ids).tobytes())
    return hit


# --- training -----------------------------------------------------------------------------------

def _matrix(rows: Sequence[list[int]]):
    """Rows of hashed ids as a CSR matrix over only the ids that occur (and those ids), each
    row L2-normalised binary presence."""
    from scipy.sparse import csr_matrix

    sets = [sorted(set(feats)) for feats in rows]
    used = np.unique(np.fromiter((i for ids in sets for i in ids), dtype=np.int64))
    indptr = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum([len(ids) for ids in sets], out=indptr[1:])
    cols = np.searchsorted(used, np.fromiter((i for ids in sets for i in ids), dtype=np.int64,
                                             count=int(indptr[-1])))
    data = np.repeat([1.0 / math.sqrt(max(len(ids), 1)) for ids in sets],
                     [len(ids) for ids in sets]).astype(np.float64)
    return csr_matrix((data, cols, indptr), shape=(len(sets), len(used))), used


def fit(signal: str, rows: Sequence[list[int]], labels: Sequence[str], card: ModelCard,
        c: float = 4.0, dense: np.ndarray | None = None,
        dense_layers: tuple[int, ...] = DENSE_LAYERS) -> SignalModel:
    """Logistic regression with balanced class weights over hashed features. With `dense`
    (one sentence vector per row, `vectors`) a second regression over the vectors alone, and
    the model's scores are the mean of the two: still one linear model (halved weights and
    biases), each part regularised on its own scale. Cross-validated on the development sets
    this beat one regression over words and vectors side by side (complaints 0.862 vs 0.856
    macro-F1, airline sentiment 0.793 vs 0.791, 5 folds)."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:  # pragma: no cover - the `learn` extra is missing
        raise RuntimeError("learning needs scikit-learn: pip install 'escapevelocity[learn]'"
                           ) from exc
    names = tuple(sorted(set(labels), key=_label_order(signal)))
    if len(names) < 2:
        raise ValueError(f"{signal}: corrections name only {names}; need two labels to learn")
    x, used = _matrix(rows)
    y = np.asarray([names.index(label) for label in labels])
    coef, biases = _one_vs_rest(LogisticRegression, x, y, len(names), c)
    dense_w = b""
    if dense is not None:
        d_coef, d_biases = _one_vs_rest(LogisticRegression, np.asarray(dense, np.float64), y,
                                        len(names), c)
        coef *= np.float32(1 - DENSE_SHARE)
        dense_w = np.ascontiguousarray(d_coef * np.float32(DENSE_SHARE)).tobytes()
        biases = [(1 - DENSE_SHARE) * b + DENSE_SHARE * d
                  for b, d in zip(biases, d_biases, strict=True)]
    keep = np.abs(coef).max(axis=0) > 1e-6
    kind = WORDS_AND_VECTORS if dense is not None else WORDS
    return SignalModel(signal=signal, labels=names, index=used[keep].astype(np.uint32).tobytes(),
                       weights=np.ascontiguousarray(coef[:, keep]).tobytes(),
                       bias=tuple(biases),
                       card=msgspec.structs.replace(card, labels=names, features=kind),
                       dense=dense_w, dense_layers=dense_layers if dense is not None else ())


def _one_vs_rest(regression, x, y: np.ndarray, n_labels: int, c: float
                 ) -> tuple[np.ndarray, list[float]]:
    """float32 weights (one row per label; one row for two labels) and biases.
    One-vs-rest liblinear: seconds on thousands of corrections, where multinomial lbfgs over a
    million hashed columns takes tens of seconds."""
    coefs, biases = [], []
    for k in ([1] if n_labels == 2 else range(n_labels)):
        clf = regression(C=c, class_weight="balanced", max_iter=3000, solver="liblinear")
        clf.fit(x, (y == k).astype(int))
        coefs.append(clf.coef_[0])
        biases.append(float(clf.intercept_[0]))
    return np.asarray(coefs, dtype=np.float32), biases


def _label_order(signal: str) -> Callable[[str], tuple[int, str]]:
    known = SIGNALS.get(signal, ())
    return lambda name: (known.index(name) if name in known else len(known), name)


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


Predictor = Callable[[str, Signals], str]
Vectors = Callable[[Sequence[str]], np.ndarray | None]


def train_and_compare(signal: str, corrections: Sequence[Correction],
                      enrich: Callable[[str], Signals], current: Predictor,
                      current_name: str, version: int, now: datetime,
                      vectors_for: Vectors | None = vectors) -> SignalModel | ModelCard:
    """Fit a candidate on the corrections not held back and score it against `current` on the
    held-back ones. If it wins, refit on all of them and return the model (promoted card);
    otherwise return the card that says why it was not promoted.

    `vectors_for` gives the rows' sentence vectors in batch (None, or a function returning
    None: words only). The held-back rows are embedded last, so they are still in the memo
    when `current` (a model with a dense part) predicts them one by one."""
    rows = [c for c in corrections if c.signal == signal and c.text is not None]
    # A correction repeated for the same mention: the last one counts.
    latest: dict[str, Correction] = {}
    for i, c in enumerate(rows):
        latest[c.key or f"#{i}"] = c
    rows = list(latest.values())
    keys = [c.key or c.text for c in rows]
    card = ModelCard(signal=signal, version=version, trained_at=now, corrections=len(rows),
                     trained_on=0, held_back=0, labels=(), baseline_name=current_name)
    if len(rows) < MIN_CORRECTIONS or len({c.label for c in rows}) < 2:
        return msgspec.structs.replace(
            card, note=f"not trained: {len(rows)} corrections over "
                       f"{len({c.label for c in rows})} label(s); need {MIN_CORRECTIONS} and two")
    sig = [enrich(c.text) for c in rows]
    feats = [features(c.text, s) for c, s in zip(rows, sig, strict=True)]
    test = [i for i, k in enumerate(keys) if held_back(k)]
    train = [i for i, k in enumerate(keys) if not held_back(k)]
    if not test or len({rows[i].label for i in train}) < 2:
        test, train = train[-max(1, len(train) // 5):], train[:-max(1, len(train) // 5)]
    vecs = _row_vectors(vectors_for, [c.text for c in rows], train, test)
    candidate = fit(signal, [feats[i] for i in train], [rows[i].label for i in train], card,
                    dense=None if vecs is None else vecs[train])
    gold = [rows[i].label for i in test]
    cand = metrics(gold, [candidate.predict_ids(distinct(feats[i]),
                                                None if vecs is None else vecs[i])[0]
                          for i in test])
    base = metrics(gold, [current(rows[i].text, sig[i]) for i in test])
    kind = candidate.card.features
    card = msgspec.structs.replace(
        card, held_back=len(test), metrics=_short(cand), baseline=_short(base), features=kind)
    if cand["macro_f1"] <= base["macro_f1"]:
        return msgspec.structs.replace(
            card, trained_on=len(train), labels=candidate.labels, note=(
                f"kept {current_name}: candidate ({kind}) macro-F1 {cand['macro_f1']:.3f} ≤ "
                f"{base['macro_f1']:.3f} on {len(test)} held-back corrections"))
    final = fit(signal, feats, [c.label for c in rows], card, dense=vecs)
    return msgspec.structs.replace(final, card=msgspec.structs.replace(
        final.card, trained_on=len(rows), promoted=True, note=(
            f"replaced {current_name}: macro-F1 {cand['macro_f1']:.3f} > {base['macro_f1']:.3f} "
            f"on {len(test)} held-back corrections; {kind}")))


def _row_vectors(vectors_for: Vectors | None, texts: Sequence[str], train: Sequence[int],
                 test: Sequence[int]) -> np.ndarray | None:
    """Every row's vector (rows in order), the held-back (`test`) rows embedded last; None if
    there are none to be had. `train` is the training rows; any others count with them."""
    if vectors_for is None:
        return None
    held = set(test)
    rest = [i for i in range(len(texts)) if i not in held]
    first = vectors_for([texts[i] for i in rest])
    last = vectors_for([texts[i] for i in test]) if first is not None else None
    if first is None or last is None:
        return None
    out = np.zeros((len(texts), first.shape[1]), dtype=np.float32)
    out[rest] = first
    out[list(test)] = last
    return out


def _short(m: dict) -> dict[str, float]:
    return {k: m[k] for k in ("macro_f1", "macro_recall", "accuracy")}


# --- the rules' own answer per signal, and storage form -------------------------------------------

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


def dumps(model: SignalModel) -> str:
    """Text for the documents table: JSON with the arrays zlib-compressed and base64-encoded."""
    raw = msgspec.json.encode(model)
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def loads(body: str) -> SignalModel:
    return msgspec.json.decode(zlib.decompress(base64.b64decode(body)), type=SignalModel)


def apply_models(models: dict[str, SignalModel], text: str, signals: Signals,
                 vecs: dict[tuple[int, ...], np.ndarray | None] | None = None,
                 deferred: bool = False,
                 answers: dict[str, tuple[str, float]] | None = None) -> Signals:
    """Signals with each learned model's answer in place of the rules' one, with confidence and
    a "because" naming the model. `vecs`: the mention's sentence vector per layer set, when the
    caller embedded a batch (`apply_models_many`); otherwise a model with a dense part gets its
    vector from `vectors` (the memo, or a pass for this one text). `deferred`: the vectors
    were left for later on purpose (the hot path): a dense model answers from its words, and
    the signals are marked provisional. `answers`: each model's (label, probability) when the
    caller scored a batch at once."""
    if vecs is None and answers is None:
        vecs = {}
        for layers in {m.dense_layers for m in models.values() if m.needs_vectors}:
            got = vectors([text], layers)
            vecs[layers] = None if got is None else got[0]
    situations = list(signals.situations or (signals.situation,))
    confidence, because = dict(signals.confidence), dict(signals.because)
    label_out, score = signals.sentiment_label, signals.sentiment
    severity = signals.severity
    ids = feature_ids(text, signals) if answers is None else None  # one set for every model
    vecs = vecs or {}

    def answer(signal: str, model: SignalModel) -> tuple[str, float, str]:
        vec = vecs.get(model.dense_layers) if model.needs_vectors else None
        label, p = answers[signal] if answers is not None else model.predict_ids(ids, vec)
        why = f"learned v{model.card.version} from {model.card.trained_on} corrections ({p:.0%})"
        if model.needs_vectors and vec is None:
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


def apply_models_many(models: dict[str, SignalModel], texts: Sequence[str],
                      signals_list: Sequence[Signals], defer_vectors: bool = False
                      ) -> list[Signals]:
    """`apply_models` over a batch: the sentence vectors of all the texts are computed in one
    batched call (only when some model has a dense part), then each mention is answered.
    `defer_vectors`: no vectors now (the ingest path): dense models answer from their words
    and the signals are provisional until the refine job reads the vectors."""
    if len(texts) != len(signals_list):
        raise ValueError(f"{len(texts)} texts but {len(signals_list)} signals")
    if not texts:
        return []
    batches: dict[tuple[int, ...], np.ndarray | None] = {}
    for layers in {m.dense_layers for m in models.values() if m.needs_vectors}:
        batches[layers] = None if defer_vectors else vectors(texts, layers)
    ids = [feature_ids(t, s) for t, s in zip(texts, signals_list, strict=True)]
    scored = [(signal, m, m._compiled().scores_many(
                  ids, batches.get(m.dense_layers) if m.needs_vectors else None))
              for signal, m in models.items()]
    out = []
    for i, (text, signals) in enumerate(zip(texts, signals_list, strict=True)):
        vecs = {k: None if v is None else v[i] for k, v in batches.items()}
        answers = {signal: m.label_of(s[i]) for signal, m, s in scored}
        out.append(apply_models(models, text, signals, vecs, deferred=defer_vectors,
                                answers=answers))
    return out
