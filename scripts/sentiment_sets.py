"""Sentiment out of the box on every three-class tweet set in ../shared/data, side by side, so
a rule is judged on all of them and not on the one it was written from (issue #16: the rules
read 0.650 on TweetEval's development part and 0.601 on its unseen tweets).

Sets (macro-recall over the classes each has):
- tweeteval: TweetEval sentiment, validation split (negative / neutral / positive);
- sanders: Sanders brand mentions (negative / neutral / positive; "irrelevant" left out);
- airline: tweets to six US airlines (negative / neutral / positive);
- emotion: TweetEval emotion, train + validation, as polarity: joy and optimism are positive,
  anger and sadness negative; the mean recall of those two (a post read neutral is a miss).

Every set is also cut into two halves by a stable hash of the row's id: A is the half the
errors were read on (`--errors`), B the half nobody looked at; a general rule moves both alike.
TweetEval is also cut into five folds (same hash) to show how far macro-recall moves between
400-tweet samples of the same kind.

    python scripts/sentiment_sets.py [--vader] [--json OUT]
    python scripts/sentiment_sets.py --errors airline [--half A] [--limit 60] [--gold negative]

The data is read where it is (../shared/data, or --data); nothing of it is copied.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import zlib
from pathlib import Path

from escapevelocity.domain.enrich import Enricher
from escapevelocity.evaluation.signals import mention

POLAR = {"joy": "positive", "optimism": "positive", "anger": "negative", "sadness": "negative"}
THREE = {"negative": "negative", "neutral": "neutral", "positive": "positive"}
# name -> (files under the data folder, label map, the classes whose recall is averaged)
SETS = {
    "tweeteval": (("tweeteval/sentiment_val.jsonl",), THREE, ("negative", "neutral", "positive")),
    "sanders": (("sanders_brand/dev.jsonl",), THREE, ("negative", "neutral", "positive")),
    "airline": (("airline_sentiment/dev.jsonl",), THREE, ("negative", "neutral", "positive")),
    "emotion": (("tweeteval/emotion_train.jsonl", "tweeteval/emotion_val.jsonl"), POLAR,
                ("negative", "positive")),
}
FOLDS = 5
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"  # --data's default


def data_folder(path: Path, doing: str = "score") -> Path | None:
    """`path` resolved, or None (said on stderr) when it holds no evaluation data: the
    sentiment scripts run beside ../shared/data, which is never shipped."""
    path = path.resolve()
    if not (path / "tweeteval").is_dir():
        print(f"{path}: no evaluation data (../shared/data); nothing to {doing}", file=sys.stderr)
        return None
    return path


def _bucket(row_id: str, n: int) -> int:
    return zlib.crc32(row_id.encode()) % n


def load(data: Path) -> dict[str, list[tuple[str, str, str]]]:
    """set -> [(id, text, gold label)], rows whose label does not map left out."""
    out = {}
    for name, (files, labels, _) in SETS.items():
        rows = []
        for f in files:
            for line in (data / f).read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                gold = labels.get(str(row.get("label")).lower())
                if gold:
                    rows.append((f"{f}:{row.get('id')}", str(row.get("text") or ""), gold))
        out[name] = rows
    return out


def macro_recall(pairs: list[tuple[str, str]], classes: tuple[str, ...]) -> tuple[float, dict]:
    recalls = {}
    for c in classes:
        gold = [p for g, p in pairs if g == c]
        recalls[c] = sum(p == c for p in gold) / len(gold) if gold else 0.0
    return sum(recalls.values()) / len(recalls), recalls


def vader_labels(texts: list[str]) -> list[str]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyser = SentimentIntensityAnalyzer()
    out = []
    for t in texts:
        c = analyser.polarity_scores(t)["compound"]
        out.append("negative" if c <= -0.05 else "positive" if c >= 0.05 else "neutral")
    return out


def score(sets: dict, predict) -> dict:
    report = {}
    for name, rows in sets.items():
        classes = SETS[name][2]
        preds = predict([t for _, t, _ in rows])
        pairs = [(g, p) for (_, _, g), p in zip(rows, preds, strict=True)]
        full, per_class = macro_recall(pairs, classes)
        halves = {h: macro_recall([pr for (i, _, _), pr in zip(rows, pairs, strict=True)
                                   if _bucket(i, 2) == k], classes)[0]
                  for k, h in enumerate("AB")}
        entry = {"rows": len(rows), "macro_recall": full, "recall": per_class, **halves}
        if name == "tweeteval":
            folds = [macro_recall([pr for (i, _, _), pr in zip(rows, pairs, strict=True)
                                   if _bucket(i, FOLDS) == k], classes)[0] for k in range(FOLDS)]
            entry["folds"] = folds
        report[name] = entry
    report["mean"] = statistics.mean(report[n]["macro_recall"] for n in SETS)
    return report


def render(report: dict, title: str) -> None:
    print(f"\n{title}")
    print(f"{'set':<10} {'rows':>6} {'macro-R':>8} {'A half':>7} {'B half':>7}  per-class recall")
    for name in SETS:
        e = report[name]
        per = "  ".join(f"{c[:3]} {r:.3f}" for c, r in e["recall"].items())
        print(f"{name:<10} {e['rows']:>6} {e['macro_recall']:>8.3f} {e['A']:>7.3f} "
              f"{e['B']:>7.3f}  {per}")
    print(f"{'mean':<10} {'':>6} {report['mean']:>8.3f}")
    folds = report["tweeteval"].get("folds")
    if folds:
        print(f"tweeteval {FOLDS} folds: " + " ".join(f"{f:.3f}" for f in folds)
              + f"  mean {statistics.mean(folds):.3f} sd {statistics.stdev(folds):.3f} "
              f"range {min(folds):.3f}-{max(folds):.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--vader", action="store_true", help="score vaderSentiment too")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--errors", choices=list(SETS), help="print misread rows of a set")
    parser.add_argument("--half", choices=["A", "B"], default="A")
    parser.add_argument("--gold", help="only rows with this gold label")
    parser.add_argument("--pred", help="only rows read as this label")
    parser.add_argument("--limit", type=int, default=60)
    args = parser.parse_args(argv)
    data = data_folder(args.data)
    if data is None:
        return 1
    sets = load(data)
    enricher = Enricher()

    def ours(texts: list[str]) -> list[str]:
        return [enricher.enrich(mention(t, i)).sentiment_label for i, t in enumerate(texts)]

    if args.errors:
        rows = [r for r in sets[args.errors] if _bucket(r[0], 2) == "AB".index(args.half)]
        misses = []
        for _, text, gold in rows:
            s = enricher.enrich(mention(text))
            if s.sentiment_label != gold and (not args.gold or gold == args.gold) and \
                    (not args.pred or s.sentiment_label == args.pred):
                misses.append((gold, s.sentiment_label, s.sentiment,
                               s.because.get("sentiment", ""),
                               text))
        random.Random(1).shuffle(misses)
        print(f"{len(misses)} misread of {len(rows)} ({args.errors}, half {args.half})")
        for gold, pred, sc, why, text in misses[:args.limit]:
            print(f"[{gold[:3]}→{pred[:3]} {sc:+.2f} {why}] {text!r}")
        return 0
    started = time.process_time()
    report = {"ours": score(sets, ours)}
    report["ours"]["cpu_s"] = round(time.process_time() - started, 2)
    render(report["ours"], f"Escape Velocity rules ({'compiled' if enricher.compiled else 'python'}"
                           f" kernels)")
    if args.vader:
        report["vader"] = score(sets, vader_labels)
        render(report["vader"], "vaderSentiment")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
