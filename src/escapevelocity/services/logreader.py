"""A reader of the event log that keeps its place in the store: notifications and the CRM
webhook outbox read the log after commit, each under its own name.

Its place is a watermark (domain/watermark.py), not a plain cursor, because on PostgreSQL an
event with a lower seq can commit after one with a higher seq: the persisted cursor is the low
mark, below the first seq still missing; the events above it already handled are recorded as
`high` minus the holes, so a pass reads only the holes and what is past `high`, and nothing is
handled twice. The watermark row is locked for the pass (FOR UPDATE on PostgreSQL) and saved
in the same transaction as the reader's effects: they commit together or not at all. The pass
must run in `store.begin_write()`: on SQLite that takes the one write lock before the first
read (BEGIN IMMEDIATE). In a plain `begin()` the driver begins the transaction only at the
first write, so two passes of one process (the clock worker and the live stream) both read
the same stretch before either wrote.

    with store.begin_write() as tx:
        batch = logreader.take(tx, "notifications", limit=500)
        for e in batch.events: ...            # store the effects in tx
        batch.done(now)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from escapevelocity.adapters.store import Tx
from escapevelocity.domain.events import Event
from escapevelocity.domain.watermark import Watermark

# How long a hole is waited for. Longer than the live stream's (domain/watermark.GAP_SECONDS):
# here waiting costs one indexed read of the holes per pass, nothing is held back, and giving
# up on a slow batch that commits later loses its notifications and webhooks for good.
GAP_SECONDS = 60.0


@dataclass
class Batch:
    tx: Tx
    reader: str
    mark: Watermark
    events: list[Event]  # in log order: holes that filled, then new events past `high`

    def done(self, now: datetime) -> Watermark:
        """Record the batch as handled (and time the holes it opened) in the open transaction;
        an idle pass (nothing read, no hole given up) writes nothing."""
        mark = self.mark.advance([e.seq for e in self.events if e.seq is not None],
                                 now.timestamp(), gap=GAP_SECONDS)
        if mark != self.mark:
            self.tx.notifications.set_watermark(self.reader, mark)
        return mark


def take(tx: Tx, reader: str, limit: int) -> Batch:
    """Lock `reader`'s watermark and read the events it has not handled: those of its holes that
    have committed since, and up to `limit` new ones past the highest it handled. A reader seen
    for the first time starts at the end of the log."""
    mark = tx.notifications.watermark(reader, lock=True, start=tx.events.last_seq())
    late = tx.events.numbered(mark.missing) if mark.missing else []
    fresh = tx.events.since(mark.high, limit=limit)
    return Batch(tx, reader, mark, late + fresh)
