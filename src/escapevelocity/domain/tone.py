"""The shipped sentiment model: a linear layer over what the rules read of a post, trained on
openly licensed labelled tweets (model card: docs/tone_model.md; issue #16).

Why a layer and not more rules: rules tuned on TweetEval's 2,000 development tweets read 0.650
there and about 0.60 on tweets they never saw; every further rule fitted the development set
(docs/signals.md). Logistic regression over the post's words and word pairs, with the rules'
own score as features, learns from 47,000 labelled tweets instead of 2,000, and reads better on
every set it was not trained on (figures in the model card).

What the model reads is written here: `dense` (used to train it, by scripts/build_tone_model.py,
and to apply it, by `Tone.read`) and `terms` (the words and pairs training counts; `weigh`
walks the same terms in the same order without building the pairs' strings, and a test holds
the two together). The weights are a table of two margins per term (negative and positive,
each against neutral), so applying the model is a look-up per word and word pair and two
additions: no numpy, in the base install. Reading a post is a kernel: `Tone.read` here is the
reference, and hotpath.pyx's `Weights.read` computes the same in C over a hashed table (held
equal by tests/unit/test_tone.py); which one runs is the Enricher's choice, as for the other
kernels. This module is also compiled with Cython as it is, like enrich.py (domain/compiled.py).
"""

from __future__ import annotations

import gzip
import json
import math
import warnings
from array import array
from functools import cache, cached_property
from itertools import pairwise
from pathlib import Path

MODEL = Path(__file__).with_name("tone_model.json.gz")
# The dense features, in the order of the model's `dense` weights.
DENSE = ("bias", "score", "score+", "score-", "rules:negative", "rules:positive", "?", "!", "@",
         "failure", "evaluative", "judgement", "to_company", "sarcasm", "irony",
         "link")


def terms(tokens: list[str]) -> list[str]:
    """The words and word pairs the model weighs, in the order `weigh` (and hotpath) add
    them: every token (words, hashtags, emoticons, emoji, runs of ! and ?, as the kernels cut
    them), each after the pair "a b" it ends."""
    out = tokens[:1]
    for a, b in pairwise(tokens):
        out.append(a + " " + b)
        out.append(b)
    return out


def dense(score: float, label: str, lower: str, words, scan) -> tuple[float, ...]:
    """What the model reads besides the words: the rules' score and label (enrich.py), the
    kernels' word facts and sarcasm markers, and whether the post asks, exclaims, is addressed
    to someone or carries a link (headlines with a link are mostly neutral)."""
    # unpacked in kernels.Words' and kernels.Scan's field order, as plain tuples: compiled, an
    # attribute of a NamedTuple costs more than the whole unpacking (enrich.py does the same)
    _, _, to_company, judgement, failure, evaluative = tuple(words)
    _, _, _, sarcasm, irony, _ = tuple(scan)
    return (1.0, score, score if score > 0 else 0.0, score if score < 0 else 0.0,
            1.0 if label == "negative" else 0.0, 1.0 if label == "positive" else 0.0,
            1.0 if "?" in lower else 0.0, 1.0 if "!" in lower else 0.0,
            1.0 if lower[:1] == "@" else 0.0,
            1.0 if failure else 0.0, 1.0 if evaluative else 0.0,
            1.0 if judgement else 0.0, 1.0 if to_company else 0.0,
            1.0 if sarcasm else 0.0, 1.0 if irony else 0.0,
            1.0 if "http" in lower else 0.0)


def margins(table: dict, dense_neg: tuple[float, ...], dense_pos: tuple[float, ...],
            tokens: list[str], x: tuple[float, ...]) -> tuple[float, float, str, str]:
    """The model's margins for negative and positive (against neutral) of a post whose
    dense features are `x` and words `tokens`, and the word or pair that pulled hardest each
    way ("" if none did): hotpath.Weights.margins computes the same in C."""
    zn = zp = 0.0
    for a, b, v in zip(dense_neg, dense_pos, x, strict=True):
        zn += a * v
        zp += b * v
    neg, pos, neg_term, pos_term = weigh(table, tokens)
    if tokens:
        scale = 1.0 / math.sqrt(2 * len(tokens) - 1)
        zn += neg * scale
        zp += pos * scale
    return zn, zp, neg_term, pos_term


def weigh(table: dict, tokens: list[str]) -> tuple[float, float, str, str]:
    """The sums of the negative and of the positive margins of a post's words and neighbour
    pairs (`terms`), and the word or pair that pulled hardest each way. `table`: word ->
    (negative, positive, the words that follow it in a weighted pair -> (negative, positive),
    or None)."""
    neg = pos = top_neg = top_pos = 0.0
    neg_term = pos_term = ""
    follow = None
    prev = ""
    for t in tokens:
        if follow is not None:
            w = follow.get(t)
            if w is not None:
                n, p = w
                neg += n
                pos += p
                if n > top_neg:
                    top_neg, neg_term = n, prev + " " + t
                if p > top_pos:
                    top_pos, pos_term = p, prev + " " + t
        entry = table.get(t)
        if entry is None:
            follow = None
        else:
            n, p, follow = entry
            neg += n
            pos += p
            if n > top_neg:
                top_neg, neg_term = n, t
            if p > top_pos:
                top_pos, pos_term = p, t
        prev = t
    return neg, pos, neg_term, pos_term


class Tone:
    """The model, loaded once per process (`shipped`): `read` is a pure function of what the
    kernels read of a post."""

    def __init__(self, dense_weights: list[list[float]], weights: dict[str, list[float]],
                 card: dict) -> None:
        self.dense_neg = tuple(float(w[0]) for w in dense_weights)
        self.dense_pos = tuple(float(w[1]) for w in dense_weights)
        # Term weights in single precision, as the compiled table keeps them (four bytes
        # each, so it stays in the cache); the sums are in double precision either way.
        self.terms = {t: tuple(array("f", w)) for t, w in weights.items()}
        self.card = card
        self._compiled = None

    @cached_property
    def table(self) -> dict[str, tuple[float, float, dict | None]]:
        """`weigh`'s table of the terms: word -> (negative, positive, the words that follow it
        in a weighted pair -> (negative, positive), or None). Built only for the reference: a
        process that runs the compiled kernels never holds it (nor has its collector walk it)."""
        table: dict[str, tuple[float, float, dict | None]] = {}
        for term, (n, p) in self.terms.items():
            first, _, second = term.partition(" ")
            own_n, own_p, follow = table.get(first, (0.0, 0.0, None))
            if second:
                follow = follow if follow is not None else {}
                follow[second] = (n, p)
            else:
                own_n, own_p = n, p
            table[first] = (own_n, own_p, follow)
        return table

    def kernel(self, hotpath=None):
        """What reads a post: hotpath.pyx's `Weights.read` when the compiled kernels run (the
        same reading in C, built once per process), else `read`, its reference."""
        if hotpath is None:
            return self.read
        if self._compiled is None:
            self._compiled = hotpath.Weights(self.terms, self.dense_neg, self.dense_pos)
        return self._compiled.read

    def read(self, score: float, label: str, lower: str, words, scan
             ) -> tuple[str, float, float, str]:
        """From the rules' score and label and the kernels' reading (kernels.Words, Scan):
        (label, polarity -1..1 = P(positive) - P(negative), P(label), the word or pair that
        pulled hardest toward the label, "" when none did): the model's most probable class
        and its probabilities, the softmax of the margins against neutral's 0."""
        margins_ = margins(self.table, self.dense_neg, self.dense_pos, words.tokens,
                           dense(score, label, lower, words, scan))
        zn: float = margins_[0]
        zp: float = margins_[1]
        top: float = zn if zn > zp else zp
        if top < 0.0:
            top = 0.0
        en: float = math.exp(zn - top)
        e0: float = math.exp(-top)
        ep: float = math.exp(zp - top)
        z: float = en + e0 + ep
        pn: float = en / z
        pp: float = ep / z
        # the polarity to four places, as the rules' score is kept (hotpath's sentiment loop),
        # and of the label's sign: a tie, or a difference that rounds to 0, is the smallest
        # step past it (the label and the score never disagree)
        polarity: float = int((pp - pn) * 10000 + (0.5 if pp > pn else -0.5)) / 10000
        if zn > 0.0 and zn >= zp:
            return "negative", polarity if polarity < 0.0 else -0.0001, pn, margins_[2]
        if zp > 0.0:
            return "positive", polarity if polarity > 0.0 else 0.0001, pp, margins_[3]
        return "neutral", polarity, e0 / z, ""


@cache
def shipped() -> Tone | None:
    """The model that ships with the package. Its file is part of the package (a wheel
    without it is a packaging fault, which scripts/smoke_base_install.sh fails on): missing,
    the rules' label stands, and a warning says so rather than every mention failing."""
    try:
        doc = json.loads(gzip.decompress(MODEL.read_bytes()))
    except FileNotFoundError:
        warnings.warn(f"{MODEL.name} is missing: sentiment is the rules' alone; reinstall the "
                      "package", RuntimeWarning, stacklevel=2)
        return None
    return Tone(doc["dense"], doc["terms"], doc["card"])
