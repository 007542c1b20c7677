"""Rollups: counters moved by the events of the same transaction equal the counters computed
from the log alone, after ingest and corrections, after `ev workspace rebuild`, and after the
migration that creates them over a log that already has events (both databases)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.events import _event
from escapevelocity.demo.generator import generate
from escapevelocity.domain import rollups
from escapevelocity.services import learning
from escapevelocity.services.cases import rebuild_projection
from escapevelocity.services.ingest import batches, ingest_batch


def _from_log(store) -> dict[tuple[str, str], int]:
    with store.begin() as tx:
        rows = tx.conn.execute(sa.select(t.events).order_by(t.events.c.seq))
        return dict(rollups.deltas(_event(r) for r in rows))


def _kept(store) -> dict[tuple[str, str], int]:
    with store.begin() as tx:
        return {(n, k): c for n, k, c in tx.conn.execute(sa.select(t.rollups))}


def _fill(workspace, clock) -> None:
    triager = workspace.triager()
    mentions = generate(300, seed=5, start=clock.now() - timedelta(hours=3))
    for batch in batches(iter(mentions), 40):
        ingest_batch(workspace.store, triager, clock.now(), batch)
    with workspace.store.begin() as tx:
        ids = [r[0] for r in tx.conn.execute(sa.select(t.cases.c.id).limit(3))]
    for i, case_id in enumerate(ids):
        learning.record_correction(workspace.store, case_id=case_id, signal="sentiment",
                                   label=("negative", "neutral", "negative")[i], text="x",
                                   actor="sam", at=clock.now(), was="positive",
                                   mention_key=f"k{i}")


def test_counters_follow_the_log_and_rebuild_from_it(workspace, clock):
    _fill(workspace, clock)
    kept = _kept(workspace.store)
    assert kept == _from_log(workspace.store)
    hits = Counter({k: c for (n, k), c in kept.items() if n == rollups.RULE_HITS})
    with workspace.store.begin() as tx:
        decided = tx.conn.execute(sa.select(sa.func.count()).select_from(t.events)
                               .where(t.events.c.kind == "decided")).scalar_one()
    assert sum(hits.values()) == decided > 0
    assert learning.correction_counts(workspace.store)["sentiment"] == {"negative": 2,
                                                                        "neutral": 1}
    with workspace.store.begin() as tx:
        tx.conn.execute(sa.update(t.rollups).values(count=0))  # a damaged rollup …
    rebuild_projection(workspace.store)  # … is recomputed from the log alone
    assert _kept(workspace.store) == kept


def test_the_migration_counts_a_log_that_is_already_there(workspace, clock):
    from importlib.resources import files

    from alembic import command
    from alembic.config import Config

    _fill(workspace, clock)
    kept = _kept(workspace.store)
    here = files("escapevelocity") / "migrations"
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))
    with workspace.store.engine.begin() as tx:
        cfg.attributes["connection"] = tx
        command.downgrade(cfg, "0014_rollups-1")
        assert not sa.inspect(tx).has_table("rollups")
    workspace.store.migrate()
    assert _kept(workspace.store) == kept
