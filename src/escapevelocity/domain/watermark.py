"""Reading the event log past a cursor without skipping an event that commits late.

On PostgreSQL a sequence hands out `seq` when an event is inserted, not when it commits: two
writers committing at once can make seq 105 visible before seq 100, and a reader that moved its
cursor to 105 would never see 100 (a lost notification, a lost webhook, a page not refreshed).
So a reader keeps a `Watermark` instead of a plain cursor:

- `low`: every seq at or below it was handled or given up on. This is the cursor to persist
  and to resume from.
- `high`: the highest seq handled.
- `missing`: the seqs between them not seen yet, each with when it was first missed.

Every seq in (low, high] that is not missing has been handled, so a reader reads again only
the missing seqs and what lies past `high`: nothing is handled twice, and new events are never
held back by a hole. A hole is waited for a while (its transaction may still commit: the
reader's `gap`, `GAP_SECONDS` for the live tail, longer for the stored readers); after that it
is given up (the transaction rolled back: that seq never comes, or it committed too late).
A hole wider than `MAX_SPAN` (a rebuild, a restore) is passed over at once rather than timed
seq by seq.

One rule for every log reader: the live tail (adapters/bus/feed.py `Tail`, in memory) and the
readers that keep their watermark in the store (services/logreader.py: notifications and the
CRM webhook outbox). Pure: time comes in as seconds, from whichever clock the reader uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

GAP_SECONDS = 10.0
MAX_SPAN = 100_000


@dataclass(frozen=True)
class Watermark:
    low: int
    high: int
    missing: Mapping[int, float] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def at(cls, seq: int) -> Watermark:
        """A reader that has handled everything up to `seq` and nothing past it."""
        return cls(seq, seq)

    def advance(self, seen: Iterable[int], now: float, *, gap: float = GAP_SECONDS,
                max_span: int = MAX_SPAN) -> Watermark:
        """The watermark after handling `seen` (the missing seqs that came, and new ones past
        `high`, in any order) at time `now`: holes opened by the new seqs start their wait,
        holes that came or waited `gap` close, and `low` stops below the first hole left."""
        seen = sorted(set(seen))
        missing = {s: t for s, t in self.missing.items() if s not in seen}
        prev = self.high
        for seq in seen:
            if seq <= self.high:
                continue  # a hole that filled (or a seq told again: harmless)
            if seq - prev - 1 <= max_span:
                for hole in range(prev + 1, seq):
                    missing.setdefault(hole, now)
            prev = seq
        missing = {s: t for s, t in missing.items() if now - t < gap}
        low = min(missing) - 1 if missing else prev
        return Watermark(max(low, self.low), prev, MappingProxyType(missing))
