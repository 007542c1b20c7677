"""The dense part of a learned model: MiniLM sentence vectors (`embedding.embed`), with a
bounded memo so one train or eval run embeds no text twice."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from escapevelocity.domain.learn.hashing import _remember

DENSE_LAYERS = (2, 4, 6)  # MiniLM layers whose mean-pooled outputs a dense part reads

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
