"""Learning from corrections: the pure model and promotion on held-back corrections (the service
over a real store: tests/integration/test_learning_service.py)."""

import random
from datetime import UTC, datetime

import msgspec
from needs import extra

from escapevelocity.domain import learn
from escapevelocity.domain.enrich import Enricher
from escapevelocity.evaluation.signals import mention

extra("sklearn", "learn")

E = Enricher()
NOW = datetime(2026, 11, 20, tzinfo=UTC)
# A workspace's own vocabulary the shipped rules cannot know: "zorp" means broken here.
BAD = ["my zorp box is zorped again", "zorped for the third day", "the app zorped my order",
       "zorp zorp zorp since monday", "router zorped, nothing loads"]
GOOD = ["the new plan is fine", "got my parcel today", "changed my address in the app",
        "the store opens at nine", "my bill arrived by email"]


def corrections(n=120, seed=3):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        bad = i % 2 == 0
        text = rnd.choice(BAD if bad else GOOD) + f" #{i}"
        out.append(learn.Correction(signal="complaint", label="complaint" if bad
                                    else "not_complaint", text=text, key=f"k{i}"))
    return out


def rules(_text, signals):
    return learn.rule_label("complaint", signals)


def enrich(text):
    return E.enrich(mention(text))


def test_a_model_that_beats_the_rules_is_promoted_and_used():
    result = learn.train_and_compare("complaint", corrections(), enrich, rules, "shipped rules",
                                     version=1, now=NOW)
    assert isinstance(result, learn.SignalModel)
    card = result.card
    assert card.promoted and card.held_back > 0 and card.trained_on == 120
    assert card.metrics["macro_f1"] > card.baseline["macro_f1"]
    learned = Enricher(models={"complaint": result})
    s = learned.enrich(mention("my zorp is zorped"))
    assert "complaint" in s.situations
    assert "learned v1" in s.because["complaint"] and 0.5 <= s.confidence["complaint"] <= 1


def test_a_model_that_does_not_win_is_not_promoted():
    perfect = {c.text: c.label for c in corrections()}

    def oracle(text, _signals):
        return perfect[text]

    result = learn.train_and_compare("complaint", corrections(), enrich, oracle, "model v3",
                                     version=4, now=NOW)
    assert isinstance(result, learn.ModelCard)
    assert not result.promoted and "kept model v3" in result.note


def test_too_few_corrections_give_a_card_not_a_model():
    result = learn.train_and_compare("complaint", corrections(6), enrich, rules, "rules", 1, NOW)
    assert isinstance(result, learn.ModelCard) and "not trained" in result.note


def test_model_round_trips_through_a_document():
    model = learn.train_and_compare("complaint", corrections(), enrich, rules, "rules", 1, NOW)
    again = learn.loads(learn.dumps(model))
    s = E.enrich(mention("zorped again"))
    assert again.predict("zorped again", s) == model.predict("zorped again", s)


def test_metrics():
    m = learn.metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert m["accuracy"] == 0.75 and m["macro_recall"] == 0.75
    assert m["confusion"]["a"] == {"a": 1, "b": 1}
    assert abs(m["macro_f1"] - (2 / 3 + 0.8) / 2) < 1e-3


# --- the fast prediction path gives what the plain numpy one gave ---------------------------------

ODD = ["", "😀😀😀", "http://example.com/x?y=1", "@airline @crew #fail!!! :( :-)",
       "Ça coûte très cher, ügh… naïve café", "bad \udcff surrogate", "Привет мир, ok 123",
       "x\u2019s don\u2019t 42 000 $$$", "a" * 20_000, "word " * 3000, "中文 混合 scripts ok"]


def _reference_features(text, signals):
    """The feature code as it was before the caches: the definition models were fitted on."""
    toks = learn.tokens(text or "")
    feats = [learn._h("w:" + t) for t in toks]
    prev = "<s>"
    for t in toks:
        feats.append(learn._h(f"b:{prev} {t}"))
        prev = t
    feats.append(learn._h(f"b:{prev} </s>"))
    for t in toks:
        if len(t) < 3 or t[0] == "<":
            continue
        w = f" {t} "
        for n in (3, 4, 5):
            feats.extend(learn._h("c:" + w[i:i + n]) for i in range(len(w) - n + 1))
    if signals is not None:
        band = max(-4, min(4, round(signals.sentiment * 4)))
        feats += [learn._h("r:label=" + signals.sentiment_label), learn._h(f"r:band={band}")]
        feats += [learn._h("r:sit=" + s) for s in signals.situations]
        feats += [learn._h("r:kw=" + k) for k in signals.keywords]
        feats.append(learn._h("r:bias"))
    return feats


def _reference_predict(model, text, signals):
    """The numpy prediction as it was: search the sparse index, sum float32 weights."""
    import math

    import numpy as np

    idx = np.frombuffer(model.index, dtype=np.uint32)
    w = np.frombuffer(model.weights, dtype=np.float32).reshape(-1, len(idx))
    ids = np.unique(np.asarray(_reference_features(text, signals), dtype=np.uint32))
    p = np.searchsorted(idx, ids)
    ok = p < len(idx)
    mask = np.zeros(len(ids), dtype=bool)
    mask[ok] = idx[p[ok]] == ids[ok]
    s = w[:, p[mask]].sum(axis=1) / math.sqrt(max(len(ids), 1)) + np.asarray(model.bias)
    if len(s) == 1:
        p1 = 1 / (1 + math.exp(-float(s[0])))
        return (model.labels[1], p1) if p1 >= 0.5 else (model.labels[0], 1 - p1)
    e = np.exp(s - s.max())
    k = int(e.argmax())
    return model.labels[k], float(e[k] / e.sum())


def _corpus(n=600):
    from escapevelocity.demo.generator import generate

    texts = [m.text for m in generate(n, seed=5, start=NOW)]
    return texts + ODD + [c.text for c in corrections(60)]


def test_features_are_the_hashes_models_were_fitted_on():
    for text in _corpus():
        s = enrich(text)
        for _ in range(2):  # cold, then from the caches
            assert sorted(learn.features(text, s)) == sorted(_reference_features(text, s))
        assert learn.feature_ids(text, s).tolist() == sorted(set(_reference_features(text, s)))


def test_fast_predictions_are_the_numpy_ones():
    texts = _corpus()
    sig = [enrich(t) for t in texts]
    rnd = random.Random(1)
    labels = [rnd.choice(("negative", "neutral", "positive")) if rnd.random() < 0.3
              else learn.rule_label("sentiment", s) for s in sig]
    card = learn.ModelCard(signal="sentiment", version=1, trained_at=NOW, corrections=0,
                           trained_on=0, held_back=0, labels=())
    three = learn.fit("sentiment",
                      [_reference_features(t, s) for t, s in zip(texts, sig, strict=True)],
                      labels, card)
    two = learn.train_and_compare("complaint", corrections(), enrich, rules, "rules", 1, NOW,
                                  vectors_for=None)  # the sparse path; dense: test_embedding
    for model in (three, two, learn.loads(learn.dumps(three))):
        for text, s in zip(texts, sig, strict=True):
            label, p = model.predict(text, s)
            ref_label, ref_p = _reference_predict(model, text, s)
            assert label == ref_label and abs(p - ref_p) < 1e-5, text[:60]


def test_feature_caches_stay_bounded(monkeypatch):
    monkeypatch.setattr(learn.hashing, "_CACHE_MAX", 50)
    for i in range(400):
        learn.features(f"unique{i}word another{i} http://x.y/{i}")
        assert len(learn.hashing._TOKEN_IDS) <= 50
    assert not any(k.startswith("http") or k.isdigit() for k in learn.hashing._TOKEN_IDS)


def test_several_models_score_one_feature_computation():
    model = learn.train_and_compare("complaint", corrections(), enrich, rules, "rules", 1, NOW)
    spam = msgspec.structs.replace(model, signal="spam", labels=("ham", "spam"))
    s = enrich("my zorp is zorped")
    out = learn.apply_models({"complaint": model, "spam": spam}, "my zorp is zorped", s)
    assert out.situations[0] == "spam" and "complaint" in out.situations
    assert out.confidence["complaint"] == out.confidence["spam"]


def test_a_severity_model_answers_for_complaints_only():
    rnd = random.Random(5)
    rows = []
    for i in range(120):
        blame = i % 2 == 0
        text = "@orbit my flight was cancelled" + (" flurb" if blame else "") + f" #{i}"
        rows.append(learn.Correction(signal="severity", text=text, key=f"s{i}",
                                     label="blame" if blame else "no_explicit_reproach"))
    rnd.shuffle(rows)

    def rules_severity(_text, signals):
        return learn.rule_label("severity", signals)

    model = learn.train_and_compare("severity", rows, enrich, rules_severity, "shipped rules",
                                    version=1, now=NOW)
    assert isinstance(model, learn.SignalModel)
    assert set(model.labels) == {"blame", "no_explicit_reproach"}  # the labels it was taught
    learned = Enricher(models={"severity": model})
    s = learned.enrich(mention("@orbit my flight was cancelled flurb again"))
    assert s.severity == "blame" and "learned v1" in s.because["severity"]
    assert 0.5 <= s.confidence["severity"] <= 1
    assert learned.enrich(mention("@orbit my flight was cancelled")).severity == \
        "no_explicit_reproach"
    praise = learned.enrich(mention("lovely flight flurb, thanks"))
    assert "complaint" not in praise.situations and praise.severity == ""
    assert "severity" not in praise.because


def test_a_complaint_found_by_a_model_gets_a_severity():
    model = learn.train_and_compare("complaint", corrections(), enrich, rules, "shipped rules",
                                    version=1, now=NOW)
    s = Enricher(models={"complaint": model}).enrich(mention("my zorp is zorped"))
    assert "complaint" in s.situations and s.severity in learn.SIGNALS["severity"]


def test_a_batch_scored_at_once_answers_as_one_mention_at_a_time():
    model = learn.train_and_compare("complaint", corrections(), enrich, rules, "shipped rules",
                                    version=1, now=NOW)
    texts = [*BAD, *GOOD, *ODD, "my zorp box is fine", "the app is zorped but fine"]
    base = [E.rules(mention(t)) for t in texts]
    many = learn.apply_models_many({"complaint": model}, texts, base)
    for text, signals, got in zip(texts, base, many, strict=True):
        one = learn.apply_models({"complaint": model}, text, signals)
        assert got.situations == one.situations
        assert abs(got.confidence["complaint"] - one.confidence["complaint"]) <= 0.01
        # and the batch's one gather scores as the per-mention scorer does
        label, p = model.predict(text, signals)
        assert ("complaint" in got.situations) == (label == "complaint"), text[:60]
        assert abs(got.confidence["complaint"] - p) <= 0.01


def test_a_severity_correction_implies_a_complaint():
    from escapevelocity.services.learning import with_implied

    said = [learn.Correction(signal="severity", label="blame", text="you lied", key="a"),
            learn.Correction(signal="severity", label="blame", text="it broke", key="b"),
            learn.Correction(signal="complaint", label="not_complaint", text="it broke",
                             key="b")]
    implied = [c for c in with_implied(said) if c not in said]
    assert [(c.signal, c.label, c.key) for c in implied] == [("complaint", "complaint", "a")]
