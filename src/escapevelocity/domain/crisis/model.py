"""Settings, levels and alerts shared by the crisis detectors."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import msgspec

# Ordered from calm to worst; the playbook matches on these names (domain/playbook/spec.py LEVELS).
LEVELS = ("normal", "watch", "crisis1", "crisis2", "crisis3")
RANK = {name: i for i, name in enumerate(LEVELS)}

HOURS_PER_WEEK = 168
# Hour index 0 is Monday 1970-01-05 00:00 UTC, so `hour % 168` is the hour of the week
# (0 = Monday 00:00 UTC) and `hour % 24` the hour of the day.
EPOCH = datetime(1970, 1, 5, tzinfo=UTC)
_EPOCH_TS = EPOCH.timestamp()

OVERALL = "*"


def hour_index(at: datetime) -> int:
    """Whole hours since EPOCH (a Monday 00:00 UTC) for a timezone-aware datetime."""
    if at.tzinfo is None:
        raise ValueError("crisis detection needs timezone-aware datetimes")
    return int((at.timestamp() - _EPOCH_TS) // 3600)


def hour_start(hour: int) -> datetime:
    return EPOCH + timedelta(hours=hour)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """How sensitive the detectors are and how they learn the normal.

    The main knob is `false_alarms_per_week`: the budget of alerts per watched series per week
    on normal traffic. It sets the tail probability an observation must beat, shared over the
    windows tested (a Bonferroni split), so adding windows does not add false alarms.
    """

    false_alarms_per_week: float = 0.2
    # Topics are many: each topic series gets this smaller budget (None: the same as above).
    topic_false_alarms_per_week: float | None = 0.05
    windows: tuple[int, ...] = (1, 3, 6)   # hours summed for a test; 1 catches sudden spikes
    dispersion: float = 8.0                # gamma shape of normal counts: var = m + m**2/shape
    learn_dispersion: bool = True          # estimate the shape from the data, starting there
    dispersion_prior_hours: float = 24.0   # the prior shape is worth a day of busy hours
    warmup_hours: int = 48                 # no alerts until this many hours were learned
    ramp_hours: int = 336                  # then the budget grows linearly, full after two weeks
    cooldown_hours: int = 6                # after an alert, stay quiet unless the level rises
    memory_weeks: float = 8.0              # baseline forgets with this horizon
    # Hierarchical seasonal baseline: hour of week -> (hour of day x day of week) -> level.
    # Prior spreads (relative sd of a factor around 1) before data: a daily profile may swing
    # +-50%, a day of the week +-25% (weekends). The prior strength in observations is then
    # u / spread**2, with u the relative variance of one hourly count.
    hour_of_day_spread: float = 0.5
    day_of_week_spread: float = 0.25
    # None: learn the hour-of-week prior strength from the data (empirical Bayes, below).
    hour_of_week_prior: float | None = None
    tau_prior: float = 0.01                # prior between-slot relative variance (10% spread)
    tau_prior_weight: float = 168.0        # ... worth this many slot observations
    model_error: float = 0.005             # floor on the baseline's relative variance
    min_expected: float = 0.5              # mentions per hour; a floor for very quiet series
    min_ratio: float = 1.3                 # observed / baseline needed on top of significance
    min_count: int = 5                     # fewer mentions than this never alert
    # Negative share (beta-binomial through a design effect).
    share_correlation: float = 0.02        # intra-hour correlation of sentiment (over-dispersion)
    min_share_rise: float = 0.15           # absolute rise of the negative share needed
    share_prior_mentions: float = 50.0     # prior weight of the share before data
    share_prior: float = 0.2               # negative share assumed before data
    min_share_mentions: int = 10           # fewer mentions in the hour never alert on share
    # Explanations and state bounds.
    top_terms: int = 5
    examples: int = 5
    max_topics: int = 2_000
    max_terms: int = 20_000

    @property
    def log_alpha(self) -> float:
        """log of the per-hour tail probability that makes an alert."""
        return math.log(self.false_alarms_per_week / HOURS_PER_WEEK)


class Alert(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One alert, explaining itself: what was seen, what was expected, and how unlikely it is."""

    hour: int                       # hour index (see EPOCH) of the bucket that alerted
    at: datetime                    # start of that hour
    key: str                        # "*" overall, else "topic:<name>"
    signal: str                     # "volume" | "negative_share" | "backlog" | "sla_breach"
    level: str                      # one of LEVELS (never "normal")
    observed: float                 # count (or share) over the window
    baseline: float                 # expected count (or share) over the window
    ratio: float                    # observed / baseline (share: observed share / baseline)
    score: float                    # -log10 of the tail probability (after the window split)
    threshold: float                # the score needed to alert: -log10 of the per-hour budget
    window_hours: int = 1
    early: bool = False             # fired before the hour closed, on a partial count
    top_terms: tuple[tuple[str, int], ...] = ()
    example_ids: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        what = "negative share" if self.signal == "negative_share" else self.signal
        span = f"{self.window_hours}h" if self.window_hours > 1 else "1h"
        fmt = "{:.0%}" if self.signal in ("negative_share", "sla_breach") else "{:.0f}"
        text = (f"{self.level}: {what} {fmt.format(self.observed)} in {span} vs baseline "
                f"{fmt.format(self.baseline)} (x{self.ratio:.1f}, score {self.score:.1f} "
                f">= {self.threshold:.1f}){' [early]' if self.early else ''}")
        if self.top_terms:
            text += "; terms: " + ", ".join(t for t, _ in self.top_terms)
        return text


_STEPS = ("watch", "crisis1", "crisis2", "crisis3")


def severity(magnitude_step: int, margin: float) -> str:
    """Level of a significant alert: the lower of its magnitude step (0-3) and its
    significance step (the score's margin over the threshold, one step per factor of 10)."""
    significance_step = min(3, max(0, int(margin)))
    return _STEPS[min(magnitude_step, significance_step)]


def volume_step(ratio: float) -> int:
    """Magnitude step of a volume excess: < x2 -> 0, x2 -> 1, x4 -> 2, x8 and more -> 3."""
    return 3 if ratio >= 8.0 else 2 if ratio >= 4.0 else 1 if ratio >= 2.0 else 0


def share_step(rise: float) -> int:
    """Magnitude step of a negative-share rise (absolute): +0.25 -> 1, +0.35 -> 2, +0.5 -> 3."""
    return 3 if rise >= 0.50 else 2 if rise >= 0.35 else 1 if rise >= 0.25 else 0
