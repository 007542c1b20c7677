"""Ingest: the one write path for new mentions (CLI, HTTP API, demo replay, drills).

Each batch is one transaction: mentions, their events and the case projection are written
together or not at all, so killing the process mid-run loses nothing that was acknowledged and
a re-run skips what was stored (duplicates are found by channel + source id).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import engagement
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.domain.plans.ingest import (
    IngestReport,
    Seen,
    needs_policy,
    plan_batch,
    plan_joins,
)
from escapevelocity.domain.playbook import Context
from escapevelocity.domain.records import Mention, Signals
from escapevelocity.domain.triage import Triager
from escapevelocity.services.live_routing import Backlog, routing_state
from escapevelocity.services.retry import Conflict, retrying

FOLLOW_UP_WINDOW = timedelta(hours=24)  # an author's new post joins their open case this long
# `ev ingest` batch: 5000 mentions per transaction measured ~15% faster than 1000 (fewer
# commits and lookups) and holds the SQLite write lock well under a second.
DEFAULT_BATCH_SIZE = 5000


def batches(items: Iterable[Mention], size: int) -> Iterator[list[Mention]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def ingest(store: SqlStore, triager: Triager, clock: Clock, mentions: Iterable[Mention], *,
           batch_size: int = 1000, on_batch: Callable[[IngestReport], None] | None = None,
           context: Context | None = None) -> IngestReport:
    total = IngestReport()
    for batch in batches(mentions, batch_size):
        report = ingest_batch(store, triager, clock.now(), batch, context=context)
        total.add(report)
        if on_batch:
            on_batch(report)
    return total


def ingest_batch(store: SqlStore, triager: Triager, now: datetime,
                 batch: list[Mention], *, context: Context | None = None,
                 away_after: timedelta | None = None,
                 signals: Sequence[Signals] | None = None) -> IngestReport:
    """`context` (e.g. Context(crisis_level=...) from crisis mode) applies to every new case;
    `away_after` turns idle members away for routing (services/live_routing).

    Read (stored mentions and reply parents, the authors' open cases, routing state), plan
    (domain/plans/ingest.py), write (one insert-or-ignore per table, keys in one order). When
    a concurrent writer stored some of the same keys first, or the database reports a deadlock,
    a serialization failure or a cut connection, the transaction rolls back and runs again from
    its reads (services/retry.py): every good mention is stored exactly once."""
    given = None
    if signals is not None:
        given = {}
        for m, s in zip(batch, signals, strict=True):
            given.setdefault(m.key, s)
    return retrying(lambda: _ingest_once(store, triager, now, batch, context or Context(),
                                         away_after, given), what="ingest batch")


def _ingest_once(store: SqlStore, triager: Triager, now: datetime, batch: list[Mention],
                 context: Context, away_after: timedelta | None,
                 given: dict[str, Signals] | None) -> IngestReport:
    with store.begin_write() as tx:
        # Writers of overlapping batches (the same authors, hence the same mentions: a
        # redelivered mention has its author) queue here, so the reads below see what the
        # other stored and threading is decided once. One lock per author, not per mention
        # too: PostgreSQL's shared lock table holds 64 per connection by default and 5,000
        # mentions took ~8,600 ("out of shared memory" beside other load); a mention key
        # stored by a writer these locks miss is refused by the unique index and the batch
        # planned again (services/retry.py).
        tx.lock_keys([f"author:{m.channel}:{m.author.handle}" for m in batch])
        known = tx.mentions.case_ids([(m.channel, m.source_id) for m in batch]
            + [(m.channel, m.in_reply_to) for m in batch if m.in_reply_to])
        authors = {(m.channel, m.author.handle) for m in batch}
        by_author, history = tx.cases.author_cases(authors, now - FOLLOW_UP_WINDOW)
        state = routing_state(store, tx, now, triager.playbook, away_after=away_after)
        backlog = Backlog(tx)
        signals = given
        if signals is None:  # one batch for the enricher: learned models run batched
            fresh: dict[str, Mention] = {}
            for m in batch:  # the first of a repeated key is the one ingested
                if m.key not in known:
                    fresh.setdefault(m.key, m)
            signals = dict(zip(fresh, triager.signals_many(list(fresh.values())), strict=True))

        def decide(m: Mention, sig: Signals, ctx: Context) -> tuple[Any, Any]:
            result = triager.triage(m, state, now, ctx, signals=sig)
            d = result.decision
            return d, backlog.hold(d.team, result.assignment, state, d.respond)

        seen = Seen(known, by_author, history, frozenset(triager.enricher.vocabulary.vips))
        plan = plan_batch(batch, seen, signals, decide, now, context)
        report = plan.report
        # the log's rows are made ready beside the mentions' and cases' writes (PostgreSQL)
        ready = tx.events.prepare(plan.events + plan.joins)
        if tx.mentions.insert_new(plan.mention_rows) < len(plan.mention_rows):
            raise Conflict("a concurrent writer stored some of these mentions first")
        tx.cases.insert(sorted(plan.new_cases.values(), key=lambda c: c.id))
        extra: list[Event] = []
        if plan.joins:
            current = tx.cases.get_many({e.stream for e in plan.joins}, for_update=True)
            read = {case_id: case.version for case_id, case in current.items()}
            rules = (engagement.load_policy(tx.documents.get(engagement.POLICY_DOCUMENT))
                     if needs_policy(current) else None)
            current, extra = plan_joins(current, plan.joins, plan.texts, rules, now)
            report.teams |= {current[i].team for i in read}
            if not tx.cases.update_many([(current[i], read[i]) for i in sorted(read)]):
                raise Conflict("a case changed during ingest")
        tx.events.append(plan.events + plan.joins + extra, prepared=ready)
    return report
