"""CrisisMonitor: per-mention streaming detection, overall and per topic.

Each mention increments counters in the open hour's bucket of the overall series and of each of
its topics (O(1) per mention and topic). When the hour changes, every series' bucket closes and
is tested for volume and negative share, then learned. Within the hour, a series whose count
reaches its precomputed alert line is tested at once (an early alert), so a sudden spike is
reported minutes after it starts rather than at the top of the next hour.
"""

from __future__ import annotations

import math
from datetime import datetime

import msgspec

from escapevelocity.domain.crisis.detectors import ShareDetector, VolumeDetector
from escapevelocity.domain.crisis.model import _EPOCH_TS, OVERALL, Alert, Settings, hour_index


class _Series:
    __slots__ = (
        "background",
        "background_total",
        "exact",
        "key",
        "line",
        "n",
        "neg",
        "negative_ids",
        "other_ids",
        "share",
        "terms",
        "volume",
    )

    def __init__(self, key: str, settings: Settings) -> None:
        self.key = key
        self.volume = VolumeDetector(settings, key)
        self.share = ShareDetector(settings, key)
        self.n = 0
        self.neg = 0
        self.terms: dict[str, int] = {}
        self.negative_ids: list[str] = []
        self.other_ids: list[str] = []
        self.line = math.inf        # count at which to look closer (cheap bound, then exact)
        self.exact = False
        self.background: dict[str, int] = {}
        self.background_total = 0


class CrisisMonitor:
    """Watch the mention stream for crises: volume and negative share, overall and per topic.

    `observe` takes one mention's time (timezone-aware), whether it is negative, its topics and
    id, and optionally its terms (for the explanation), and returns the alerts that fired, if
    any. Mentions that arrive late (before the open hour) count in the open hour.
    """

    def __init__(self, settings: Settings | None = None) -> None:
        self.s = settings or Settings()
        self._hour: int | None = None
        self._overall = _Series(OVERALL, self.s)
        self._topics: dict[str, _Series] = {}
        self._k = self.s.examples
        topic_budget = self.s.topic_false_alarms_per_week
        self._topic_settings = self.s if topic_budget is None else msgspec.structs.replace(
            self.s, false_alarms_per_week=topic_budget)

    # -- public -------------------------------------------------------------------------------
    def observe(self, at: datetime, negative: bool, topics: tuple[str, ...] = (),
                mention_id: str = "", terms: tuple[str, ...] = ()) -> list[Alert]:
        if at.tzinfo is None:
            raise ValueError("crisis detection needs timezone-aware datetimes")
        h = int((at.timestamp() - _EPOCH_TS) // 3600)
        out: list[Alert] = []
        if h != self._hour:
            if self._hour is None:
                self._open(h)
            elif h > self._hour:
                out = self._advance(h)
        self._count(self._overall, negative, mention_id, terms, out)
        if topics:
            table = self._topics
            for topic in topics:
                series = table.get(topic)
                if series is None:
                    if len(table) >= self.s.max_topics:
                        continue
                    series = table[topic] = _Series("topic:" + topic, self._topic_settings)
                    series.volume.last_hour = self._hour - 1 if self._hour is not None else None
                self._count(series, negative, mention_id, terms, out)
        return out

    def tick(self, now: datetime) -> list[Alert]:
        """Close every hour before `now`'s (call from the shell's clock when traffic is quiet)."""
        h = hour_index(now)
        if self._hour is None or h <= self._hour:
            return []
        return self._advance(h)

    @property
    def topics(self) -> tuple[str, ...]:
        return tuple(self._topics)

    def expected(self, topic: str | None = None, at: datetime | None = None) -> float:
        """Baseline mentions per hour for the overall series or a topic, at `at` (or now)."""
        series = self._overall if topic is None else self._topics.get(topic)
        if series is None:
            return 0.0
        hour = hour_index(at) if at is not None else (self._hour or 0)
        return series.volume.expect(hour)

    # -- internals ----------------------------------------------------------------------------
    def _count(self, series: _Series, negative: bool, mention_id: str, terms: tuple[str, ...],
               out: list[Alert]) -> None:
        series.n += 1
        if negative:
            series.neg += 1
            if len(series.negative_ids) < self._k:
                series.negative_ids.append(mention_id)
        elif len(series.other_ids) < self._k:
            series.other_ids.append(mention_id)
        if terms:
            counts = series.terms
            for term in terms:
                counts[term] = counts.get(term, 0) + 1
        if series.n >= series.line:
            self._look_closer(series, out)

    def _look_closer(self, series: _Series, out: list[Alert]) -> None:
        assert self._hour is not None
        if not series.exact:
            series.exact = True
            series.line = series.volume.early_threshold(self._hour)
            if series.n < series.line:
                return
        series.line = math.inf  # one early test per hour; the close may still escalate
        alert = series.volume.check_partial(self._hour, series.n)
        if alert is not None:
            out.append(self._explain(series, alert, self._examples(series)))

    def _open(self, hour: int) -> None:
        self._hour = hour
        self._arm(self._overall, hour)
        for series in self._topics.values():
            self._arm(series, hour)

    def _arm(self, series: _Series, hour: int) -> None:
        """Set the cheap alert line for the new hour: no test below max(min_count, ratio x
        baseline); the exact negative-binomial line is computed only if that is reached."""
        series.exact = False
        volume = series.volume
        s = volume.s
        if volume.learned < s.warmup_hours:
            series.line = math.inf
            return
        series.line = max(s.min_count, s.min_ratio * volume.expect(hour))

    def _advance(self, hour: int) -> list[Alert]:
        assert self._hour is not None
        out: list[Alert] = []
        closing = self._hour
        for series in (self._overall, *self._topics.values()):
            self._close(series, closing, out)
            if hour > closing + 1:  # silent hours in between are zeros, learned now
                series.volume.update(hour - 1, 0)
        self._open(hour)
        return out

    def _close(self, series: _Series, hour: int, out: list[Alert]) -> None:
        alert = series.volume.update(hour, series.n)
        if alert is not None:
            out.append(self._explain(series, alert, self._examples(series)))
        if series.n:
            alert = series.share.update(hour, series.n, series.neg)
            if alert is not None:
                out.append(self._explain(series, alert, tuple(series.negative_ids)))
        self._learn_terms(series)
        series.n = series.neg = 0
        series.negative_ids.clear()
        series.other_ids.clear()

    def _explain(self, series: _Series, alert: Alert, examples: tuple[str, ...]) -> Alert:
        """Add the hour's telling terms and example mentions (only for alerts: sorting the
        hour's terms is the one step here that is not O(1))."""
        return msgspec.structs.replace(alert, top_terms=self._top_terms(series),
                                       example_ids=examples)

    def _examples(self, series: _Series) -> tuple[str, ...]:
        ids = series.negative_ids + series.other_ids
        return tuple(ids[: self._k])

    def _top_terms(self, series: _Series) -> tuple[tuple[str, int], ...]:
        """Terms most over-represented in the open hour against the series' history."""
        if not series.terms:
            return ()
        bg, total = series.background, series.background_total
        n = max(series.n, 1)

        def lift(item: tuple[str, int]) -> float:
            term, count = item
            expected = (bg.get(term, 0) + 0.5) / (total + 1.0) * n
            return count * math.log((count + 0.5) / expected)

        ranked = sorted(series.terms.items(), key=lift, reverse=True)
        return tuple(ranked[: self.s.top_terms])

    def _learn_terms(self, series: _Series) -> None:
        if not series.terms:
            return
        bg = series.background
        for term, count in series.terms.items():
            bg[term] = bg.get(term, 0) + count
        series.background_total += series.n
        series.terms = {}
        if len(bg) > self.s.max_terms:  # keep the vocabulary bounded: drop the rarest half
            keep = sorted(bg.items(), key=lambda kv: kv[1], reverse=True)[: self.s.max_terms // 2]
            series.background = dict(keep)
