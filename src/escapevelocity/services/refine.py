"""Refine: learned models' sentence vectors, read off the hot path.

A model that also reads all-MiniLM-L6-v2 sentence vectors (the `embed` extra) is far too slow
for ingest (about 40 mentions per CPU-second against thousands), so ingest answers with its
words alone and stores the signals as provisional (Enricher(defer_vectors=True)). This job, one
of the worker's ticks, takes provisional mentions oldest first in batches, embeds each batch in
one call, applies the models in full and settles each mention: its signals are replaced and,
for a case's first mention, SIGNALS_REVISED records the full answer on the case (the case page
and projection read it; which labels changed, if any, is in the event). The playbook's decision
stands, as after a correction.

Safe to run from several processes: a mention is settled by one conditional update, and only
the pass that settled it records the revision.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

import msgspec

from escapevelocity.domain import cases as projection
from escapevelocity.domain import events as ev
from escapevelocity.domain import learn
from escapevelocity.domain.enrich import MAX_TEXT
from escapevelocity.domain.events import Event
from escapevelocity.domain.records import Mention, Signals
from escapevelocity.services.workspace import Workspace

log = logging.getLogger(__name__)
BATCH = 64  # mentions embedded per call: about a second of transformer work
BUDGET_S = 2.0  # work per tick, so the worker's other jobs are not held up
_ANSWERED = ("sentiment", "sentiment_label", "situation", "situations", "severity")


def tick(workspace: Workspace, now: datetime, budget_s: float = BUDGET_S) -> int:
    """Settle provisional mentions, a batch at a time, for about `budget_s` seconds of work;
    returns the number of SIGNALS_REVISED appended."""
    store = workspace.store
    revised = 0
    started = time.monotonic()
    while True:
        with store.begin() as tx:
            rows = tx.mentions.provisional(BATCH)
        if not rows:
            break
        revised += _settle(workspace, now, rows)
        if len(rows) < BATCH or time.monotonic() - started >= budget_s:
            break
    return revised


def _settle(workspace: Workspace, now: datetime, rows: list[Any]) -> int:
    triager = workspace.triager()
    enricher, relevance = triager.enricher, triager.relevance
    todo: list[tuple[Any, Mention, Signals]] = []
    broken: list[Any] = []
    for row in rows:
        try:
            todo.append((row, msgspec.json.decode(row.body, type=Mention),
                         msgspec.json.decode(row.signals, type=Signals)))
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("mention row %s cannot be refined (%s); left as ingest answered it",
                        row.id, exc)
            broken.append(row)
    # read as ingest read them: product names masked, then what the brand profile knows
    masked = [relevance.masked(m) for _, m, _ in todo]
    texts = [(m.text or "")[:MAX_TEXT] for m in masked]
    if todo and enricher.models:
        full = learn.apply_models_many(enricher.models, texts,
                                       [enricher.rules(m) for m in masked])
        full = [relevance.apply(m, s) for (_, m, _), s in zip(todo, full, strict=True)]
    else:  # no models (one retired, or a base install without the learn extra): as they are
        full = [said for _, _, said in todo]
    store = workspace.store
    with store.begin() as tx:
        for row in broken:  # settled as they are: a row that cannot be read must not block
            tx.mentions.settle(row.id, row.signals)
        first = tx.mentions.first_ids([row.case_id for row, _, _ in todo])
        events: list[Event] = []
        for (row, mention, said), answer in zip(todo, full, strict=True):
            new = revised_signals(said, answer, enricher.models)
            if not tx.mentions.settle(row.id, msgspec.json.encode(new).decode()):
                continue  # another pass settled it
            if first.get(row.case_id) == row.id:
                changed = [s for s in enricher.models
                           if learn.rule_label(s, said) != learn.rule_label(s, new)]
                events.append(ev.SignalsRevised(
                    stream=row.case_id, at=now, actor=ev.SYSTEM, mention=mention.key,
                    first=True, changed=list(changed), signals=msgspec.to_builtins(new)))
        # Cases locked together, in id order (as ingest locks them): no deadlock between them.
        cases = tx.cases.get_many({e.stream for e in events}, for_update=True)
        read = {case_id: case.version for case_id, case in cases.items()}
        kept = [e for e in events if e.stream in cases]  # a case gone: the mention alone
        for e in kept:
            cases[e.stream] = projection.apply(cases[e.stream], e)
        if not tx.cases.update_many([(cases[i], v) for i, v in read.items()]):
            raise RuntimeError("a case changed while its signals were refined; next tick")
        tx.events.append(kept)
    return len(kept)


def revised_signals(said: Signals, answer: Signals, models: dict[str, learn.SignalModel]
                    ) -> Signals:
    """The stored signals with the models' full answer in place of the provisional one. Only
    what the models answer is replaced: who is asking (history, VIP, a troll's reason) stays as
    ingest saw it."""
    owned = {"sentiment", "severity", *models}
    because = {k: v for k, v in said.because.items() if k not in owned}
    because.update((k, v) for k, v in answer.because.items() if k in owned)
    confidence = {k: v for k, v in said.confidence.items() if k not in owned}
    confidence.update((k, v) for k, v in answer.confidence.items() if k in owned)
    return msgspec.structs.replace(said, provisional=False, because=because,
                                   confidence=confidence,
                                   **{f: getattr(answer, f) for f in _ANSWERED})
