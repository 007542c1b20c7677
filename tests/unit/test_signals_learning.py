"""Learning from corrections: the pure model, promotion on held-back corrections, the service."""

import random
from datetime import UTC, datetime

import pytest

from escapevelocity.domain import learn
from escapevelocity.domain.enrich import Enricher
from escapevelocity.evaluation.signals import mention

pytest.importorskip("sklearn")

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


def test_service_records_corrections_as_events_and_promotes(db_url, clock):
    from escapevelocity.adapters.store.sql import SqlStore
    from escapevelocity.services import learning

    store = SqlStore(db_url)
    store.migrate()
    for c in corrections():
        learning.record_correction(store, case_id="c1", signal=c.signal, label=c.label,
                                   text=c.text, actor="ana", at=clock.now(), mention_key=c.key)
    assert learning.correction_counts(store) == {"complaint": {"complaint": 60,
                                                               "not_complaint": 60}}
    cards = learning.retrain(store, clock.now())
    assert cards and cards[0].promoted
    models = learning.load_models(store)
    assert models["complaint"].card.version == 1
    assert learning.cards(store)[-1]["signal"] == "complaint"
    with pytest.raises(ValueError):
        learning.record_correction(store, case_id="c1", signal="complaint", label="maybe",
                                   text="x", actor="ana", at=clock.now())
    store.close()
