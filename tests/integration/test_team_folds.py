"""The team page's SLA folds: refreshed by refolding only the cases with new events, equal to a
fold of the whole log; a large workspace folds in the background and says how far it got."""

from __future__ import annotations

import time
from datetime import timedelta

from escapevelocity.demo.generator import generate
from escapevelocity.domain import events as ev
from escapevelocity.domain.sla import Attainment
from escapevelocity.services import team
from escapevelocity.services.ingest import batches, ingest_batch


def _ingest(workspace, clock, n: int, seed: int) -> None:
    triager = workspace.triager()
    for batch in batches(iter(generate(n, seed=seed, start=clock.now() - timedelta(hours=2))),
                         50):
        ingest_batch(workspace.store, triager, clock.now(), batch)


def _by_id(clocks) -> dict:
    return {c.case_id: c for c in clocks}


def test_refresh_refolds_the_changed_cases_to_what_a_full_fold_says(workspace, clock):
    _ingest(workspace, clock, 120, seed=3)
    first, folding = team.folded(workspace, clock.now(), ttl=0)
    assert folding is None and first
    with workspace.store.begin() as tx:
        some = sorted(tx.cases.ids())[:5]
        tx.events.append([ev.make(cid, ev.REPLIED, clock.now(), "ana",
                                            {"text": "on it", "visibility": "public"})
                                      for cid in some])
    _ingest(workspace, clock, 60, seed=4)  # more mentions: new cases and joined ones
    fresh, _ = team.folded(workspace, clock.now(), ttl=0)
    counted, _ = team.decided(workspace, clock.now(), ttl=0)
    team._FOLDS.pop(workspace.store)  # a fold of the whole log, from nothing
    whole, _ = team.folded(workspace, clock.now(), ttl=0)
    assert _by_id(fresh) == _by_id(whole)
    # the outcome counters moved case by case equal the counters of the whole fold, and what
    # the team page sums from them equals SLA met % computed case by case
    assert +counted == +team._tally(whole) and sum(counted.values()) > 0
    teams = {c.team for c in whole if c.team}
    overall, per_team = Attainment(), {t: Attainment() for t in teams}
    for case in whole:  # SLA met % case by case, as domain/sla.attainment folds it
        if case.team in per_team:
            overall.add(case)
            per_team[case.team].add(case)
    assert team.attainment_of(counted, teams) == (overall, per_team)
    assert _by_id(fresh)[some[0]].responder == "ana"
    with workspace.store.begin() as tx:
        assert len(whole) == tx.cases.count()


def test_a_large_workspace_folds_in_the_background(workspace, clock, monkeypatch):
    _ingest(workspace, clock, 80, seed=5)
    monkeypatch.setattr(team, "FOLD_INLINE", 10)
    monkeypatch.setattr(team, "CHUNK", 7)
    clocks, folding = team.folded(workspace, clock.now(), ttl=0)
    assert clocks == [] and folding.endswith("cases")
    deadline = time.monotonic() + 30
    while folding is not None and time.monotonic() < deadline:
        time.sleep(0.05)
        clocks, folding = team.folded(workspace, clock.now(), ttl=0)
    assert folding is None
    team._FOLDS.pop(workspace.store)
    monkeypatch.setattr(team, "FOLD_INLINE", 10**9)
    whole, _ = team.folded(workspace, clock.now(), ttl=0)
    assert _by_id(clocks) == _by_id(whole)
