"""A learned model that reads sentence vectors stays off the hot path: ingest answers from its
words and marks the signals provisional, and the refine job reads the vectors in batches,
revises the mentions and records what changed, on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import random

import msgspec
import sqlalchemy as sa
from needs import extra

from escapevelocity.adapters.store import schema
from escapevelocity.domain import events as ev
from escapevelocity.domain import learn
from escapevelocity.domain.records import Author, Mention, Signals
from escapevelocity.services import learning, refine
from escapevelocity.services.ingest import ingest_batch
from escapevelocity.services.worker import tick_all

extra("sklearn", "learn")

BAD = ["my zorp box is zorped again", "zorped for the third day", "the app zorped my order",
       "zorp zorp zorp since monday", "router zorped, nothing loads"]
GOOD = ["the new plan is fine", "got my parcel today", "changed my address in the app",
        "the store opens at nine", "my bill arrived by email"]


def teach(workspace, clock, n=120):
    rnd = random.Random(3)
    for i in range(n):
        bad = i % 2 == 0
        learning.record_correction(
            workspace.store, case_id="c-teach", signal="complaint",
            label="complaint" if bad else "not_complaint",
            text=rnd.choice(BAD if bad else GOOD) + f" #{i}", actor="ana", at=clock.now(),
            mention_key=f"k{i}")
    cards = learning.retrain(workspace.store, clock.now())
    assert cards and cards[0].promoted, cards


def stored(workspace) -> dict[str, Signals]:
    m = schema.mentions.c
    with workspace.store.begin() as tx:
        rows = tx.conn.execute(sa.select(m.channel, m.source_id, m.signals)).all()
    return {f"{r.channel}:{r.source_id}": msgspec.json.decode(r.signals, type=Signals)
            for r in rows}


def events_of(workspace, kind=ev.SIGNALS_REVISED):
    with workspace.store.begin() as tx:
        return [e for e in tx.events.since(0, limit=100_000) if e.kind == kind]


def test_vectors_are_read_off_the_hot_path(workspace, clock, monkeypatch):
    teach(workspace, clock)
    triager = workspace.triager()
    model = triager.enricher.models["complaint"]
    assert model.needs_vectors, "the embed extra must be installed (make install does it)"

    embedded: list[int] = []
    real_vectors = learn.vectors

    def counting(texts, *args, **kwargs):
        embedded.append(len(texts))
        return real_vectors(texts, *args, **kwargs)

    monkeypatch.setattr(learn.dense, "vectors", counting)
    rnd = random.Random(9)
    texts = [rnd.choice(BAD + GOOD) + f" today {i}" for i in range(40)]
    # Said in other words than the corrections: where the vectors can change the answer.
    texts += ["router keeps failing", "router stopped working", "router works great",
              "my router is broken and support never answers", "thanks, all sorted now"]
    batch = [Mention(source_id=f"m{i}", channel="twitter", text=t,
                     author=Author(handle=f"user{i}"), created_at=clock.now())
             for i, t in enumerate(texts)]
    # A follow-up by the first author: it joins that case, and ingest says who is asking.
    batch.append(Mention(source_id="again", channel="twitter", text="still zorped, any news?",
                         author=Author(handle="user0"), created_at=clock.now()))
    ingest_batch(workspace.store, triager, clock.now(), batch)
    assert embedded == []  # ingest did no transformer work
    before = stored(workspace)
    assert all(s.provisional for s in before.values())
    assert "sentence vectors to follow" in before["twitter:m0"].because["complaint"]
    assert "history" in before["twitter:again"].because
    with workspace.store.begin() as tx:
        pending = tx.mentions.provisional(1000)
    assert len(pending) == len(batch)

    from fastapi.testclient import TestClient
    from test_web import login

    from escapevelocity.config import Settings
    from escapevelocity.web.app import create_app

    # tick_seconds=None: this test runs the worker's jobs itself
    app = create_app(workspace, Settings(database_url="unused", secret_key="s" * 32),
                     tick_seconds=None)
    with TestClient(app) as client:
        login(client, "ana")
        case_id = next(e.stream for e in events_of(workspace, ev.OPENED))
        assert "provisional: a learned model" in client.get(f"/cases/{case_id}").text
        waiting = f"{len(batch)} mentions answered from a model's words, waiting"
        assert waiting in client.get("/signals").text
        revised = refine.tick(workspace, clock.now(), budget_s=60)
        assert sum(embedded) == len(batch)  # each text embedded once, in batches
        after = stored(workspace)
        assert not any(s.provisional for s in after.values())
        full = learn.apply_models_many(triager.enricher.models, [m.text for m in batch],
                                       [triager.enricher.rules(m) for m in batch])
        for m, answer in zip(batch, full, strict=True):
            got = after[m.key]
            assert (got.situations, got.sentiment_label) == (answer.situations,
                                                             answer.sentiment_label)
            assert "sentence vectors to follow" not in got.because["complaint"]
        # who is asking stays as ingest saw it
        assert after["twitter:again"].because["history"] == before["twitter:again"].because[
            "history"] and after["twitter:again"].repeat == before["twitter:again"].repeat

        # One revision per case, on its first mention; the follow-up is settled silently.
        events = events_of(workspace)
        assert revised == len(events) == len(batch) - 1
        assert "twitter:again" not in {e.data["mention"] for e in events}
        changed = {m.key for m in batch[:-1]
                   if learn.rule_label("complaint", before[m.key])
                   != learn.rule_label("complaint", after[m.key])}
        assert changed, "no answer changed: the revision path went untested"
        assert {e.data["mention"] for e in events if e.data["changed"]} == changed
        with workspace.store.begin() as tx:
            for e in events:  # the case follows its first mention's revised signals
                case = tx.cases.get(e.stream)
                assert case.situation == e.data["signals"]["situation"]
        shown = next(e for e in events if e.data["changed"])
        page = client.get(f"/cases/{shown.stream}").text
        assert "signals revised: complaint" in page and "provisional: a learned" not in page
        assert "waiting for the refine job" not in client.get("/signals").text
        quiet = next(e for e in events if not e.data["changed"])
        assert "no label changed" in client.get(f"/cases/{quiet.stream}").text

    # A second pass over the same rows (another process that read them too) records nothing.
    assert refine._settle(workspace, clock.now(), pending) == 0
    assert len(events_of(workspace)) == len(events)
    embedded.clear()
    assert refine.tick(workspace, clock.now()) == 0 and embedded == []
    result = tick_all(workspace, now=clock.now())
    assert result.done["refine"] == 0 and not result.failed


def test_a_row_that_cannot_be_read_does_not_block_the_job(workspace, clock):
    with workspace.store.begin() as tx:
        tx.mentions.insert_rows_ignoring([
            ("twitter", "bad", "c-x", "someone", clock.now(), clock.now(), "not json", "{}",
             True)])
    assert refine.tick(workspace, clock.now()) == 0
    with workspace.store.begin() as tx:
        assert tx.mentions.provisional(10) == []


def test_without_a_vector_model_nothing_is_provisional(workspace, clock):
    batch = [Mention(source_id="x1", channel="twitter", text="@orbit my bill is wrong",
                     author=Author(handle="someone"), created_at=clock.now())]
    ingest_batch(workspace.store, workspace.triager(), clock.now(), batch)
    assert not stored(workspace)["twitter:x1"].provisional
    assert refine.tick(workspace, clock.now()) == 0
