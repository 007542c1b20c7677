"""Mentions: every accepted post, keyed (channel, source_id), with its signals.

Never lose an accepted mention: ingest writes them in the same transaction as the events
and cases they start, through the raw cursor (executemany) because that is the hot path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import msgspec
import sqlalchemy as sa

from escapevelocity.adapters.store import bulk_pg
from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import Repo, chunks

# The partial index ix_mentions_provisional is declared WHERE provisional; SQLite uses it only
# for a query that says the same words ("provisional = 1", what SQLAlchemy writes for the
# column, scanned every mention: 0.45 s a count at 176k cases, and every refine tick).
_PROVISIONAL = sa.text("provisional")
COLUMNS = ("channel", "source_id", "case_id", "author_handle", "created_at", "received_at",
           "body", "signals", "provisional")
_PG_TYPES = tuple(bulk_pg.pg_type(t.mentions.c[c]) for c in COLUMNS)


class Mentions(Repo):
    def case_ids(self, keys: Iterable[tuple[str, str]]) -> dict[str, str]:
        """'channel:source_id' -> case id for the stored ones among (channel, source_id) `keys`.

        One query per channel so the (channel, source_id) unique index is used: filtering on
        source_id alone scans the whole table, which made ingest quadratic.
        """
        if not self._sqlite:  # one query for the whole batch (adapters/store/bulk_pg)
            pairs = sorted(set(keys))
            if not pairs:
                return {}
            cur = self._cursor()
            try:
                cur.execute("SELECT m.channel, m.source_id, m.case_id FROM "
                            f"{bulk_pg.unnest(('text', 'text'))} AS k(channel, source_id) "
                            "JOIN mentions m ON m.channel = k.channel "
                            "AND m.source_id = k.source_id",
                            bulk_pg.columns_of(pairs, 2))
                return {f"{c}:{s}": case for c, s, case in cur.fetchall()}
            finally:
                cur.close()
        by_channel: dict[str, set[str]] = defaultdict(set)
        for channel, source_id in keys:
            by_channel[channel].add(source_id)
        out: dict[str, str] = {}
        if not by_channel:
            return out
        p = self._b.mark
        cur = self._cursor()
        try:
            for channel, ids in by_channel.items():
                for chunk in chunks(list(ids), 500):
                    cur.execute(f"SELECT source_id, case_id FROM mentions WHERE channel = {p} "
                                f"AND source_id IN ({self._b.marks(len(chunk))})",
                                [channel, *chunk])
                    for source_id, case_id in cur.fetchall():
                        out[f"{channel}:{source_id}"] = case_id
        finally:
            cur.close()
        return out

    def insert_rows_ignoring(self, rows: list[tuple]) -> int:
        """Rows are tuples in COLUMNS order (body and signals JSON text), inserted or ignored
        on the natural key (channel, source_id); returns how many rows were written. Fewer than
        given means a concurrent writer stored some first (the caller replans): the insert
        itself never fails on a duplicate, on either database."""
        if not rows:
            return 0
        dt = self._b.dt_memo()
        values = [(c, s, case, a, dt(created), dt(received), body, sig, bool(provisional))
                  for c, s, case, a, created, received, body, sig, provisional in rows]
        cur = self._cursor()
        try:
            if not self._sqlite:  # one statement, arrays per column (adapters/store/bulk_pg)
                cur.execute(f"INSERT INTO mentions ({', '.join(COLUMNS)}) "
                            f"SELECT * FROM {bulk_pg.unnest(_PG_TYPES)} "
                            "ON CONFLICT (channel, source_id) DO NOTHING",
                            bulk_pg.columns_of(values, len(COLUMNS)))
                return cur.rowcount
            cur.executemany(
                f"INSERT INTO mentions ({', '.join(COLUMNS)}) "
                f"VALUES ({self._b.marks(len(COLUMNS))}) "
                "ON CONFLICT (channel, source_id) DO NOTHING", values)
            return cur.rowcount
        finally:
            cur.close()

    def insert_new(self, rows: list[tuple]) -> int:
        """Ingest's write of mentions it found not stored, under their authors' locks
        (`tx.lock_keys`): on PostgreSQL one COPY (no per-row conflict check to plan; the
        unique index still refuses a key a writer outside those locks stored first, and that
        unique violation rolls the batch back to be planned again, services/retry.py, as a
        short count does). SQLite: `insert_rows_ignoring`. Returns how many were written."""
        if self._sqlite or not rows:
            return self.insert_rows_ignoring(rows)
        cur = self._cursor()
        try:
            bulk_pg.copy_rows(cur, "mentions", COLUMNS,
                              [(*row[:8], bool(row[8])) for row in rows])
        finally:
            cur.close()
        return len(rows)

    def of_case(self, case_id: str) -> list[sa.Row]:
        """A case's mentions in the order they were written."""
        return list(self._conn.execute(sa.select(t.mentions)
                                       .where(t.mentions.c.case_id == case_id)
                                       .order_by(t.mentions.c.created_at, t.mentions.c.id)))

    def provisional(self, limit: int) -> list[sa.Row]:
        """Mentions whose signals wait for a learned model's sentence vectors, oldest first.
        A flag, not a cursor: on PostgreSQL ids are handed out before commits, which may land
        in any order, so a cursor could pass a row that commits later."""
        m = t.mentions.c
        return list(self._conn.execute(
            sa.select(m.id, m.channel, m.source_id, m.case_id, m.body, m.signals)
            .where(_PROVISIONAL).order_by(m.id).limit(limit)))

    def provisional_count(self) -> int:
        return self._conn.execute(sa.select(sa.func.count()).select_from(t.mentions)
                                  .where(_PROVISIONAL)).scalar_one()

    def first_ids(self, case_ids: Iterable[str]) -> dict[str, int]:
        """Each case's first mention row (what its title and projection's signals come from)."""
        m = t.mentions.c
        ids = sorted(set(case_ids))
        if not ids:
            return {}
        return dict(self._conn.execute(sa.select(m.case_id, sa.func.min(m.id))
                                       .where(m.case_id.in_(ids)).group_by(m.case_id)).all())

    def settle(self, row_id: int, signals: str) -> bool:
        """Replace a provisional mention's signals with the full answer; False when another
        pass settled it first (so only one pass records the revision)."""
        m = t.mentions.c
        done = self._conn.execute(sa.update(t.mentions).where(m.id == row_id, _PROVISIONAL)
                                  .values(signals=signals, provisional=False))
        return bool(done.rowcount)

    def keys(self) -> set[str]:
        """Every stored mention as 'channel:source_id' (a load test's before and after)."""
        m = t.mentions.c
        return {f"{c}:{s}" for c, s in self._conn.execute(sa.select(m.channel, m.source_id))}

    def last_id(self) -> int:
        return self._conn.execute(sa.select(sa.func.max(t.mentions.c.id))).scalar() or 0

    def recent(self, limit: int) -> list[sa.Row]:
        """The newest `limit` mentions (channel, author_handle, case_id, body, signals), for
        scoring authors (services/advocacy.py)."""
        m = t.mentions.c
        return list(self._conn.execute(
            sa.select(m.channel, m.author_handle, m.case_id, m.body, m.signals)
            .order_by(m.id.desc()).limit(limit)))

    def recent_signals(self, limit: int) -> list[str]:
        """The newest `limit` mentions' signals (JSON text), for the signals page."""
        m = t.mentions.c
        return [r[0] for r in self._conn.execute(sa.select(m.signals).order_by(m.id.desc())
                                                 .limit(limit))]

    def cases_via(self, channel: str, via: str, since: datetime, limit: int
                  ) -> list[tuple[str, datetime]]:
        """(case id, first received) of the cases with a mention that came through the
        connection `via` since `since`, newest first: a unit's shadow queue. The channel and
        the time narrow the rows; the body (the Mention's JSON, compact) says which
        connection, and is checked again decoded."""
        m = t.mentions.c
        needle = '"via":' + msgspec.json.encode(via).decode()
        rows = self._conn.execute(
            sa.select(m.case_id, m.received_at, m.body)
            .where(m.channel == channel, m.received_at >= since,
                   m.body.contains(needle, autoescape=True))
            .order_by(m.id.desc()).limit(limit * 4))
        out: dict[str, datetime] = {}
        for case_id, at, body in rows:
            if msgspec.json.decode(body).get("via") == via:
                out[case_id] = at  # newest first, so the last seen is the case's first
        return sorted(out.items(), key=lambda kv: kv[1], reverse=True)[:limit]
