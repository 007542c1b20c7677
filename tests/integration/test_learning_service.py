"""Learning as a service over a real store: corrections are events, models are documents."""

import random

import pytest
from needs import extra

from escapevelocity.domain import learn

extra("sklearn", "learn")

# A workspace's own word the shipped rules cannot know: "zorp" means broken here.
BAD = ["my zorp box is zorped again", "zorped for the third day", "the app zorped my order",
       "zorp zorp zorp since monday", "router zorped, nothing loads"]
GOOD = ["the new plan is fine", "got my parcel today", "changed my address in the app",
        "the store opens at nine", "my bill arrived by email"]


def corrections(n=120, seed=3):
    rnd = random.Random(seed)
    return [learn.Correction(signal="complaint",
                             label="complaint" if i % 2 == 0 else "not_complaint",
                             text=rnd.choice(BAD if i % 2 == 0 else GOOD) + f" #{i}",
                             key=f"k{i}")
            for i in range(n)]


def test_service_records_corrections_as_events_and_promotes(db_url, clock):
    from escapevelocity.adapters.store import SqlStore
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
