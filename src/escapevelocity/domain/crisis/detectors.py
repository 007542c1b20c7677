"""Hourly detectors: volume against a seasonal baseline, and negative share.

Each detector is fed one closed hour at a time (hour index, see model.EPOCH) and returns an
Alert or None. They hold only bounded state (a few hundred floats) and do no I/O.

Volume test. The normal count in an hour is modelled as gamma-Poisson (negative binomial) with
mean from the seasonal baseline and gamma shape `dispersion`. The baseline is itself estimated,
so its uncertainty is added to the predictive law (a wider, lower-shape negative binomial),
which is what keeps a quiet start from alarming. The last 1, 3 and 6 hours are tested as sums:
the hourly gamma noise is independent, so a sustained rise is far more significant summed
than hour by hour, while a sudden spike is caught by the 1-hour window. The smallest tail
probability, multiplied by the number of windows, must beat the per-hour false-alarm budget.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime

from escapevelocity.domain.crisis.model import (
    HOURS_PER_WEEK,
    OVERALL,
    RANK,
    Alert,
    Settings,
    hour_index,
    hour_start,
    severity,
    share_step,
    volume_step,
)
from escapevelocity.domain.crisis.stats import binomial_log_sf, nb_log_sf, nb_threshold

_LN10 = math.log(10.0)
_MAX_GAP_FILL = 2 * HOURS_PER_WEEK


class SeasonalBaseline:
    """Expected count for an hour of the week, shrunk towards coarser levels when data is thin.

    hour of week  <- shrunk towards ->  level x hour-of-day factor x day-of-week factor
    hour of day   <- shrunk towards ->  level      (factor 1)
    day of week   <- shrunk towards ->  level      (factor 1)

    All sums forget with a horizon of `memory_weeks`. `expect` also returns the relative
    variance of the estimate (roughly a posterior variance), used to widen the test.
    """

    __slots__ = (
        "_dd",
        "_dg",
        "_dh",
        "_disp_den",
        "_disp_num",
        "_dw",
        "_learned",
        "d_exp",
        "d_n",
        "d_sum",
        "g_n",
        "g_sum",
        "h_n",
        "h_sum",
        "inv_shape",
        "s",
        "tau2",
        "w_n",
        "w_sum",
    )

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.g_sum = 0.0
        self.g_n = 0.0
        self.h_sum = [0.0] * 24
        self.h_n = [0.0] * 24
        self.d_sum = [0.0] * 7
        self.d_exp = [0.0] * 7
        self.d_n = [0.0] * 7
        self.w_sum = [0.0] * HOURS_PER_WEEK
        self.w_n = [0.0] * HOURS_PER_WEEK
        self.tau2 = settings.tau_prior
        # Over-dispersion 1/shape, learned by moments with a prior worth dispersion_prior_hours
        # of data at mean 10: E[(x - m)^2 - x] = m^2 (1/shape + relative variance of m).
        self.inv_shape = 1.0 / settings.dispersion
        self._disp_num = 0.0
        self._disp_den = 0.0
        self._learned = 0
        m = max(settings.memory_weeks, 1.0)
        self._dg = 1.0 - 1.0 / (HOURS_PER_WEEK * m)
        self._dh = 1.0 - 1.0 / (7 * m)
        self._dd = 1.0 - 1.0 / (24 * m)
        self._dw = 1.0 - 1.0 / m

    @property
    def level(self) -> float:
        return self.g_sum / self.g_n if self.g_n > 0 else 0.0

    def _hod(self, hod: int) -> tuple[float, float]:
        """Sum and count for an hour of day, smoothed over its neighbours (1/4, 1/2, 1/4).

        Daily profiles are smooth; smoothing cuts the noise of a 24-bin profile learned from a
        few days by more than half, at the cost of flattening a sinusoid's peak by under 2%.
        """
        hs, hn = self.h_sum, self.h_n
        before, after = (hod - 1) % 24, (hod + 1) % 24
        return (0.5 * hs[hod] + 0.25 * (hs[before] + hs[after]),
                0.5 * hn[hod] + 0.25 * (hn[before] + hn[after]))

    def _hod_factor(self, hod: int, level: float) -> float:
        u = self.inv_shape + 1.0 / max(level, self.s.min_expected)
        k = u / self.s.hour_of_day_spread ** 2
        total, n = self._hod(hod)
        return (total + k * level) / ((n + k) * level)

    def _prior(self, hour: int, level: float) -> tuple[float, float, float, float]:
        """Separable estimate level x hour-of-day x day-of-week: (mean, u, v_shared, v_local)."""
        s = self.s
        hod, dow = hour % 24, (hour // 24) % 7
        u = self.inv_shape + 1.0 / max(level, s.min_expected)
        kh = u / s.hour_of_day_spread ** 2
        kd = u / s.day_of_week_spread ** 2
        total, n = self._hod(hod)
        prior = ((total + kh * level) / (n + kh)
                 * (self.d_sum[dow] + kd * level) / (self.d_exp[dow] + kd * level))
        u = self.inv_shape + 1.0 / max(prior, s.min_expected)
        # the smoothed profile averages 1/0.375 times as many observations as its count says
        v_local = u / (n / 0.375 + kh)
        v_shared = u / (self.d_n[dow] + kd) + u / self.g_n
        return prior, u, v_shared, v_local

    def expect(self, hour: int) -> tuple[float, float, float]:
        """(expected count, relative variance shared by neighbouring hours, relative variance
        local to this hour of day) for an hour index."""
        s = self.s
        level = self.level
        if level <= 0.0:
            return s.min_expected, 1.0, 0.0
        prior, u, v_shared, v_local = self._prior(hour, level)
        how = hour % HOURS_PER_WEEK
        # Empirical Bayes: an hour of the week departs from the separable prior by a relative
        # spread tau (estimated from the data), so its own mean gets weight n / (n + u / tau^2).
        ks = s.hour_of_week_prior if s.hour_of_week_prior is not None else u / self.tau2
        ns = self.w_n[how]
        mean = (self.w_sum[how] + ks * prior) / (ns + ks)
        lam = ns / (ns + ks)
        shrink = (1.0 - lam) ** 2
        v_local = shrink * v_local + u * ns / (ns + ks) ** 2
        return max(mean, s.min_expected), shrink * v_shared + s.model_error, v_local

    def _estimate_tau2(self) -> None:
        """Between-slot spread of hour-of-week means around the separable prior (moments)."""
        level = self.level
        if level <= 0.0:
            return
        num = den = 0.0
        for how in range(HOURS_PER_WEEK):
            ns = self.w_n[how]
            if ns < 0.5:
                continue
            prior, u, v_shared, v_local = self._prior(how, level)
            r = self.w_sum[how] / (ns * prior) - 1.0
            num += ns * (r * r - u / ns - v_shared - v_local)
            den += ns
        m0 = self.s.tau_prior_weight
        self.tau2 = max(1e-4, (num + m0 * self.s.tau_prior) / (den + m0))

    def learn_dispersion(self, x: float, mean: float, v_est: float) -> None:
        """One hour's evidence on the over-dispersion 1/shape (moments, inverse-variance weights).

        E[(x - m)^2 - x] / m^2 = 1/shape + (relative variance of the estimate m), and that
        statistic's variance is about 2 (1/shape + 1/m)^2, so quiet hours weigh little. The
        prior (the `dispersion` setting) is worth `dispersion_prior_hours` of busy hours.
        """
        s = self.s
        if not s.learn_dispersion or mean <= 0.0:
            return
        inv0 = 1.0 / s.dispersion
        weight = 1.0 / (inv0 + 1.0 / mean) ** 2
        z = ((x - mean) ** 2 - x) / (mean * mean) - v_est
        self._disp_num = self._disp_num * self._dg + weight * z
        self._disp_den = self._disp_den * self._dg + weight
        prior = s.dispersion_prior_hours / (inv0 * inv0)
        estimate = (self._disp_num + prior * inv0) / (self._disp_den + prior)
        self.inv_shape = min(2.0, max(0.005, estimate))

    def learn(self, hour: int, x: float) -> None:
        hod, dow, how = hour % 24, (hour // 24) % 7, hour % HOURS_PER_WEEK
        level = self.level
        expected = level * self._hod_factor(hod, level) if level > 0 else x
        self.g_sum = self.g_sum * self._dg + x
        self.g_n = self.g_n * self._dg + 1.0
        self.h_sum[hod] = self.h_sum[hod] * self._dh + x
        self.h_n[hod] = self.h_n[hod] * self._dh + 1.0
        self.d_sum[dow] = self.d_sum[dow] * self._dd + x
        self.d_exp[dow] = self.d_exp[dow] * self._dd + expected
        self.d_n[dow] = self.d_n[dow] * self._dd + 1.0
        self.w_sum[how] = self.w_sum[how] * self._dw + x
        self.w_n[how] = self.w_n[how] * self._dw + 1.0
        self._learned += 1
        if self._learned % 24 == 0 and self.s.hour_of_week_prior is None:
            self._estimate_tau2()


class _Cooldown:
    __slots__ = ("rank", "until")

    def __init__(self) -> None:
        self.until = -1
        self.rank = 0

    def allows(self, hour: int, level: str) -> bool:
        return hour >= self.until or RANK[level] > self.rank

    def start(self, hour: int, level: str, hours: int) -> None:
        self.until, self.rank = hour + hours, RANK[level]


class VolumeDetector:
    """Volume spikes in one hourly series (overall, or one topic) against its seasonal baseline.

    `update(hour, count)` closes an hour; `check_partial(hour, count)` tests a still-open hour
    (a partial count is a lower bound, so an early alert is never premature); `early_threshold`
    gives the count at which the open hour's 1-hour window would alert, so a caller can compare
    an integer per mention instead of testing.
    """

    __slots__ = (
        "_cool",
        "_log_split",
        "_maxw",
        "_ring",
        "baseline",
        "key",
        "last_hour",
        "learned",
        "s",
    )

    def __init__(self, settings: Settings | None = None, key: str = OVERALL) -> None:
        self.s = settings or Settings()
        self.key = key
        self.baseline = SeasonalBaseline(self.s)
        self.learned = 0
        self.last_hour: int | None = None
        self._maxw = max(self.s.windows)
        self._ring: deque[tuple[float, float, float, float, float]] = deque(maxlen=self._maxw)
        self._cool = _Cooldown()
        self._log_split = math.log(len(self.s.windows))

    # -- public -------------------------------------------------------------------------------
    def update(self, hour: int | datetime, count: float, *, top_terms=(), example_ids=()
               ) -> Alert | None:
        """Close `hour` with its `count`; hours skipped since the last update count as zero."""
        h = hour if isinstance(hour, int) else hour_index(hour)
        if self.last_hour is not None:
            if h <= self.last_hour:
                raise ValueError(f"hour {h} is not after the last closed hour {self.last_hour}")
            gap = h - self.last_hour - 1
            if gap > _MAX_GAP_FILL:  # a long silence: forget the recent window, keep the season
                self._ring.clear()
                gap = 0
            for missing in range(h - gap, h):
                self._close(missing, 0.0, (), ())
        return self._close(h, float(count), top_terms, example_ids)

    def check_partial(self, hour: int, count: float, *, top_terms=(), example_ids=()
                      ) -> Alert | None:
        """Test an hour that has not closed yet; does not learn."""
        alert, _ = self._test(hour, float(count), early=True, top_terms=top_terms,
                              example_ids=example_ids)
        return alert

    def early_threshold(self, hour: int) -> float:
        """Count at which the open `hour` alone would alert (inf while warming up)."""
        if self.learned < self.s.warmup_hours:
            return math.inf
        mean, v_shared, v_local = self.baseline.expect(hour)
        shape = 1.0 / (self.baseline.inv_shape + v_shared + v_local)
        need = nb_threshold(mean, shape, self.s.log_alpha - self._log_split - self._ramp())
        return float(max(need, self.s.min_count, math.ceil(self.s.min_ratio * mean)))

    def expect(self, hour: int) -> float:
        return self.baseline.expect(hour)[0]

    # -- internals ----------------------------------------------------------------------------
    def _ramp(self) -> float:
        """Until `ramp_hours` are learned, spend the false-alarm budget in proportion to the
        share seen (the baseline is least sure of itself then): a log-probability penalty."""
        ramp_hours = self.s.ramp_hours
        if not ramp_hours or self.learned >= ramp_hours:
            return 0.0
        return -math.log(max(self.learned, 1) / ramp_hours)

    def _test(self, hour: int, x: float, *, early: bool, top_terms, example_ids
              ) -> tuple[Alert | None, tuple]:
        s = self.s
        mean, v_shared, v_local = self.baseline.expect(hour)
        row = (x, mean, mean * mean * self.baseline.inv_shape, mean * math.sqrt(v_shared),
               mean * math.sqrt(v_local))
        rows = list(self._ring)
        rows.append(row)
        ramp = self._ramp()
        best_lp, best = 0.0, None
        level = "normal"
        flagged = alarming = False
        n = len(rows)
        if x <= mean:  # an alert is about now: the hour being tested must itself be above normal
            n = 0
        for w in s.windows:
            if w > n:
                continue
            xs = ms = vg = se = vl = 0.0
            window = rows[n - w:]
            for i, r in enumerate(window):
                xs += r[0]
                ms += r[1]
                vg += r[2]
                se += r[3]
                li = r[4]
                vl += li * li
                # neighbouring hours of day share data through the profile smoothing
                for lag, rho in ((1, 2.0 / 3.0), (2, 1.0 / 6.0)):
                    if i >= lag:
                        vl += 2.0 * rho * li * window[i - lag][4]
            if xs <= ms:
                continue
            shape = ms * ms / (vg + se * se + vl)
            lp = nb_log_sf(xs, ms, shape) + self._log_split + ramp
            if lp < s.log_alpha + 4.6:  # within 100x of the budget: do not learn it fully
                flagged = True
                if lp < s.log_alpha:
                    alarming = True
            if lp < s.log_alpha and xs >= s.min_count and xs >= s.min_ratio * ms:
                lv = severity(volume_step(xs / ms), (s.log_alpha - lp) / _LN10)
                if RANK[lv] > RANK[level]:
                    level = lv
                if lp < best_lp:
                    best_lp, best = lp, (w, xs, ms)
        alert = None
        if best is not None and self.learned >= s.warmup_hours and \
                self._cool.allows(hour, level):
            w, xs, ms = best
            self._cool.start(hour, level, s.cooldown_hours)
            alert = Alert(hour=hour, at=hour_start(hour), key=self.key, signal="volume",
                          level=level, observed=xs, baseline=ms, ratio=xs / ms,
                          score=-best_lp / _LN10, threshold=-s.log_alpha / _LN10,
                          window_hours=w, early=early, top_terms=tuple(top_terms),
                          example_ids=tuple(example_ids))
        return alert, (*row, flagged, alarming, v_shared + v_local)

    def _close(self, hour: int, x: float, top_terms, example_ids) -> Alert | None:
        if self.learned == 0 and x == 0:  # nothing to learn before the first mention
            self.last_hour = hour
            return None
        alert, (x, mean, vg, se, sl, flagged, alarming, v_est) = self._test(
            hour, x, early=False, top_terms=top_terms, example_ids=example_ids)
        self._ring.append((x, mean, vg, se, sl))
        if not alarming:  # the spread of normal hours; alarming ones would be a crisis's
            self.baseline.learn_dispersion(x, mean, v_est)
        # Robust learning: an hour near or past the alert line is learned as at most one
        # standard deviation above the baseline, any other as at most 3.5, so a crisis does
        # not teach the baseline that a crisis is normal.
        sd = math.sqrt(mean + vg)
        cap = mean + (sd if flagged and self.learned >= self.s.warmup_hours else 3.5 * sd)
        self.baseline.learn(hour, min(x, cap))
        self.learned += 1
        self.last_hour = hour
        return alert


class ShareDetector:
    """Rises of the negative share in one series, against its long-run share.

    The count of negative mentions in an hour is binomial with extra correlation (people pile
    onto the same complaint), handled through a design effect 1 + (n - 1) * rho.
    """

    __slots__ = ("_cool", "_decay", "key", "learned", "neg", "s", "tot")

    def __init__(self, settings: Settings | None = None, key: str = OVERALL) -> None:
        self.s = settings or Settings()
        self.key = key
        self.neg = 0.0
        self.tot = 0.0
        self.learned = 0
        self._decay = 1.0 - 1.0 / (HOURS_PER_WEEK * max(self.s.memory_weeks, 1.0))
        self._cool = _Cooldown()

    @property
    def share(self) -> float:
        s = self.s
        return (self.neg + s.share_prior * s.share_prior_mentions) / (
            self.tot + s.share_prior_mentions)

    def update(self, hour: int, n: int, negative: int, *, early: bool = False, top_terms=(),
               example_ids=()) -> Alert | None:
        s = self.s
        p0 = self.share
        alert = None
        flagged = False
        if n >= s.min_share_mentions and negative > n * p0:
            deff = 1.0 + (n - 1) * s.share_correlation
            lp = binomial_log_sf(negative / deff, n / deff, p0)
            flagged = lp < s.log_alpha + 4.6
            rise = negative / n - p0
            if lp < s.log_alpha and rise >= s.min_share_rise and self.learned >= s.warmup_hours:
                level = severity(share_step(rise), (s.log_alpha - lp) / _LN10)
                if self._cool.allows(hour, level):
                    self._cool.start(hour, level, s.cooldown_hours)
                    alert = Alert(hour=hour, at=hour_start(hour), key=self.key,
                                  signal="negative_share", level=level, observed=negative / n,
                                  baseline=p0, ratio=negative / n / p0, score=-lp / _LN10,
                                  threshold=-s.log_alpha / _LN10, early=early,
                                  top_terms=tuple(top_terms), example_ids=tuple(example_ids))
        if not early:
            learn_neg = min(negative, n * p0) if flagged else negative
            self.neg = self.neg * self._decay + learn_neg
            self.tot = self.tot * self._decay + n
            self.learned += 1
        return alert
