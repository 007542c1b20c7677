"""`ev eval FILE --signal answer-match`: how well a question finds the answer already written.

The labelled file (BANKING77's shape: `text`, `label` = the intent) stands for a workspace's
answered questions: every label is one answer, every row a customer's way of asking for it.
Five-fold cross-validation (row i in fold i mod 5): each fold's questions are matched against
the other four folds' rows, so no question ever matches itself, and every row is asked once.

Top-1 / top-3 accuracy: the right answer is the first / among the first three distinct answers
suggested. Questions/s: CPU time of this process to answer the fold's questions (for the
vectors, embedding the questions is included; building the index is counted apart).

Side by side in the same run, on the same folds:
- TF-IDF: scikit-learn's TfidfVectorizer with its defaults, cosine to the nearest row (the
  plain baseline; needs the `learn` extra).
- BM25: ours, what the default install suggests with (pure Python).
- BM25 + MiniLM: ours with the sentence vectors fused in (the `embed` extra).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from escapevelocity.domain.answers.match import Entry, Index
from escapevelocity.evaluation.signals import read_rows

FOLDS = 5


def _score(gold: Sequence[str], ranked: Sequence[Sequence[str]], seconds: float,
           index_seconds: float) -> dict:
    n = len(gold)
    top1 = sum(1 for g, r in zip(gold, ranked, strict=True) if r[:1] == [g] or r[:1] == (g,))
    top3 = sum(1 for g, r in zip(gold, ranked, strict=True) if g in r[:3])
    return {"top1": round(top1 / n, 4), "top3": round(top3 / n, 4),
            "questions_per_s": round(n / seconds) if seconds > 0 else None,
            "seconds": round(seconds, 2), "index_seconds": round(index_seconds, 2)}


def _folds(rows: Sequence[dict]) -> list[tuple[list[int], list[int]]]:
    out = []
    for f in range(FOLDS):
        test = [i for i in range(len(rows)) if i % FOLDS == f]
        train = [i for i in range(len(rows)) if i % FOLDS != f]
        out.append((train, test))
    return out


def _ours(rows: Sequence[dict], vectors: Callable | None) -> dict:
    gold, ranked, seconds, index_seconds = [], [], 0.0, 0.0
    all_vectors = None
    if vectors is not None:
        # each text is embedded once; the query side's share is charged to answering below
        started = time.process_time()
        all_vectors = vectors([str(r["text"]) for r in rows])
        embed_each = (time.process_time() - started) / max(len(rows), 1)
    for train, test in _folds(rows):
        entries = [Entry(id=str(rows[i].get("id", i)), question=str(rows[i]["text"]),
                         answer=str(rows[i]["label"]), answer_id=str(rows[i]["label"]))
                   for i in train]
        started = time.process_time()
        if all_vectors is not None:
            matrix = all_vectors[train]
            index = Index(entries, vectors=lambda _texts, m=matrix: m)
        else:
            index = Index(entries)
        index_seconds += time.process_time() - started
        started = time.process_time()
        for i in test:
            qv = all_vectors[i] if all_vectors is not None else None
            hits = index.search(str(rows[i]["text"]), k=3, query_vector=qv)
            ranked.append([h.entry.key for h in hits])
            gold.append(str(rows[i]["label"]))
        seconds += time.process_time() - started
    if all_vectors is not None:
        seconds += embed_each * len(rows)
        index_seconds += embed_each * len(rows) * (FOLDS - 1)
    return _score(gold, ranked, seconds, index_seconds)


def _tfidf(rows: Sequence[dict]) -> dict | None:
    try:
        import numpy as np
        from sklearn.feature_extraction.text import TfidfVectorizer
    except ImportError:
        return None
    gold, ranked, seconds, index_seconds = [], [], 0.0, 0.0
    texts = [str(r["text"]) for r in rows]
    labels = [str(r["label"]) for r in rows]
    for train, test in _folds(rows):
        started = time.process_time()
        vec = TfidfVectorizer()
        matrix = vec.fit_transform([texts[i] for i in train])
        train_labels = [labels[i] for i in train]
        index_seconds += time.process_time() - started
        started = time.process_time()
        sims = (vec.transform([texts[i] for i in test]) @ matrix.T).toarray()
        for row, i in zip(sims, test, strict=True):
            seen: list[str] = []
            for j in np.argsort(-row, kind="stable"):
                lab = train_labels[j]
                if lab not in seen:
                    seen.append(lab)
                    if len(seen) == 3:
                        break
            ranked.append(seen)
            gold.append(labels[i])
        seconds += time.process_time() - started
    return _score(gold, ranked, seconds, index_seconds)


def evaluate(rows: Sequence[dict], file: str = "", vectors: bool = True) -> dict:
    report: dict = {"signal": "answer-match", "file": file, "rows": len(rows), "folds": FOLDS,
                    "answers": len({str(r["label"]) for r in rows})}
    report["tfidf"] = _tfidf(rows)
    report["bm25"] = _ours(rows, None)
    report["bm25_minilm"] = None
    if vectors:
        try:
            from escapevelocity.domain import embedding
        except ImportError:  # no numpy: the base install
            embedding = None  # type: ignore[assignment]
        if embedding is not None and embedding.available():
            report["bm25_minilm"] = _ours(rows, embedding.embed)
        else:
            report["note"] = ("sentence vectors not installed "
                              "(pip install 'escapevelocity[embed]')")
    return report


def evaluate_file(path: Path) -> dict:
    rows, bad = read_rows(path)
    report = evaluate(rows, file=str(path))
    report["unreadable_lines"] = bad
    return report


NAMES = {"tfidf": "TF-IDF baseline (scikit-learn, cosine)", "bm25": "BM25 (ours, default install)",
         "bm25_minilm": "BM25 + MiniLM vectors (ours, embed extra)"}


def render(report: dict, console: Console) -> None:
    console.print(f"[bold]answer-match[/] on {report['file'] or 'rows'}: {report['rows']:,} "
                  f"questions, {report['answers']} answers, {report['folds']}-fold "
                  "cross-validation (no question matches itself)")
    table = Table(title="question -> answer (same folds, same run)")
    for col in ("matcher", "top-1", "top-3", "questions/s", "index s"):
        table.add_column(col, justify="left" if col == "matcher" else "right")
    for key, name in NAMES.items():
        m = report.get(key)
        if m:
            table.add_row(name, f"{m['top1']:.3f}", f"{m['top3']:.3f}",
                          f"{m['questions_per_s']:,}", f"{m['index_seconds']}")
        else:
            table.add_row(name, "–", "–", "–", "not installed")
    console.print(table)
    if report.get("note"):
        console.print(report["note"])
