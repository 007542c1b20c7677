"""Refine: learned models' sentence vectors, read off the hot path.

A model that also reads all-MiniLM-L6-v2 sentence vectors (the `embed` extra) is far too slow
for ingest (about 40 mentions per CPU-second against thousands), so ingest answers with its
words alone and marks the signals provisional (Enricher(defer_vectors=True)). This job, one of
the worker's ticks, takes the mentions stored since its cursor in batches, embeds each batch in
one call, applies the models in full, writes the revised signals on the mention and, when a
label changed, appends SIGNALS_REVISED to the case (the case's situation and sentiment follow
when it is its first mention; the playbook's decision stands, as after a correction).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from escapevelocity.domain import events as ev
from escapevelocity.domain import learn
from escapevelocity.domain.enrich import MAX_TEXT
from escapevelocity.domain.events import Event
from escapevelocity.domain.records import Mention, Signals
from escapevelocity.services import casetx
from escapevelocity.services.workspace import Workspace

CURSOR = "refine_cursor"  # the last mention row this job has looked at
BATCH = 64  # mentions embedded per call: ~2 s of transformer work, so a tick stays short
_FROM_MODELS = ("sentiment", "sentiment_label", "situation", "situations", "severity",
                "confidence", "because")


def tick(workspace: Workspace, now: datetime, batches: int = 4) -> int:
    """Refine up to `batches` x BATCH provisional mentions; the number of SIGNALS_REVISED."""
    enricher = workspace.triager().enricher
    models = enricher.models
    store = workspace.store
    with store.begin() as conn:
        cursor = int(store.document(conn, CURSOR) or 0)
        if not any(m.needs_vectors for m in models.values()):
            # Nothing reads vectors: nothing ingested from here on is provisional.
            last = store.last_mention_id(conn)
            if last != cursor:
                store.put_document(conn, CURSOR, str(last), now)
            return 0
    revised = 0
    for _ in range(batches):
        with store.begin() as conn:
            rows = store.mentions_after(conn, cursor, BATCH * 4)
        if not rows:
            break
        todo: list[tuple[Any, Mention, Signals]] = []
        for row in rows:
            said = msgspec.json.decode(row.signals, type=Signals)
            if said.provisional:
                todo.append((row, msgspec.json.decode(row.body, type=Mention), said))
            if len(todo) == BATCH:
                break
        last = todo[-1][0].id if len(todo) == BATCH else rows[-1].id
        if todo:
            revised += _refine(workspace, now, todo)
        with store.begin() as conn:
            store.put_document(conn, CURSOR, str(last), now)
        cursor = last
    return revised


def _refine(workspace: Workspace, now: datetime, todo: list[tuple[Any, Mention, Signals]]
            ) -> int:
    enricher = workspace.triager().enricher
    texts = [(m.text or "")[:MAX_TEXT] for _, m, _ in todo]
    full = learn.apply_models_many(enricher.models, texts, [enricher.rules(m) for _, m, _ in todo])
    store = workspace.store
    updates: list[tuple[int, str]] = []
    events: list[tuple[str, Event]] = []
    with store.begin() as conn:
        first = store.first_mention_ids(conn, [row.case_id for row, _, _ in todo])
    for (row, mention, said), answer in zip(todo, full, strict=True):
        # What the models answer replaces; who is asking (history, VIP) stays as ingest saw it.
        new = msgspec.structs.replace(said, provisional=False,
                                      **{f: getattr(answer, f) for f in _FROM_MODELS})
        updates.append((row.id, msgspec.json.encode(new).decode()))
        changed = [s for s in enricher.models
                   if learn.rule_label(s, said) != learn.rule_label(s, new)]
        if changed:
            events.append((row.case_id, Event(
                row.case_id, ev.SIGNALS_REVISED, now, ev.SYSTEM,
                {"mention": mention.key, "first": first.get(row.case_id) == row.id,
                 "changed": changed, "signals": msgspec.to_builtins(new)})))
    with store.begin() as conn:
        store.set_mention_signals(conn, updates)
        for case_id, event in events:
            case = store.get_case(conn, case_id, for_update=True)
            if case is not None:
                casetx.commit(store, conn, case, event)
    return len(events)
