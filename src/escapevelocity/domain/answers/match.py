"""Question-to-answer matching: BM25 over the words of answered questions and articles, with
the sentence vectors (domain/embedding) fused in when the `embed` extra is installed.

Why BM25 and not a vector store: the knowledge store is small (a workspace's resolved cases
and its articles, thousands, not millions), the default install has no numpy, and a match
must say why it matched. BM25 names the shared words; the nearest-case vector names the case.
Both are plain functions of the entries and the question, so the case page, the auto-reply
guard and `ev eval --signal answer-match` score the same way.

An entry is one answered question (`question`, the words a customer used) with its `answer`
(the reply that resolved it, or an article). Several entries may share an answer (`answer_id`):
suggestions are ranked per answer, by its best-matching entry.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence

import msgspec

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Words that say nothing about what is asked: the shape of a question, not its topic.
STOPWORDS = frozenset(str.split("""
a about above after again all am an and any are as at be been being but by can could did do
does doing for from had has have having he her here hers him his how i i'm if in into is it
it's its just me my myself no nor not of on once only or other our ours out own please same
she should so some such than that the their them then there these they this those through to
too very was we were what when where which while who whom why will with would you your yours
yourself hi hello hey thanks thank get got im ive i've can't cant dont don't
"""))
K1, B = 1.2, 0.75
# The vector's share in a fused score (the rest is BM25, scaled to the best hit's): words say
# which topic, vectors catch the same question in other words.
VECTOR_WEIGHT = 0.7


def words(text: str) -> list[str]:
    """The content words of a text, lower-cased, with a crude plural fold (cards -> card)."""
    out = []
    for w in _WORD.findall(text.lower()):
        if w in STOPWORDS:
            continue
        if len(w) > 4 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


class Entry(msgspec.Struct, frozen=True):
    """One answered question: where it came from (`source`: case, article, community) and
    its reference there (a case id, a file, a feed item's link)."""

    id: str
    question: str
    answer: str
    answer_id: str = ""
    source: str = "case"
    ref: str = ""
    title: str = ""
    approved: bool = False  # an approved answer: auto-reply may use it (domain/answers/guard)
    team: str = ""  # a saved reply's team: offered on that team's cases only
    author: str = ""  # who wrote a community answer (credited as a super user when linked)

    @property
    def key(self) -> str:
        return self.answer_id or self.id


class Suggestion(msgspec.Struct, frozen=True):
    """A suggested answer: the entry that matched best, and why (the shared words; the nearest
    case). `score` is an absolute confidence in 0-1 (the share of the question's word weight
    the entry covers; with vectors, fused with the cosine), comparable across questions, so a
    threshold means the same thing everywhere; the ranking itself is BM25's (and the vectors')."""

    entry: Entry
    score: float
    matched: tuple[str, ...] = ()
    reason: str = ""


class Index:
    """BM25 postings over the entries' questions (and article titles). `vectors`, when given,
    is a callable turning texts into L2-normalised rows (domain/embedding.embed)."""

    def __init__(self, entries: Sequence[Entry],
                 vectors: Callable[[Sequence[str]], object] | None = None) -> None:
        self.entries = list(entries)
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.lengths: list[int] = []
        for i, e in enumerate(self.entries):
            tf = Counter(words(f"{e.title} {e.question}"))
            self.lengths.append(sum(tf.values()))
            for w, n in tf.items():
                self.postings[w].append((i, n))
        n = max(len(self.entries), 1)
        self.avg = (sum(self.lengths) / n) or 1.0
        self.idf = {w: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5))
                    for w, p in self.postings.items()}
        self.vectors = vectors
        self.matrix = (vectors([f"{e.title} {e.question}".strip() for e in self.entries])
                       if vectors is not None and self.entries else None)

    def bm25(self, query: Iterable[str]) -> dict[int, float]:
        scores: dict[int, float] = defaultdict(float)
        for w in set(query):
            idf = self.idf.get(w)
            if idf is None:
                continue
            for i, tf in self.postings[w]:
                norm = K1 * (1 - B + B * self.lengths[i] / self.avg)
                scores[i] += idf * tf * (K1 + 1) / (tf + norm)
        return scores

    def search(self, question: str, k: int = 3, query_vector: object = None
               ) -> list[Suggestion]:
        """The `k` best answers for `question`, best first, one suggestion per answer."""
        q = words(question)
        lexical = self.bm25(q)
        top = max(lexical.values(), default=0.0) or 1.0
        if self.matrix is not None:
            if query_vector is None:
                query_vector = self.vectors([question])[0]  # type: ignore[misc,index]
            sims = self.matrix @ query_vector  # type: ignore[operator]
            combined = {i: VECTOR_WEIGHT * float(s) for i, s in enumerate(sims)}
            for i, s in lexical.items():
                combined[i] += (1 - VECTOR_WEIGHT) * s / top
        else:
            combined = {i: s / top for i, s in lexical.items()}
            sims = None
        return self._best_per_answer(combined, set(q), k, sims)

    def coverage(self, q: set[str], shared: Iterable[str]) -> float:
        """The share of the question's word weight (IDF; a word the store never saw weighs
        the most) found in the entry."""
        most = math.log(1 + (len(self.entries) + 0.5) / 0.5)
        total = sum(self.idf.get(w, most) for w in q)
        return sum(self.idf.get(w, most) for w in shared) / total if total else 0.0

    def _best_per_answer(self, scores: dict[int, float], q: set[str], k: int,
                         sims: object = None) -> list[Suggestion]:
        best: dict[str, tuple[float, int]] = {}
        for i, s in scores.items():
            key = self.entries[i].key
            if key not in best or s > best[key][0]:
                best[key] = (s, i)
        ranked = sorted(best.values(), key=lambda t: (-t[0], t[1]))[:k]
        out = []
        for _, i in ranked:
            e = self.entries[i]
            shared = tuple(sorted(q & set(words(f"{e.title} {e.question}"))))
            confidence = self.coverage(q, shared)
            if sims is not None:
                cos = max(float(sims[i]), 0.0)  # type: ignore[index]
                confidence = VECTOR_WEIGHT * cos + (1 - VECTOR_WEIGHT) * confidence
            out.append(Suggestion(entry=e, score=round(confidence, 4), matched=shared,
                                  reason=explain(e, shared)))
        return out


def explain(entry: Entry, shared: Sequence[str]) -> str:
    where = {"case": f"nearest resolved case {entry.ref}", "article": f"article {entry.ref}",
             "community": f"community answer {entry.ref}",
             "saved": f"saved reply {entry.ref}"}.get(entry.source, entry.ref)
    said = f"shared words: {', '.join(shared[:8])}" if shared else "same meaning, no shared words"
    return f"{where}; {said}"
