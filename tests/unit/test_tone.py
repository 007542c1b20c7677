"""The shipped sentiment model (domain/tone.py): its word loop compiled and in Python answer
the same, it only reads what the rules leave neutral, and it ships with a card that says what
it was trained on and what it scored (issue #16)."""

from __future__ import annotations

import importlib.util
import math
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from escapevelocity.domain import hotpath, tone
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.records import Author, Mention
from escapevelocity.domain.vocabulary import Vocabulary

MODEL = tone.shipped()
WORDS = sorted(MODEL.table)[:3000] if MODEL else []


def mention(text: str) -> Mention:
    return Mention(source_id="1", channel="twitter", text=text, author=Author(handle="someone"),
                   created_at=datetime(2026, 12, 6, tzinfo=UTC))


def test_the_model_ships_with_its_card():
    assert MODEL is not None, "domain/tone_model.json.gz is missing"
    card = MODEL.card
    assert "TweetEval" in card["data"]["source"] and "restrictions" in card["data"]["licence"]
    assert "SemEval-2017" in card["data"]["excluded"]
    assert card["data"]["counts"]["kept"] > 40_000
    figures = card["macro_recall"]
    # on tweets it never saw, the model as shipped beats the rules' in-sample figure
    assert figures["tweeteval"]["shipped"] > figures["tweeteval"]["rules"] + 0.015
    assert len(MODEL.terms) > 5_000 and len(MODEL.dense_neg) == len(tone.DENSE)


DENSE_VALUES = st.tuples(*[st.floats(-1, 1) if name.startswith("score") else
                           st.sampled_from((0.0, 1.0)) for name in tone.DENSE])


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(WORDS) | st.text(max_size=6), max_size=40), DENSE_VALUES)
def test_compiled_margins_answer_as_their_reference(tokens, x):
    compiled = hotpath.Weights(MODEL.terms, MODEL.dense_neg, MODEL.dense_pos)
    assert compiled.margins(tokens, x) == tone.margins(MODEL.table, MODEL.dense_neg,
                                                       MODEL.dense_pos, tokens, x)


# A model whose every dense feature has its own power of two: a feature the C read computes
# otherwise than tone.dense shows in the margins.
BITS = tone.Tone([[2.0 ** -i, 2.0 ** (i - 16)] for i in range(len(tone.DENSE))],
                 {"good": [0.0, 2.0]}, {})


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab ?!@:/htp#", max_size=30) | st.sampled_from([
    "@user this is useless, still broken!", "yeah right, love how it crashed",
    "read this http://x.co/a ?", "good good", "#sarcasm great", "you failed again"]),
    st.sampled_from(["negative", "neutral", "positive"]))
def test_compiled_dense_features_are_the_references(text, label):
    e = Enricher()
    r = e.kernels.read(text)
    for model in (BITS, MODEL):
        assert model.kernel(hotpath)(r.sentiment, label, r.lower, r.words, r.scan) == \
            model.read(r.sentiment, label, r.lower, r.words, r.scan)


THIRD = 1.0 / math.sqrt(3)


def test_pairs_are_found_from_their_two_words():
    zero = [[0.0, 0.0]] * len(tone.DENSE)
    x = (0.0,) * len(tone.DENSE)
    model = tone.Tone(zero, {"good": [0.0, 2.0], "not good": [3.0, -2.0], "not": [0.5, 0.0]}, {})
    compiled = hotpath.Weights(model.terms, model.dense_neg, model.dense_pos).margins
    for kernel in (partial(tone.margins, model.table, model.dense_neg, model.dense_pos),
                   compiled):
        assert kernel(["good"], x) == (0.0, 2.0, "", "good")
        # three terms (two words, one pair), each weighed 1/sqrt(3)
        assert kernel(["not", "good"], x) == (3.5 * THIRD, 0.0, "not good", "good")
        assert kernel(["good", "not"], x) == (0.5 * THIRD, 2.0 * THIRD, "not", "good")
        assert kernel([], x) == (0.0, 0.0, "", "")
        assert kernel(["good"], (1.0, *x[1:])) == (0.0, 2.0, "", "good")  # bias weight 0


def test_the_rules_polar_calls_stand_and_neutral_ones_are_read_again():
    with_model, rules = Enricher(), Enricher(model=False)
    polar = "@OrbitHelp my router died again"  # the rules: negative
    assert with_model.enrich(mention(polar)) == rules.enrich(mention(polar))
    # no sentiment word: neutral to the rules, negative to the model, which says so
    flat = "Phone companies are all the same"
    assert rules.enrich(mention(flat)).sentiment_label == "neutral"
    s = with_model.enrich(mention(flat))
    assert s.sentiment_label == "negative" and s.sentiment < 0
    assert "by the model" in s.because["sentiment"] and 0.34 < s.confidence["sentiment"] <= 1


def test_polarity_agrees_with_the_label():
    e = Enricher()
    for text in ("so happy with the new plan, thank you", "this is the worst, cancel it",
                 "Dark Souls 3 April Launch Date Confirmed With New Trailer", "meh", ""):
        s = e.enrich(mention(text))
        assert -1.0 <= s.sentiment <= 1.0
        if s.sentiment_label == "negative":
            assert s.sentiment < 0
        if s.sentiment_label == "positive":
            assert s.sentiment > 0


def test_a_negative_read_about_the_brand_is_a_complaint_not_venting():
    """No lexicon word, so only the model reads it negative; it names a product, so it is a
    complaint (answered), never venting (monitor): that branch was written when only the
    lexicon's score could make a post negative."""
    demo = Vocabulary.from_dict(yaml.safe_load(
        (Path(tone.__file__).parents[1] / "demo" / "vocabulary.yaml").read_text(encoding="utf-8")))
    s = Enricher(demo).enrich(mention("my broadband dropped again, please help"))
    assert s.sentiment_label == "negative" and s.topics
    assert s.situation == "complaint" and "venting" not in s.situations
    rules = Enricher(demo, model=False).enrich(mention("my broadband dropped again, please help"))
    assert rules.sentiment_label == "neutral" and rules.situation == "other"


def test_the_compiled_reading_refuses_what_would_crash_it():
    """hotpath runs without bounds checks: what is not what the kernels give is refused."""
    model = MODEL.kernel(hotpath).__self__
    r = Enricher().kernels.read("good and bad")
    as_tuple = r.words._replace(tokens=tuple(r.words.tokens))
    with pytest.raises(TypeError):
        model.read(r.sentiment, "neutral", r.lower, as_tuple, r.scan)
    with pytest.raises(TypeError):
        model.read(r.sentiment, "neutral", r.lower, tuple(r.words)[:5], r.scan)
    with pytest.raises(RuntimeError):
        hotpath.Weights.__new__(hotpath.Weights).margins(["a"], ())
    with pytest.raises(ValueError):
        hotpath.Weights({"a": (1.0, 2.0)}, (0.0,) * 3, (0.0,) * 2)
    with pytest.raises(RuntimeError):
        model.__init__(MODEL.terms, MODEL.dense_neg, MODEL.dense_pos)


def test_the_score_never_disagrees_with_the_label():
    """A tie of the two margins, or a difference that rounds to 0, still has the label's
    sign: a playbook's `sentiment_below: 0` never meets a positive post."""
    x = (1.0,) + (0.0,) * (len(tone.DENSE) - 1)
    tie = tone.Tone([[0.5, 0.5]] + [[0.0, 0.0]] * (len(tone.DENSE) - 1), {}, {})
    r = Enricher().kernels.read("")
    for read in (tie.read, tie.kernel(hotpath)):
        label, polarity, _, _ = read(0.0, "neutral", r.lower, r.words, r.scan)
        assert (label, polarity) == ("negative", -0.0001)
    assert tie.kernel(hotpath).__self__.margins([], x)[:2] == (0.5, 0.5)


def test_an_unseen_year_is_never_trained_on(tmp_path):
    """--hold-out: a tweet in the held-out file is not trained on, even when a training file
    carries it too; the development set's tweets are in neither."""
    spec = importlib.util.spec_from_file_location(
        "build_tone_model", Path(__file__).parents[2] / "scripts" / "build_tone_model.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    (tmp_path / "twitter-2013train-A.tsv").write_text(
        "1\tpositive\tshared tweet @a\n2\tnegative\tonly in training\n3\tneutral\tdev tweet\n",
        encoding="utf-8")
    (tmp_path / "twitter-2016test-A.tsv").write_text(
        "4\tpositive\tshared tweet @b\n5\tneutral\tonly held out\n", encoding="utf-8")
    train, stats, apart = build.pool(tmp_path, {build.key("dev tweet")},
                                     ("twitter-2016test-A.tsv",))
    assert train == [("only in training", "negative")]
    assert sorted(t for _, t, _ in apart) == ["only held out", "shared tweet @b"]
    assert stats["dropped: in the development set"] == 1
    (tmp_path / "twitter-2017test-A.tsv").write_text("6\tneutral\tx\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="2017"):
        build.pool(tmp_path, set())


def test_reading_weighs_the_terms_training_counts():
    """`tone.terms` is what training counts; `weigh` (and so hotpath) must find exactly those
    terms, in that order, on what the kernels cut."""
    e = Enricher()
    for text in ("my fibre has been down all day, not good at all!!", "love it 😍 #win :)",
                 "the the the", "", "@Orbit why is everything so expensive these days"):
        tokens = e.kernels.read(text).words.tokens
        names = tone.terms(tokens)
        assert len(names) == max(2 * len(tokens) - 1, 0)
        weights = {t: [1.0 + i, -1.0 - i] for i, t in enumerate(dict.fromkeys(names))}
        model = tone.Tone([[0.0, 0.0]] * len(tone.DENSE), weights, {})
        neg = pos = 0.0
        for t in names:  # the sums in training's order
            neg += model.terms[t][0]
            pos += model.terms[t][1]
        assert tone.weigh(model.table, tokens)[:2] == (neg, pos)
