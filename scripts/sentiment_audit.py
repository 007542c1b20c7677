"""Where the sentiment rules could still gain on unseen tweets (issue #16), judged on the sets
the rules were not written on: each angle below changes one thing, rescoring every set of
scripts/sentiment_sets.py (TweetEval sentiment val, Sanders, airline, TweetEval emotion as
polarity) with the shipped edges (-0.2 / 0.3), and prints the change in macro-recall per set.
Nothing here is shipped; the figures are in docs/signals.md.

    python scripts/sentiment_audit.py overrides  # each lexicon.yaml entry back to VADER's value
    python scripts/sentiment_audit.py words      # words whose posts disagree with their sign
    python scripts/sentiment_audit.py constants  # the sentiment loop's constants, one at a time
    python scripts/sentiment_audit.py calibrate  # own edges for one kind of post, one set left out
    python scripts/sentiment_audit.py selftrain [--emoji]  # word valences learnt from the rules'
                        # confident calls (or emoji) on unlabelled, openly licensed tweets

`selftrain` reads TweetEval offensive, hate and irony (texts only) and CrisisLex T6/T26 (MIT):
never the sentiment or emotion rows it is scored on.
"""

from __future__ import annotations

import argparse
import collections
import copy
import json
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sentiment_sets as S

from escapevelocity.domain import enrich as E
from escapevelocity.domain import kernels as K
from escapevelocity.domain import lexicons

NAMES = ("tweeteval", "sanders", "airline", "emotion")
OTHERS = ("sanders", "airline", "emotion")  # the sets no rule was written from
POOL = ("tweeteval/offensive_train.jsonl", "tweeteval/offensive_val.jsonl",
        "tweeteval/hate_train.jsonl", "tweeteval/hate_val.jsonl", "tweeteval/irony_train.jsonl",
        "tweeteval/irony_val.jsonl", "crisislex/t6_dev.jsonl", "crisislex/t26_dev.jsonl")


class Bench:
    def __init__(self, data: Path) -> None:
        self.sets = S.load(data)
        self.data = data
        self.shipped = copy.deepcopy(lexicons.shipped())
        self._shipped_fn = lexicons.shipped
        self.base = self.evaluate(self.scores(self.enricher()))

    def enricher(self, mod=None, compiled: bool = True) -> E.Enricher:
        """An Enricher over the shipped lexicon as `mod` changes it."""
        lex = copy.deepcopy(self.shipped)
        if mod:
            mod(lex)
        lexicons.shipped = lambda: lex
        # An Enricher takes its word tables from a per-process cache of the shipped lexicon
        # (enrich._word_tables): without emptying it, every changed lexicon scored as shipped.
        E._word_tables.cache_clear()
        try:
            return E.Enricher(compiled=compiled)
        finally:
            lexicons.shipped = self._shipped_fn
            E._word_tables.cache_clear()

    def scores(self, en: E.Enricher) -> dict[str, list[float]]:
        read = en.kernels.read
        return {n: [read(t)[6] for _, t, _ in rows] for n, rows in self.sets.items()}

    def evaluate(self, scores: dict, label=None) -> dict[str, float]:
        out = {}
        for n, rows in self.sets.items():
            pairs = [(g, label(s, k, n) if label else
                      "negative" if s <= E.NEGATIVE_EDGE else
                      "positive" if s >= E.POSITIVE_EDGE else "neutral")
                     for k, ((_, _, g), s) in enumerate(zip(rows, scores[n], strict=True))]
            out[n] = S.macro_recall(pairs, S.SETS[n][2])[0]
            out[n + " B"] = S.macro_recall([p for (i, _, _), p in zip(rows, pairs, strict=True)
                                            if S._bucket(i, 2) == 1], S.SETS[n][2])[0]
        return out

    def delta(self, o: dict) -> dict[str, float]:
        return {n: o[n] - self.base[n] for n in o}

    @staticmethod
    def line(d: dict) -> str:
        return "  ".join(f"{n[:4]} {d[n]:+.4f}" for n in NAMES) + \
            "   B: " + " ".join(f"{d[n + ' B']:+.3f}" for n in NAMES)


def overrides(b: Bench, args) -> None:
    """Each entry of lexicon.yaml's words, problems, emoji, hashtag cues and phrases removed
    (a VADER word back to VADER's value): which of our own entries fit one set only."""
    vader = lexicons.vader()
    for sec in ("words", "problems", "emoji", "hashtag_cues", "phrases"):
        for k in list(b.shipped[sec]):
            d = b.delta(b.evaluate(b.scores(b.enricher(lambda lex, s=sec, k=k: lex[s].pop(k)))))
            if any(abs(v) > 1e-9 for v in d.values()):
                print(f"{sec:12} {k!r:24} vader {vader.get(k)!s:5}  {b.line(d)}", flush=True)


def words(b: Bench, args) -> None:
    """Lexicon words whose posts in the three other sets carry the opposite label more often
    than their own (recall-normalised), each set to 0 and to half its valence."""
    en = b.enricher()
    stats: dict = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
    totals = {n: collections.Counter(g for _, _, g in rows) for n, rows in b.sets.items()}
    for n, rows in b.sets.items():
        for _, t, g in rows:
            for w in set(en.kernels.read(t)[4][0]):
                e = en.entries.get(w)
                if e is not None and not e.negation_alone:
                    stats[w][n][g] += 1
    candidates = []
    for w, per in stats.items():
        v = en.entries[w].valence
        own, other = ("positive", "negative") if v > 0 else ("negative", "positive")
        if sum(sum(per[n].values()) for n in OTHERS) < 8:
            continue
        agree = sum(per[n][own] / totals[n][own] for n in OTHERS)
        oppose = sum(per[n][other] / totals[n][other] for n in OTHERS)
        if oppose >= agree:
            candidates.append(w)
    print(f"{len(candidates)} words whose posts lean the other way")
    kept = []
    for w in candidates:
        for f in (0.0, 0.5):
            def mod(lex, w=w, f=f):
                lex["problems" if w in lex["problems"] else "words"][w] = en.entries[w].valence * f
            d = b.delta(b.evaluate(b.scores(b.enricher(mod))))
            print(f"{w!r:18} x{f}  {b.line(d)}", flush=True)
            if min(d[n] for n in OTHERS) >= -0.0005 and sum(d[n] > 0.0005 for n in OTHERS) >= 2:
                kept.append((w, f))
    print("helps two of the three other sets and costs none:", kept or "none")


def constants(b: Bench, args) -> None:
    """The sentiment loop's constants one at a time (Python kernels: the compiled ones read
    them at import)."""
    def run():
        return b.delta(b.evaluate(b.scores(b.enricher(compiled=False))))
    print(f"{'shipped (python kernels)':30} {b.line(run())}")
    sweeps = {"NEGATIVE_WEIGHT": [0.9, 1.0, 1.3], "MIXED_POSITIVE_SCALE": [0.5, 0.85, 1.0],
              "QUESTION_POSITIVE_SCALE": [0.4, 0.8, 1.0], "NEGATION_ALONE": [-0.3, -0.7],
              "NAME_SCALE": [0.0, 0.5, 1.0], "EXCLAIM_ALONE": [0.0, 1.6]}
    for name, values in sweeps.items():
        shipped = getattr(K, name)
        for v in values:
            setattr(K, name, v)
            print(f"{name} {shipped} -> {v}".ljust(30), b.line(run()), flush=True)
        setattr(K, name, shipped)
    negations = [w for w, m in K.MODIFIERS.items() if m == K.NEGATION_SCALE]
    for v in (-0.3, -0.5, -1.0):  # what a negation multiplies the word after it by
        K.MODIFIERS.update(dict.fromkeys(negations, v))
        print(f"NEGATION_SCALE {K.NEGATION_SCALE} -> {v}".ljust(30), b.line(run()), flush=True)
    K.MODIFIERS.update(dict.fromkeys(negations, K.NEGATION_SCALE))


def calibrate(b: Bench, args) -> None:
    """Own label edges for one kind of post (one sentiment word, three or more, a question, a
    link, addressed to someone, short, long, "!"): chosen on two of the three three-class sets
    (emotion may not fall by more than 0.005), read on the third."""
    en = b.enricher()
    feats = {}
    for n, rows in b.sets.items():
        feats[n] = []
        for _, t, _ in rows:
            r = en.kernels.read(t)
            because = r[7]
            nr = 0 if because == "no sentiment words" else because.count(",") + 1
            feats[n].append(dict(nr=nr,
                                 q="?" in t, url="http" in t, at=t[:1] == "@", ex="!" in t,
                                 ntok=len(r[4][0])))
    scores = b.scores(en)
    kinds = {"one word": lambda f: f["nr"] == 1, "3+ words": lambda f: f["nr"] >= 3,
             "question": lambda f: f["q"], "link": lambda f: f["url"],
             "to someone": lambda f: f["at"], "< 8 words": lambda f: f["ntok"] < 8,
             ">= 20 words": lambda f: f["ntok"] >= 20, "'!'": lambda f: f["ex"]}
    grid = [(a / 20, c / 20) for a in range(-10, -1) for c in range(2, 11)]
    three = ("tweeteval", "sanders", "airline")
    for kind, cond in kinds.items():
        table = {}
        for neg, pos in grid:
            def label(s, k, n, neg=neg, pos=pos, cond=cond):
                lo, hi = (neg, pos) if cond(feats[n][k]) else (E.NEGATIVE_EDGE, E.POSITIVE_EDGE)
                return "negative" if s <= lo else "positive" if s >= hi else "neutral"
            table[(neg, pos)] = b.delta(b.evaluate(scores, label))
        held = []
        for out in three:
            rest = [n for n in three if n != out]
            ok = [kv for kv in table.items() if kv[1]["emotion"] >= -0.005]
            edges, d = max(ok, key=lambda kv: statistics.mean(kv[1][n] for n in rest))
            held.append(f"{out[:4]} {edges} {d[out]:+.3f}")
        print(f"{kind:12} " + " | ".join(held))


def selftrain(b: Bench, args) -> None:
    """Distant supervision: the rules' confident calls (|score| >= conf) on unlabelled, openly
    licensed tweets label them (with --emoji: the sign of their emoji and emoticons, conf
    ignored); words the lexicon lacks get a smoothed log-odds valence."""
    en = b.enricher()
    faces = {k: e.valence for k, e in en.entries.items() if not (k[0].isalpha() or k[0] == "#")}
    known = set(en.entries) | set(en.zero) | set(b.shipped.get("english", []))
    seen, pool = set(), []
    for f in POOL:
        for line in (b.data / f).read_text(encoding="utf-8").splitlines():
            t = json.loads(line).get("text") or ""
            key = t.lower().strip()
            if key.startswith("rt @"):
                key = key.split(":", 1)[-1].strip()
            if key not in seen:
                seen.add(key)
                r = en.kernels.read(t)
                score = r[6]
                if args.emoji:  # emoticons are tokens, emoji are characters
                    score = math.copysign(1.0, v) if (v := sum(faces.get(w, 0) for w in r[4][0])
                                                      + sum(faces.get(c, 0) for c in t
                                                            if ord(c) > 0x2000)) else 0.0
                pool.append((score, set(r[4][0])))
    print(f"{len(pool)} distinct unlabelled tweets")
    for conf in (0.5,) if args.emoji else (0.5, 0.3):
        pc, nc = collections.Counter(), collections.Counter()
        P = N = 0
        for s, toks in pool:
            if abs(s) < conf:
                continue
            c = pc if s > 0 else nc
            P, N = (P + 1, N) if s > 0 else (P, N + 1)
            c.update(w for w in toks if len(w) > 2 and (w[0].isalpha() or w[0] == "#")
                     and w not in known)
        prior = math.log(P / N)
        for m in (10, 30):
            for t in (1.0, 1.5):
                for scale in (0.5, 1.0):
                    learnt = {}
                    for w in set(pc) | set(nc):
                        p, n = pc[w], nc[w]
                        if p + n < m:
                            continue
                        lo = math.log((p + 2 * P / (P + N)) / (n + 2 * N / (P + N))) - prior
                        if abs(lo) >= t:
                            learnt[w] = max(-2.0, min(2.0, scale * lo))
                    d = b.delta(b.evaluate(b.scores(b.enricher(
                        lambda lex, L=learnt: lex["words"].update(L)))))
                    print(f"conf {conf} min {m} |log-odds| {t} x{scale} words {len(learnt):4}  "
                          f"{b.line(d)}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("angle", choices=["overrides", "words", "constants", "calibrate",
                                          "selftrain"])
    parser.add_argument("--emoji", action="store_true",
                        help="selftrain: label the unlabelled tweets by their emoji and emoticons")
    parser.add_argument("--data", type=Path, default=S.DATA)
    args = parser.parse_args(argv)
    data = S.data_folder(args.data)
    if data is None:
        return 1
    b = Bench(data)
    print("shipped rules: " + "  ".join(f"{n[:4]} {b.base[n]:.3f}" for n in NAMES))
    globals()[args.angle](b, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
