"""Does a small learned layer over the sentiment rules beat the rules on posts it never saw?
(issue #16: the rules read 0.657 macro-recall on TweetEval's development part and about 0.61
on its unseen test tweets; rules tuned further on the development part do not transfer.)

The layer is a class-balanced multinomial logistic regression over what the rules read of a
post (their score, its positive and negative side, their label) and, per experiment (GRID),
the flags the kernels already compute, the sums of the lexicon's values, the words the kernels
cut (single words and word pairs), letter 3-4-grams of those words, or (--vectors, research
only: numpy and the embed extra are not in the base install) MiniLM sentence vectors. It is
trained only on openly licensed labelled data (../shared/data/README.md):
- TweetEval sentiment, development part (negative / neutral / positive);
- TweetEval emotion, train + validation, as polarity (joy, optimism: positive; anger, sadness:
  negative), with a weight per experiment;
- TweetEval irony and offensive (train), their positive class as weak negatives, in two.
Sanders brand mentions and the airline tweets are never trained on (their licences forbid a
shipped model): they are the unseen cross-domain checks.

Evaluation, against the rules on the same rows:
- TweetEval sentiment and emotion are cut into five folds by the hash sentiment_sets.py uses;
  for each fold a layer is trained on the other four (of both sets) and read on it;
- Sanders and airline are read by each of those five layers; the mean is reported;
- the cheapest correction, the two label edges chosen on four folds, is scored the same way.
The rules were tuned on all of TweetEval's development part, so their figure there is in-sample
and the layer's is not: a layer has to beat that to ship (GAIN, HOLD; docs/signals.md has the
figures and the decision: nothing passed, nothing shipped).

    python scripts/train_sentiment.py [--json OUT] [--only NAME]   # ~5 min on one core
    python scripts/train_sentiment.py --vectors --only MiniLM --vector-cache /tmp/v.npz
    python scripts/train_sentiment.py --vader-tweets tweets_GroundTruth.txt --only VADER

--vader-tweets: the 4,199 tweets with their mean human rating (-4..4) that ship in
vaderSentiment's source package (additional_resources/hutto_ICWSM_2014.tar.gz, MIT licence;
`pip download --no-binary :all: --no-deps vaderSentiment`), labelled negative / neutral /
positive at a mean of -EDGE / +EDGE, as more training rows (VADER_GRID).

Needs the `learn` extra (numpy, scikit-learn). The data is read where it is (../shared/data,
or --data); nothing of it is copied, and nothing is written into the project.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sentiment_sets import DATA, FOLDS, SETS, _bucket, data_folder, load, macro_recall

from escapevelocity.domain.enrich import NEGATIVE_EDGE, POSITIVE_EDGE, Enricher

CLASSES = ("negative", "neutral", "positive")


def rules_label(score: float) -> str:
    return "negative" if score <= NEGATIVE_EDGE else "positive" if score >= POSITIVE_EDGE \
        else "neutral"


def read(enricher: Enricher, text: str) -> dict:
    """What the rules read of a post, kept for the features."""
    r = enricher.kernels.read(text)
    vals = [enricher.lookup.get(t, 0.0) for t in r.words.tokens]
    return {"text": text,
            "lex_pos": sum(v for v in vals if v > 0), "lex_neg": sum(v for v in vals if v < 0),
            "n_pos": sum(v > 0 for v in vals), "n_neg": sum(v < 0 for v in vals),
            "score": r.sentiment, "tokens": list(r.words.tokens), "lower": r.lower,
            "sarcasm": bool(r.scan.sarcasm), "irony": bool(r.scan.irony),
            "phrases": r.scan.phrases, "failure": r.words.failure is not None,
            "evaluative": r.words.evaluative is not None,
            "judgement": r.words.judgement is not None, "to_company": r.words.to_company}


def rule_features(x: dict) -> dict[str, float]:
    s = x["score"]
    lab = rules_label(s)
    f = {"r:score": s, "r:pos": max(s, 0.0), "r:neg": min(s, 0.0), f"r:{lab}": 1.0,
         "r:bias": 1.0}
    return f


def flag_features(x: dict) -> dict[str, float]:
    low = x["lower"]
    f = {}
    for k in ("sarcasm", "irony", "failure", "evaluative", "judgement", "to_company"):
        if x[k]:
            f[f"f:{k}"] = 1.0
    if "?" in low:
        f["f:?"] = 1.0
    if "!" in low:
        f["f:!"] = 1.0
    if low[:1] == "@":
        f["f:to"] = 1.0
    if "http" in low:
        f["f:url"] = 1.0
    return f


def word_features(x: dict, bigrams: bool = True, chars: bool = False) -> dict[str, float]:
    toks = [t for t in x["tokens"] if not t.startswith("@")]
    names = {f"w:{t}" for t in toks}
    if chars:
        for t in toks:
            padded = f"<{t}>"
            names |= {f"c:{padded[i:i + n]}" for n in (3, 4) for i in range(len(padded) - n + 1)}
    if bigrams:
        names |= {f"b:{a} {b}" for a, b in itertools.pairwise(toks)}
    if not names:
        return {}
    w = 1.0 / len(names) ** 0.5
    return dict.fromkeys(names, w)


class Featuriser:
    def __init__(self, words: bool, flags: bool, bigrams: bool, rule_scale: float,
                 min_count: int, lex: bool = False) -> None:
        self.lex = lex
        self.chars = False
        self.vectors = 0.0
        self.words, self.flags, self.bigrams = words, flags, bigrams
        self.rule_scale, self.min_count = rule_scale, min_count
        self.vocab: dict[str, int] = {}

    def feats(self, x: dict) -> dict[str, float]:
        f = {k: v * self.rule_scale for k, v in rule_features(x).items()}
        if self.flags:
            f.update(flag_features(x))
        if self.lex:
            f.update({"l:pos": x["lex_pos"] / 4, "l:neg": x["lex_neg"] / 4,
                      "l:npos": min(x["n_pos"], 4) / 4, "l:nneg": min(x["n_neg"], 4) / 4})
        if self.words:
            f.update(word_features(x, self.bigrams, self.chars))
        return f

    def fit(self, xs: list[dict]) -> None:
        counts: dict[str, int] = {}
        for x in xs:
            for k in self.feats(x):
                counts[k] = counts.get(k, 0) + 1
        keep = sorted(k for k, c in counts.items()
                      if c >= self.min_count or k.startswith(("r:", "f:", "l:")))
        self.vocab = {k: i for i, k in enumerate(keep)}

    def matrix(self, xs: list[dict]) -> sparse.csr_matrix:
        rows, cols, vals = [], [], []
        for i, x in enumerate(xs):
            for k, v in self.feats(x).items():
                j = self.vocab.get(k)
                if j is not None:
                    rows.append(i)
                    cols.append(j)
                    vals.append(v)
        m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(xs), len(self.vocab)))
        if self.vectors:  # sentence vectors (research only: not in the base install)
            m = sparse.hstack([m, sparse.csr_matrix(np.vstack([x["vec"] for x in xs])
                                                    * self.vectors)]).tocsr()
        return m


def train(fz: Featuriser, xs: list[dict], ys: list[str], weights: list[float], c: float,
          balance_te: bool = False):
    fz.fit(xs)
    y = np.array([CLASSES.index(v) for v in ys])
    w = np.array(weights, dtype=float)
    # class-balanced: each class's total sample weight equal (with balance_te, over the
    # rows of weight 1, the sentiment rows; the others keep their weight as given)
    base = w == 1.0 if balance_te else np.ones(len(y), dtype=bool)
    for k in range(len(CLASSES)):
        m = (y == k) & base
        if m.any():
            w[m] *= len(y) / (len(CLASSES) * w[m].sum())
    model = LogisticRegression(C=c, max_iter=3000, fit_intercept=False)
    model.fit(fz.matrix(xs), y, sample_weight=w)
    return model


def predict(fz: Featuriser, model, xs: list[dict]) -> list[str]:
    return [CLASSES[k] for k in model.predict(fz.matrix(xs))]


# Other openly licensed TweetEval tasks, as weak polarity: (file, label -> class).
EXTRA = {
    "irony": ("tweeteval/irony_train.jsonl", {"irony": "negative"}),
    "offensive": ("tweeteval/offensive_train.jsonl", {"offensive": "negative"}),
    "hate": ("tweeteval/hate_train.jsonl", {"hate": "negative"}),
}


def load_extra(data: Path, enricher: Enricher) -> dict:
    out = {}
    for name, (f, labels) in EXTRA.items():
        rows = []
        for line in (data / f).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            gold = labels.get(str(row.get("label")))
            if gold:
                rows.append((row["id"], read(enricher, str(row.get("text") or "")), gold))
        out[name] = rows
    return out


def load_vader(path: Path, enricher: Enricher, edge: float) -> list:
    """VADER's ground-truth tweets (id, mean rating, text; HTML entities as posted)."""
    import html

    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        rid, mean, text = line.split("\t", 2)
        m = float(mean)
        gold = "negative" if m <= -edge else "positive" if m >= edge else "neutral"
        rows.append((f"vader{rid}", read(enricher, html.unescape(text)), gold))
    return rows


def extra_rows(read_extra: dict, cfg: dict):
    for name, weight in cfg.get("extra", {}).items():
        for rid, x, g in read_extra[name]:
            yield rid, x, g, weight


def experiment(name: str, read_sets: dict, cfg: dict, read_extra: dict) -> dict:
    te, em = read_sets["tweeteval"], read_sets["emotion"]
    out = {"tweeteval": [], "emotion": [], "sanders": [], "airline": []}
    for k in range(FOLDS):
        xs, ys, ws = [], [], []
        for rid, x, g in te:
            if _bucket(rid, FOLDS) != k:
                xs.append(x)
                ys.append(g)
                ws.append(1.0)
        if cfg.get("emotion", 0):
            for rid, x, g in em:
                if _bucket(rid, FOLDS) != k:
                    xs.append(x)
                    ys.append(g)
                    ws.append(cfg["emotion"])
        for _, x, g, w in extra_rows(read_extra, cfg):
            xs.append(x)
            ys.append(g)
            ws.append(w)
        fz = Featuriser(cfg.get("words", True), cfg.get("flags", True), cfg.get("bigrams", True),
                        cfg.get("rule_scale", 1.0), cfg.get("min_count", 2), cfg.get("lex", False))
        fz.chars = cfg.get("chars", False)
        fz.vectors = cfg.get("vectors", 0.0)
        model = train(fz, xs, ys, ws, cfg.get("C", 1.0), cfg.get("balance_te", False))
        for sname, rows in read_sets.items():
            if sname in ("tweeteval", "emotion"):
                rows = [r for r in rows if _bucket(r[0], FOLDS) == k]
            preds = predict(fz, model, [x for _, x, _ in rows])
            pairs = [(g, p) for (_, _, g), p in zip(rows, preds, strict=True)]
            out[sname].append(macro_recall(pairs, SETS[sname][2]))
    return summarise(name, out)


def rules_baseline(read_sets: dict) -> dict:
    out = {"tweeteval": [], "emotion": [], "sanders": [], "airline": []}
    for k in range(FOLDS):
        for sname, rows in read_sets.items():
            if sname in ("tweeteval", "emotion"):
                rows = [r for r in rows if _bucket(r[0], FOLDS) == k]
            pairs = [(g, rules_label(x["score"])) for _, x, g in rows]
            out[sname].append(macro_recall(pairs, SETS[sname][2]))
    return summarise("rules", out)


def edges_cv(read_sets: dict, with_emotion: bool) -> dict:
    """The cheapest correction: the two label edges chosen on four folds (macro-recall of
    TweetEval, with emotion's polarity recall averaged in if asked), read on the fifth."""
    grid_neg = [x / 100 for x in range(-40, -4, 2)]
    grid_pos = [x / 100 for x in range(10, 52, 2)]

    def label(score, neg, pos):
        return "negative" if score <= neg else "positive" if score >= pos else "neutral"

    out = {"tweeteval": [], "emotion": [], "sanders": [], "airline": []}
    chosen = []
    for k in range(FOLDS):
        te = [(x["score"], g) for i, x, g in read_sets["tweeteval"] if _bucket(i, FOLDS) != k]
        em = [(x["score"], g) for i, x, g in read_sets["emotion"] if _bucket(i, FOLDS) != k]
        best = None
        for neg in grid_neg:
            for pos in grid_pos:
                m = macro_recall([(g, label(sc, neg, pos)) for sc, g in te], CLASSES)[0]
                if with_emotion:
                    m = (m + macro_recall([(g, label(sc, neg, pos)) for sc, g in em],
                                          ("negative", "positive"))[0]) / 2
                if best is None or m > best[0]:
                    best = (m, neg, pos)
        _, neg, pos = best
        chosen.append((neg, pos))
        for sname, rows in read_sets.items():
            if sname in ("tweeteval", "emotion"):
                rows = [r for r in rows if _bucket(r[0], FOLDS) == k]
            pairs = [(g, label(x["score"], neg, pos)) for _, x, g in rows]
            out[sname].append(macro_recall(pairs, SETS[sname][2]))
    res = summarise("edges chosen on 4 folds" + (" (+emotion)" if with_emotion else ""), out)
    res["edges"] = chosen
    return res


def summarise(name: str, out: dict) -> dict:
    res = {"name": name}
    for sname, runs in out.items():
        mrs = [m for m, _ in runs]
        per = {c: statistics.mean(r[c] for _, r in runs) for c in runs[0][1]}
        res[sname] = {"mean": statistics.mean(mrs), "folds": mrs, "recall": per}
    return res


def render(results: list[dict]) -> None:
    base = results[0]
    print(f"{'experiment':<34} {'tweeteval':>9} {'Δ':>7} {'emotion':>8} {'Δ':>7} "
          f"{'sanders':>8} {'Δ':>7} {'airline':>8} {'Δ':>7}")
    for r in results:
        cells = []
        for s in ("tweeteval", "emotion", "sanders", "airline"):
            cells.append(f"{r[s]['mean']:>8.3f} {r[s]['mean'] - base[s]['mean']:>+7.3f}")
        print(f"{r['name']:<34} " + " ".join(cells))
        print(f"{'':<34} " + "   ".join(
            s[:2] + " " + " ".join(f"{c[:3]} {v:.2f}" for c, v in r[s]["recall"].items())
            for s in ("tweeteval", "emotion", "sanders", "airline")))


# The experiments behind the decision (issue #16), in the order reported.
GRID = [
    ("LR on rule features only", {"words": False, "flags": False, "C": 10.0}),
    ("+ kernel flags", {"words": False, "flags": True, "C": 10.0}),
    ("+ words, pairs (TE only) C=0.3", {"C": 0.3}),
    ("+ words, pairs (TE only) C=1", {"C": 1.0}),
    ("+ word 3-4-grams of letters, C=0.3", {"C": 0.3, "chars": True}),
    ("+ lexicon sums, C=0.3", {"C": 0.3, "lex": True}),
    ("words + emotion x0.25 C=0.3", {"C": 0.3, "emotion": 0.25, "balance_te": True}),
    ("words + emotion x0.5 C=0.3", {"C": 0.3, "emotion": 0.5, "balance_te": True}),
    ("words + emotion x1 C=1", {"C": 1.0, "emotion": 1.0}),
    ("words + emotion x.25 + irony x.25", {"C": 0.3, "emotion": 0.25, "extra": {"irony": 0.25}}),
    ("words + emotion x.25 + offensive x.1", {"C": 0.3, "emotion": 0.25,
                                              "extra": {"offensive": 0.1}}),
]
VADER_GRID = [(f"words + VADER tweets (edge {e}) x{w} C={c}",
               {"C": c, "extra": {f"vader{e}": w}})
              for e in (0.5, 1.0) for w in (0.25, 0.5, 1.0) for c in (0.3, 1.0)] + [
    ("words + emotion x.25 + VADER tweets (edge 1.0) x.5", {"C": 0.3, "emotion": 0.25,
                                                            "balance_te": True,
                                                            "extra": {"vader1.0": 0.5}}),
    ("rule features + VADER tweets (edge 1.0)", {"words": False, "flags": False, "C": 10.0,
                                                 "extra": {"vader1.0": 1.0}}),
]
VECTOR_GRID = [
    ("rules + MiniLM vectors C=1", {"words": False, "flags": False, "C": 1.0, "vectors": 1.0}),
    ("rules + words + MiniLM vectors C=1", {"C": 1.0, "vectors": 1.0}),
    ("rules + MiniLM vectors x0.5 C=1", {"words": False, "flags": False, "C": 1.0,
                                         "vectors": 0.5}),
    ("rules + MiniLM vectors C=0.3", {"words": False, "flags": False, "C": 0.3, "vectors": 1.0}),
    ("rules + MiniLM vectors + emotion x.25", {"words": False, "flags": False, "C": 1.0,
                                               "vectors": 1.0, "emotion": 0.25,
                                               "balance_te": True}),
    ("rules + words + vectors + emotion x.25", {"C": 1.0, "vectors": 1.0, "emotion": 0.25,
                                                 "balance_te": True}),
]


def add_vectors(read_sets: dict, cache: Path | None) -> None:
    """Each row's MiniLM sentence vector, in x["vec"] (minutes on one core; `cache`, a file
    outside the project, keeps them between runs)."""
    from escapevelocity.domain.embedding import embed

    kept = dict(np.load(cache)) if cache and cache.exists() else {}
    for name, rows in read_sets.items():
        texts = [x["text"] for _, x, _ in rows]
        vecs = kept.get(name)
        if vecs is None or len(vecs) != len(rows):
            vecs = kept[name] = embed(texts)
        for (_, x, _), v in zip(rows, vecs, strict=True):
            x["vec"] = v
        print(f"vectors: {name} {len(rows)}", file=sys.stderr)
    if cache:
        np.savez(cache, **kept)


GAIN = 0.015  # TweetEval CV gain a shipped layer needs
HOLD = 0.005  # what Sanders, airline and emotion may lose


def verdict(results: list[dict]) -> None:
    base = results[0]
    print(f"\nship gate: TweetEval CV gain >= +{GAIN}, Sanders/airline/emotion fall <= {HOLD}")
    for r in results[1:]:
        d = {s: r[s]["mean"] - base[s]["mean"] for s in ("tweeteval", "emotion", "sanders",
                                                        "airline")}
        ok = d["tweeteval"] >= GAIN and all(d[s] >= -HOLD for s in ("emotion", "sanders",
                                                                   "airline"))
        print(f"  {r['name']:<40} {'PASS' if ok else 'fail'}  TE folds "
              + " ".join(f"{m:+.3f}" for m in (a - b for a, b in zip(
                  r["tweeteval"]["folds"], base["tweeteval"]["folds"], strict=True))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--vectors", action="store_true",
                        help="also try MiniLM sentence vectors (needs the embed extra; research "
                             "only: a default model must run in the base install)")
    parser.add_argument("--vector-cache", type=Path,
                        help="an .npz outside the project that keeps the vectors between runs")
    parser.add_argument("--only", help="run the experiments whose name contains this")
    parser.add_argument("--vader-tweets", type=Path,
                        help="tweets_GroundTruth.txt from vaderSentiment's source package: "
                             "also try it as training rows (VADER_GRID)")
    args = parser.parse_args(argv)
    data = data_folder(args.data, "train")
    if data is None:
        return 1
    enricher = Enricher()
    read_sets = {n: [(i, read(enricher, t), g) for i, t, g in rows]
                 for n, rows in load(data).items()}
    read_extra = load_extra(data, enricher)
    if args.vader_tweets:
        for edge in (0.5, 1.0):
            read_extra[f"vader{edge}"] = load_vader(args.vader_tweets, enricher, edge)
    if args.vectors:
        add_vectors(read_sets, args.vector_cache)
    results = [rules_baseline(read_sets), edges_cv(read_sets, False), edges_cv(read_sets, True)]
    print("TweetEval folds, rules: " + " ".join(f"{m:.3f}" for m in results[0]["tweeteval"]
                                                ["folds"]))
    for name, cfg in (GRID + (VECTOR_GRID if args.vectors else [])
                      + (VADER_GRID if args.vader_tweets else [])):
        if args.only and args.only not in name:
            continue
        results.append(experiment(name, read_sets, cfg, read_extra))
        print(f"done: {name}", file=sys.stderr)
    render(results)
    verdict(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
