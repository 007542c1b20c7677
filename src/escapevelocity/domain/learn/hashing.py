"""Hashed features of a mention for the learned models: words, word pairs, character
3-5-grams inside words, and what the shipped rules said. Hot path: a token's ids are
memoised, and a mention's distinct ids are computed once for every model."""

from __future__ import annotations

import itertools
import re
import zlib
from array import array
from collections.abc import Sequence
from operator import itemgetter

import numpy as np

from escapevelocity.domain.records import Signals

DIM = 1 << 20  # hashed feature space
_TOKEN = re.compile(r"https?://\S+|www\.\S+|@\w+|#?[a-z][a-z'0-9]*|\d+|[!?]+|"
                    r"[:;=][-']?[()dp/\\|*]|[^\w\s]", re.UNICODE)


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
