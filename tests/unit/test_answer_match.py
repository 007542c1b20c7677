"""The answer matcher: the right answer comes first, the reason names the shared words, scores
are absolute (0-1), and the eval never lets a question match itself."""

from __future__ import annotations

from escapevelocity.domain.answers.match import Entry, Index, words
from escapevelocity.evaluation import answers as evaluation

ENTRIES = [
    Entry(id="a1", question="How do I reset my password?", answer="Settings > Security.",
          answer_id="password"),
    Entry(id="a2", question="My card has not arrived yet", answer="Cards take 5 days.",
          answer_id="card"),
    Entry(id="a3", question="Where is my new card? still waiting", answer="Cards take 5 days.",
          answer_id="card"),
]


def test_the_matching_answer_comes_first_with_its_reason():
    hits = Index(ENTRIES).search("I forgot my password and need to reset it", k=3)
    assert hits[0].entry.key == "password"
    assert set(hits[0].matched) == {"password", "reset"}
    assert "password" in hits[0].reason
    assert 0.0 < hits[0].score <= 1.0


def test_one_suggestion_per_answer():
    hits = Index(ENTRIES).search("still waiting for my card to arrive", k=3)
    assert [h.entry.key for h in hits] == ["card"]


def test_no_shared_word_no_suggestion_without_vectors():
    assert Index(ENTRIES).search("bonjour tout le monde") == []


def test_words_drop_stopwords_and_fold_plurals():
    assert words("Where are my cards?") == ["card"]


def test_cross_validation_never_matches_a_question_to_itself():
    # every question is unique to its own answer: if a question could see itself it would
    # always score top-1; held out, it has nothing to match
    rows = [{"id": str(i), "text": f"zebra{i} quokka{i}", "label": f"l{i}"} for i in range(20)]
    report = evaluation.evaluate(rows, vectors=False)
    assert report["bm25"]["top1"] == 0.0
    same = [{"id": str(i), "text": "card arrival late", "label": "card"} for i in range(10)]
    assert evaluation.evaluate(same, vectors=False)["bm25"]["top1"] == 1.0


def test_vectors_find_the_same_question_in_other_words():
    np = __import__("pytest").importorskip("numpy")
    # a stand-in encoder: "lost" and "stolen" mean the same to it, as they would to MiniLM
    axes = {"password": 0, "reset": 0, "card": 1, "lost": 2, "stolen": 2, "missing": 2}

    def vectors(texts):
        out = np.zeros((len(texts), 3), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in words(t):
                if w in axes:
                    out[i, axes[w]] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    entries = [*ENTRIES, Entry(id="a4", question="My card was stolen", answer="Freeze it.",
                               answer_id="stolen")]
    hits = Index(entries, vectors=vectors).search("card missing", k=2)
    assert hits[0].entry.key == "stolen" and hits[0].score > 0.5
