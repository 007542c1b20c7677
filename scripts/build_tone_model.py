"""Train the shipped sentiment model (domain/tone.py) and write src/escapevelocity/domain/
tone_model.json.gz, with its card (data, licence, figures). Issue #16.

Training data: the SemEval-2013-2016 Task 4 subtask A tweets (negative / neutral / positive),
the pool TweetEval's sentiment train and validation splits were drawn from. TweetEval
(Barbieri et al. 2020) is "released without any restrictions" (Twitter's terms apply to the
tweets); ../shared/data/README.md lists it so. Give the folder of the SemEval task A .tsv files
(id, label, text), e.g. dataset/Subtask_A/downloaded/ of a public SemEval-2017 task 4 system's
repository, or TweetEval's datasets/sentiment (train_text.txt, train_labels.txt):

    python scripts/build_tone_model.py --tweets DIR [--check-only]

What is never trained on:
- TweetEval's sentiment validation split, our development set (../shared/data/tweeteval): every
  tweet of the pool whose text (handles masked, URLs, case and punctuation ignored) is one of
  its tweets is dropped, so its figure is on tweets the model never saw;
- anything of 2017 (SemEval-2017's test set is TweetEval's test split, held out): a file whose
  name says 2017 or "test" of TweetEval is refused;
- Sanders, airline and TweetEval emotion: the unseen cross-domain checks.

Tweets are read as posted (handles kept: masking them as TweetEval does read no better),
through the same kernels as the product (Enricher.kernels.read), into the features
domain/tone.py defines; logistic regression, classes balanced (macro-recall is the measure).
Needs the `learn` extra. Data is read where it is; nothing of it is copied into the project,
only the weights.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import html
import json
import re
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sentiment_sets import DATA, SETS, data_folder, load, macro_recall
from train_sentiment import rules_label

from escapevelocity.domain import tone
from escapevelocity.domain.enrich import Enricher

CLASSES = ("negative", "neutral", "positive")
C = 1.0  # inverse regularisation; 0.3 and 3 read lower on the development set (docs/signals.md)
MIN_COUNT = 20  # a term seen fewer times in training has no weight
HANDLE_COUNT = 2  # a name addressed this often in training has no weight (handles())
PRUNE = 0.3  # |margin| under which a term's weight is dropped from the shipped table
OUT = Path(__file__).resolve().parents[1] / "src/escapevelocity/domain" / tone.MODEL.name


def key(text: str) -> str:
    """A tweet's text for finding the same tweet in two sets."""
    t = html.unescape(text).lower()
    t = re.sub(r"https?://\S+", " ", t)
    t = re.sub(r"@\w+", "@user", t)
    return re.sub(r"[^a-z0-9@]+", "", t)


def unescape(text: str) -> str:
    """As posted: the task's files carry HTML entities ("&amp;")."""
    return html.unescape(text)


def read_tweets(folder: Path) -> list[tuple[str, str, str]]:
    """(source, text, label) of every labelled tweet in the folder."""
    rows = []
    if (folder / "train_text.txt").exists():  # TweetEval's layout
        texts = (folder / "train_text.txt").read_text(encoding="utf-8").splitlines()
        labels = (folder / "train_labels.txt").read_text(encoding="utf-8").split()
        rows = [("tweeteval-train", t, CLASSES[int(v)]) for t, v in zip(texts, labels,
                                                                        strict=True)]
    for f in sorted(folder.glob("*.tsv")) + sorted(folder.glob("*-A.txt")):
        if "2017" in f.name:
            raise SystemExit(f"{f.name}: SemEval-2017 is TweetEval's held-out test split; "
                             "it is never trained on")
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[1].strip() in CLASSES:
                rows.append((f.name, "\t".join(parts[2:]), parts[1].strip()))
    return rows


def pool(folder: Path, held_out: set[str], files: tuple[str, ...] = ()
         ) -> tuple[list[tuple[str, str]], dict, list[tuple[str, str, str]]]:
    """Distinct training tweets, none of them in the held-out set; and the tweets of `files`,
    kept apart to be read on (--hold-out): none of those is trained on either, whichever file
    also carries it."""
    tweets = read_tweets(folder)
    apart_keys = {key(text) for source, text, _ in tweets if source in files} - held_out
    seen, out, stats, apart = set(), [], collections.Counter(), []
    for source, text, label in tweets:
        k = key(text)
        if k in held_out:
            stats["dropped: in the development set"] += 1
        elif k in seen:
            stats["dropped: repeated"] += 1
        elif k in apart_keys:
            if source in files:
                seen.add(k)
                apart.append((source, unescape(text), label))
            else:  # a training file's copy of a held-out tweet
                stats["dropped: held out (--hold-out)"] += 1
        else:
            seen.add(k)
            out.append((unescape(text), label))
    stats["kept"] = len(out)
    return out, dict(stats), apart


def featurise(enricher: Enricher, text: str) -> tuple[tuple[float, ...], list[str]]:
    r = enricher.kernels.read(text)
    return (tone.dense(r.sentiment, rules_label(r.sentiment), r.lower, r.words, r.scan),
            tone.terms(r.words.tokens))


def handles(texts: list[str]) -> frozenset[str]:
    """Names the tweets address (@microsoft, @united), seen so at least HANDLE_COUNT times: a
    name's weight would be what the tweets of 2013-2016 felt about that company or person, and
    in a workspace of that company every post would carry it. They get no weight."""
    counts = collections.Counter(h.lower() for t in texts for h in re.findall(r"@(\w+)", t))
    return frozenset(h for h, c in counts.items() if c >= HANDLE_COUNT)


def fit(xs: list, ys: list[str], names: frozenset[str] = frozenset()
        ) -> tuple[list[list[float]], dict[str, list[float]]]:
    counts = collections.Counter(t for _, ts in xs for t in ts)
    vocab = {t: i for i, t in enumerate(sorted(
        t for t, c in counts.items()
        if c >= MIN_COUNT and names.isdisjoint(t.split(" "))))}
    nd = len(tone.DENSE)
    rows, cols, vals = [], [], []
    for i, (d, ts) in enumerate(xs):
        for j, v in enumerate(d):
            if v:
                rows.append(i), cols.append(j), vals.append(v)
        scale = 1.0 / len(ts) ** 0.5 if ts else 0.0
        for t, c in collections.Counter(ts).items():
            j = vocab.get(t)
            if j is not None:
                rows.append(i), cols.append(nd + j), vals.append(c * scale)
    m = sparse.csr_matrix((vals, (rows, cols)), shape=(len(xs), nd + len(vocab)))
    y = np.array([CLASSES.index(v) for v in ys])
    w = np.ones(len(y))
    for k in range(3):  # classes balanced
        w[y == k] = len(y) / (3 * (y == k).sum())
    lr = LogisticRegression(C=C, max_iter=5000, fit_intercept=False)
    lr.fit(m, y, sample_weight=w)
    coef = lr.coef_  # (negative, neutral, positive) x features
    margins = np.stack([coef[0] - coef[1], coef[2] - coef[1]], axis=1)
    dense_w = [[round(float(a), 4), round(float(b), 4)] for a, b in margins[:nd]]
    terms = {t: [round(float(margins[nd + j][0]), 3), round(float(margins[nd + j][1]), 3)]
             for t, j in vocab.items() if abs(margins[nd + j]).max() >= PRUNE}
    return dense_w, terms


def evaluate(model: tone.Tone, enricher: Enricher, sets: dict) -> dict:
    """Macro-recall of the rules, of the model on every post, and as shipped (the model reads
    the posts the rules call neutral: enrich.py) on each set."""
    out = {}
    for name, rows in sets.items():
        rules, learned, shipped = [], [], []
        for _, text, gold in rows:
            r = enricher.kernels.read(text)
            label = rules_label(r.sentiment)
            rules.append((gold, label))
            read = model.read(r.sentiment, label, r.lower, r.words, r.scan)[0]
            learned.append((gold, read))
            shipped.append((gold, read if label == "neutral" else label))
        classes = SETS[name][2] if name in SETS else CLASSES
        out[name] = {"rows": len(rows),
                     "rules": round(macro_recall(rules, classes)[0], 4),
                     "model": round(macro_recall(learned, classes)[0], 4),
                     "shipped": round(macro_recall(shipped, classes)[0], 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tweets", type=Path, required=True,
                        help="folder of SemEval-2013-2016 task A .tsv files, or TweetEval's "
                             "datasets/sentiment")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check-only", action="store_true", help="train and score, write nothing")
    parser.add_argument("--hold-out", action="append", default=[], metavar="FILE",
                        help="train without this file of --tweets and read the model on it (an "
                             "unseen year: twitter-2016test-A.tsv); implies --check-only")
    args = parser.parse_args(argv)
    data = data_folder(args.data, "check the model on")
    if data is None:
        return 1
    sets = load(data)
    held_out = {key(t) for _, t, _ in sets["tweeteval"]}
    rows, stats, apart = pool(args.tweets, held_out, tuple(args.hold_out))
    print(f"training tweets: {stats}", file=sys.stderr)
    if args.hold_out:
        sets = {"held out": [(i, t, g) for i, (_, t, g) in enumerate(apart)], **sets}
        args.check_only = True
    enricher = Enricher(compiled=True)
    t0 = time.perf_counter()
    xs = [featurise(enricher, t) for t, _ in rows]
    names = handles([t for t, _ in rows])
    dense_w, terms = fit(xs, [g for _, g in rows], names)
    print(f"trained in {time.perf_counter() - t0:.0f} s: {len(terms):,} terms "
          f"({len(names):,} names addressed in the tweets left out)", file=sys.stderr)
    card = {"name": "tone", "trained": date.today().isoformat(), "classes": list(CLASSES),
            "features": {"dense": list(tone.DENSE), "terms": "tokens and neighbour pairs "
                         "(domain/tone.py terms), each 1/sqrt(count of terms)"},
            "data": {"source": "SemEval-2013-2016 Task 4 subtask A tweets, the pool of "
                     "TweetEval's sentiment train and validation splits",
                     "licence": "TweetEval: released without any restrictions; the tweets "
                                "are subject to Twitter's terms",
                     "excluded": "TweetEval sentiment validation (our development set) and "
                                 "SemEval-2017 (TweetEval's test split)",
                     "counts": stats,
                     "labels": dict(collections.Counter(g for _, g in rows))},
            "use": "enrich.py: the model reads the posts the rules' lexicon score leaves "
                   "neutral; the rules' polar calls stand",
            "training": {"model": "multinomial logistic regression, classes balanced",
                         "C": C, "min_count": MIN_COUNT, "prune": PRUNE,
                         "names_left_out": len(names), "handle_count": HANDLE_COUNT},
            "command": "python scripts/build_tone_model.py --tweets DIR"}
    model = tone.Tone(dense_w, terms, card)
    card["macro_recall"] = evaluate(model, enricher, sets)
    for name, f in card["macro_recall"].items():
        print(f"{name:<10} {f['rows']:>6}  rules {f['rules']:.3f}  model {f['model']:.3f}  "
              f"shipped {f['shipped']:.3f} ({f['shipped'] - f['rules']:+.3f})")
    if not args.check_only:
        doc = json.dumps({"card": card, "dense": dense_w, "terms": terms}, sort_keys=True,
                         separators=(",", ":"), ensure_ascii=False).encode()
        args.out.write_bytes(gzip.compress(doc, mtime=0))
        print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
