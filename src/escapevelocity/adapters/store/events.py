"""The event log: append-only, ordered by `seq`, one `stream` per case, incident or playbook.

The log is the record; everything else is a projection of it. Rows keep the payload as
JSON (domain/events.py `payload_json` / `from_row`), so the typed structs are the domain's
business and the table stays readable by any tool.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime

import sqlalchemy as sa

from escapevelocity.adapters.store import bulk_pg
from escapevelocity.adapters.store import rollups as rollup_store
from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import Repo, chunks, utc
from escapevelocity.domain import events as ev
from escapevelocity.domain import rollups
from escapevelocity.domain.events import Event

E = t.events.c
# One stream's events: read by every case command (and the approval and SLA ticks), built once
# rather than per read (building it and walking its cache key cost more than the query).
_STREAM = sa.select(t.events).where(E.stream == sa.bindparam("stream")).order_by(E.seq)


class Prepared:
    """Events made ready for `append` while the transaction does other work (`prepare`)."""

    def __init__(self, events: Sequence[Event], work: Future | None) -> None:
        self.events, self.work = events, work


_HELPERS: dict[int, ThreadPoolExecutor] = {}


def _helper() -> ThreadPoolExecutor:
    """This process's helper threads (a forked child would inherit a pool whose threads do
    not exist in it, and its work would never run)."""
    pool = _HELPERS.get(os.getpid())
    if pool is None:
        pool = _HELPERS[os.getpid()] = ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="ev-events-prepare")
    return pool


def _format(events: Sequence[Event]) -> tuple[list[str], Counter]:
    """COPY text chunks of `events` and their rollup deltas (pure: no connection)."""
    texts = []
    for i in range(0, len(events), bulk_pg.COPY_CHUNK):
        texts.append(bulk_pg.copy_text([(e.stream, e.kind, e.at, e.actor, ev.payload_json(e))
                                        for e in events[i:i + bulk_pg.COPY_CHUNK]]))
    return texts, rollups.deltas(events)


class Events(Repo):
    def prepare(self, events: Sequence[Event]) -> Prepared:
        """Start making `events` ready to append (the payload JSON, COPY's text, the rollup
        deltas) in a helper thread, on PostgreSQL: the caller's next statements wait on the
        server (ingest's mentions COPY: the full-text words, the indexes) and release the
        GIL, so this work runs beside them instead of after them. Pass the result to
        `append` with events that begin with these. SQLite: nothing to overlap."""
        events = list(events)
        if self._sqlite or not events:
            return Prepared(events, None)
        return Prepared(events, _helper().submit(_format, events))

    def append(self, events: Iterable[Event], prepared: Prepared | None = None) -> None:
        """Append to the log; the rollup counters move in the same transaction."""
        events = list(events)
        if not events:
            return
        cur = self._cursor()
        try:
            if self._sqlite:
                dt = self._b.dt_memo()
                cur.executemany("INSERT INTO events (stream, kind, at, actor, data) "
                                f"VALUES ({self._b.marks(5)})",
                                [(e.stream, e.kind, dt(e.at), e.actor, ev.payload_json(e))
                                 for e in events])
                rollup_store.add(self._conn, events)
            else:  # COPY keeps the rows' order, so seq follows the batch (bulk_pg)
                texts, delta = self._ready(events, prepared)
                with cur.copy("COPY events (stream, kind, at, actor, data) FROM STDIN") as copy:
                    for text in texts:
                        copy.write(text.encode())
                rollup_store.add_deltas(self._conn, delta)
        finally:
            cur.close()
        self._tx.appended = True

    @staticmethod
    def _ready(events: list[Event], prepared: Prepared | None) -> tuple[list[str], Counter]:
        """The COPY text and rollup deltas of `events`: what `prepared` made of its prefix
        (when `events` does begin with those very events), the rest made here."""
        done = 0
        texts: list[str] = []
        delta: Counter = Counter()
        if prepared is not None and prepared.work is not None:
            n = len(prepared.events)
            if n <= len(events) and all(a is b for a, b in zip(prepared.events, events[:n],
                                                                strict=True)):
                texts, delta = prepared.work.result()
                texts, delta, done = list(texts), Counter(delta), n
        if done < len(events):
            more, more_delta = _format(events[done:])
            texts += more
            delta.update(more_delta)
        return texts, delta

    def stream(self, stream: str) -> list[Event]:
        """One stream's events in log order."""
        return [_event(r) for r in self._conn.execute(_STREAM, {"stream": stream})]

    def streams(self, streams: Iterable[str]) -> dict[str, list[Event]]:
        """Each stream's events in log order, for many streams in a few queries."""
        out: dict[str, list[Event]] = {}
        for chunk in chunks(sorted(set(streams)), 500):
            q = sa.select(t.events).where(E.stream.in_(chunk)).order_by(E.stream, E.seq)
            for e in self._read(q):
                out.setdefault(e.stream, []).append(e)
        return out

    def exists(self, stream: str) -> bool:
        return self._conn.execute(sa.select(E.seq).where(E.stream == stream).limit(1)
                                  ).first() is not None

    def of_kind(self, kind: str, *, after: int = 0, limit: int = 2000) -> list[Event]:
        """Events of one kind in log order after `after` (a range of ix_events_kind)."""
        return self._read(sa.select(t.events).where(E.kind == kind, E.seq > after)
                          .order_by(E.seq).limit(limit))

    def since(self, seq: int, limit: int = 500) -> list[Event]:
        """Events after `seq`, oldest first (the live feed's cursor)."""
        return self._read(sa.select(t.events).where(E.seq > seq).order_by(E.seq).limit(limit))

    def numbered(self, seqs: Iterable[int]) -> list[Event]:
        """The events with these seqs that are visible now, in log order (a log reader's
        holes: which of the seqs it waits for have committed since)."""
        out: list[Event] = []
        for chunk in chunks(sorted(set(seqs)), 500):
            out += self._read(sa.select(t.events).where(E.seq.in_(chunk)).order_by(E.seq))
        return out

    def after(self, seq: int, kinds: Sequence[str], limit: int = 20_000) -> list[Event]:
        """Events of `kinds` after `seq`, the newest `limit` of them, oldest first (a range scan
        of the primary key: cheap to poll)."""
        q = (sa.select(t.events).where(E.seq > seq, E.kind.in_(kinds))
             .order_by(E.seq.desc()).limit(limit))
        return list(reversed(self._read(q)))

    def of_kinds(self, kinds: Sequence[str], *, since: datetime | None = None,
                 limit: int = 500) -> list[Event]:
        """Newest first."""
        q = sa.select(t.events).where(E.kind.in_(kinds))
        if since is not None:
            q = q.where(E.at >= since)
        return self._read(q.order_by(E.seq.desc()).limit(limit))

    def last_seq(self) -> int:
        return self._conn.execute(sa.select(sa.func.max(E.seq))).scalar() or 0

    def case_streams(self) -> list[str]:
        """Every case's stream id (incident and playbook streams share the log but are not
        cases)."""
        return [r[0] for r in self._conn.execute(sa.select(E.stream).distinct().where(
            *(~E.stream.like(p + "%") for p in ev.NON_CASE_PREFIXES)))]

    def case_streams_after(self, seq: int) -> list[str]:
        """The cases with events after log position `seq` (a range of the primary key)."""
        return [r[0] for r in self._conn.execute(sa.select(E.stream).distinct().where(
            E.seq > seq, *(~E.stream.like(p + "%") for p in ev.NON_CASE_PREFIXES)))]

    def incident_heads(self) -> list[Event]:
        """The events that say when each incident opened, changed level and stood down, in
        log order (the incident list folds them). One kind a query: each is a range of
        ix_events_kind; with the three in one IN list, SQLite walked the whole log in seq
        order instead (0.8 s at 176k cases)."""
        out: list[Event] = []
        for kind in (ev.INCIDENT_OPENED, ev.INCIDENT_LEVEL, ev.INCIDENT_STOOD_DOWN):
            out += self._read(sa.select(t.events).where(
                E.kind == kind, E.stream.like(ev.INCIDENT_PREFIX + "%")).order_by(E.seq))
        return sorted(out, key=lambda e: e.seq or 0)

    def rollup(self, name: str) -> dict[str, int]:
        """A rollup's counters by key (domain/rollups.py names them)."""
        return rollup_store.read(self._conn, name)

    def rebuild_rollups(self) -> None:
        """Every rollup counter recomputed from the log alone."""
        q = (sa.select(t.events).where(E.kind.in_(sorted(rollups.KINDS)))
             .order_by(E.seq).execution_options(yield_per=2000))
        rollup_store.rebuild(self._conn, (_event(r) for r in self._conn.execute(q)))

    def routing_needs(self, streams: Iterable[str]
                      ) -> dict[str, tuple[str, tuple[str, ...], str]]:
        """(track, topics, language) of each case's latest decision, for routing."""
        out = {}
        for chunk in chunks(sorted(set(streams)), 500):
            q = (sa.select(E.stream, E.data).where(E.stream.in_(chunk), E.kind == ev.DECIDED)
                 .order_by(E.stream, E.seq))
            for stream, data in self._conn.execute(q):
                d = json.loads(data)
                sig = d.get("signals", {})
                out[stream] = (d["decision"]["track"], tuple(sig.get("topics", ())),
                               sig.get("language", "und"))
        return out

    def count_after(self, seq: int, kind: str) -> tuple[int, int]:
        """(how many events of `kind` after `seq`, the last seq): a cursor's step over the
        log (ix_events_kind), so a per-pass check reads only what is new."""
        n = self._conn.execute(sa.select(sa.func.count()).where(E.kind == kind, E.seq > seq)
                               ).scalar_one()
        return n, self.last_seq()

    def _read(self, q: sa.Select) -> list[Event]:
        return [_event(r) for r in self._conn.execute(q)]


def _event(r: sa.Row) -> Event:
    return ev.from_row(r.stream, r.kind, utc(r.at), r.actor, r.data, r.seq)
