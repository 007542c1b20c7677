"""Tail probabilities for over-dispersed counts and shares, in pure Python.

The crisis detectors ask one question many times: how surprising is this count (or this number
of negative mentions) if nothing unusual is happening? Social counts are over-dispersed, so the
answer comes from the negative binomial (gamma-Poisson) law, and for shares from a binomial
with a design effect. Both tails reduce to the regularised incomplete beta function, computed
here in log space so that very small probabilities keep their precision.
"""

from __future__ import annotations

import math

_TINY = 1e-300
_EPS = 3e-16


def _beta_cf(a: float, b: float, x: float) -> float:
    """Continued fraction for the incomplete beta function (modified Lentz)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


def log_betainc(a: float, b: float, x: float) -> float:
    """log of the regularised incomplete beta I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return -math.inf
    if x >= 1.0:
        return 0.0
    front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
             + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return front + math.log(_beta_cf(a, b, x)) - math.log(a)
    rest = math.exp(front) * _beta_cf(b, a, 1.0 - x) / b
    return math.log1p(-rest) if rest < 1.0 else math.log(_TINY)


def nb_log_sf(x: float, mean: float, shape: float) -> float:
    """log P(X >= x) for X negative binomial with the given mean and gamma shape.

    Variance is mean + mean**2 / shape; shape -> infinity is Poisson. x is a count (it may be a
    sum of counts); x <= 0 gives log 1.
    """
    if x <= 0.0:
        return 0.0
    if mean <= 0.0:
        return -math.inf
    q = mean / (shape + mean)  # failure probability
    return log_betainc(x, shape, q)


def binomial_log_sf(k: float, n: float, p: float) -> float:
    """log P(K >= k) for K binomial(n, p), with real-valued k and n (design-effect scaled)."""
    if k <= 0.0:
        return 0.0
    if k > n:
        return -math.inf
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return 0.0
    return log_betainc(k, n - k + 1.0, p)


def nb_threshold(mean: float, shape: float, log_alpha: float) -> int:
    """The smallest count x with log P(X >= x) < log_alpha (exponential then binary search)."""
    lo = max(1, int(mean))
    if nb_log_sf(lo, mean, shape) < log_alpha:
        return lo
    step = max(1, int(math.sqrt(mean + mean * mean / shape)))
    hi = lo + step
    while nb_log_sf(hi, mean, shape) >= log_alpha:
        lo, step = hi, step * 2
        hi = lo + step
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if nb_log_sf(mid, mean, shape) < log_alpha:
            hi = mid
        else:
            lo = mid
    return hi
