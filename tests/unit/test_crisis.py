"""Crisis detection: the pure detectors, the per-mention monitor and the evaluation rule."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from escapevelocity.domain.crisis import (
    EPOCH,
    LEVELS,
    CrisisMonitor,
    OpsDetector,
    Settings,
    VolumeDetector,
    hour_index,
    hour_start,
)
from escapevelocity.domain.crisis.stats import binomial_log_sf, nb_log_sf, nb_threshold
from escapevelocity.evaluation.crisis import (
    evaluate_streams,
    normal_traffic,
    render,
    score_stream,
    summarise,
)

STREAMS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "crisislex" / "streams"
MONDAY = datetime(2026, 11, 2, tzinfo=UTC)


def feed(detector: VolumeDetector, counts, first_hour: int = 0):
    return [a for h, c in enumerate(counts, first_hour) if (a := detector.update(h, c))]


def hourly_mentions(monitor: CrisisMonitor, hour: int, n: int, *, negative_share=0.2,
                    topics=("app",), terms=("login",), rnd=None, prefix="m"):
    """Observe n mentions spread over one hour (hour index from MONDAY)."""
    rnd = rnd or random.Random(hour)
    alerts = []
    for i in range(n):
        at = MONDAY + timedelta(hours=hour, seconds=3600 * i / max(n, 1))
        topic = topics[i % len(topics)] if isinstance(topics[0], str) else topics
        alerts += monitor.observe(at, rnd.random() < negative_share, (topic,),
                                  f"{prefix}{hour}-{i}", terms)
    return alerts


# -- statistics ---------------------------------------------------------------------------------

def test_negative_binomial_tail_matches_poisson_limit_and_direct_sum():
    # Poisson(5): P(X >= 12) summed by hand
    direct = 1 - sum(math.exp(-5) * 5**k / math.factorial(k) for k in range(12))
    assert math.exp(nb_log_sf(12, 5.0, 1e9)) == pytest.approx(direct, rel=1e-5)
    # NB(shape 8, mean 10): sum the pmf directly
    r, mu = 8.0, 10.0
    p = r / (r + mu)
    pmf = [math.exp(math.lgamma(k + r) - math.lgamma(r) - math.lgamma(k + 1)
                    + r * math.log(p) + k * math.log1p(-p)) for k in range(30)]
    assert math.exp(nb_log_sf(30, mu, r)) == pytest.approx(1 - sum(pmf), rel=1e-6)
    assert nb_log_sf(0, mu, r) == 0.0
    # binomial(10, 0.5): P(K >= 8) = 56 / 1024
    assert math.exp(binomial_log_sf(8, 10, 0.5)) == pytest.approx(56 / 1024, rel=1e-9)
    # threshold: smallest x whose tail is below alpha
    x = nb_threshold(10.0, 8.0, math.log(1e-3))
    assert nb_log_sf(x, 10.0, 8.0) < math.log(1e-3) <= nb_log_sf(x - 1, 10.0, 8.0)


def test_hour_index_is_hours_since_a_monday_and_needs_aware_times():
    assert EPOCH.weekday() == 0
    assert hour_index(MONDAY) % 168 == 0
    assert hour_index(MONDAY + timedelta(hours=30, minutes=59)) % 168 == 30
    assert hour_start(hour_index(MONDAY)) == MONDAY
    with pytest.raises(ValueError):
        hour_index(datetime(2026, 11, 2))


# -- volume ------------------------------------------------------------------------------------

def test_quiet_start_does_not_alarm():
    # a sparse, bumpy first week (a new brand, a new topic): nothing should fire (the
    # false-alarm budget ramps up over two weeks, so a stray alarm is possible but rare)
    for seed in range(10, 20):
        detector = VolumeDetector()
        counts = [0] * 20 + [3, 0, 1, 7, 2, 0, 0, 9] + normal_traffic(4, 24 * 6, seed=seed)
        assert feed(detector, counts) == []
    monitor = CrisisMonitor()
    rnd = random.Random(3)
    alerts = []
    for hour in range(24 * 5):
        alerts += hourly_mentions(monitor, hour, rnd.choice((0, 1, 2, 5, 12)), rnd=rnd)
    assert alerts == []


def test_clear_spike_alarms_and_explains_itself():
    detector = VolumeDetector()
    assert feed(detector, normal_traffic(20, 24 * 14, seed=1)) == []
    hour = 24 * 14 + 12  # Monday noon, third week
    feed(detector, normal_traffic(20, 12, seed=2), first_hour=24 * 14)
    expected = detector.expect(hour)
    alert = detector.update(hour, 400)
    assert alert is not None
    assert alert.signal == "volume" and alert.key == "*"
    assert alert.level in ("crisis2", "crisis3")
    assert alert.observed >= 400 and alert.baseline == pytest.approx(expected, rel=0.5)
    assert alert.ratio == pytest.approx(alert.observed / alert.baseline)
    assert alert.score >= alert.threshold > 0
    assert "volume" in alert.reason and "baseline" in alert.reason


def test_monitor_spike_has_terms_examples_and_fires_early():
    monitor = CrisisMonitor()
    for hour in range(24 * 14):
        assert hourly_mentions(monitor, hour, 40, terms=("login", "slow")) == []
    alerts = hourly_mentions(monitor, 24 * 14 + 10, 600, terms=("recall", "fire"),
                             topics=("app",))
    overall = [a for a in alerts if a.key == "*" and a.signal == "volume"]
    assert overall and overall[0].early  # found while the hour was still open
    assert overall[0].observed < 600
    assert {"recall", "fire"} <= {t for t, _ in overall[0].top_terms}
    assert overall[0].example_ids and all(i.startswith("m") for i in overall[0].example_ids)


def test_cooldown_holds_repeats_but_lets_escalations_through():
    base = normal_traffic(20, 24 * 14, seed=4)
    spike = [150, 150, 150, 150]

    def alerts(cooldown):
        d = VolumeDetector(Settings(cooldown_hours=cooldown))
        feed(d, base)
        return feed(d, spike, first_hour=len(base))

    held, free = alerts(6), alerts(0)
    assert len(held) == 1 and len(free) > len(held)
    # a much bigger hour inside the cooldown escalates
    d = VolumeDetector(Settings(cooldown_hours=6))
    feed(d, base)
    first = d.update(len(base), 50)
    second = d.update(len(base) + 1, 3000)
    assert first is not None and first.level != "crisis3"
    assert second is not None and LEVELS.index(second.level) > LEVELS.index(first.level)


def test_per_topic_spike_is_found_when_overall_barely_moves():
    monitor = CrisisMonitor()
    topics = tuple(f"p{i}" for i in range(10))
    rnd = random.Random(9)
    for hour in range(24 * 14):
        hourly_mentions(monitor, hour, 300 + rnd.randint(-40, 40), topics=topics, rnd=rnd)
        hourly_mentions(monitor, hour, 3, topics=("battery",), rnd=rnd, prefix="b")
    hour = 24 * 14 + 9
    alerts = hourly_mentions(monitor, hour, 300, topics=topics, rnd=rnd)
    alerts += hourly_mentions(monitor, hour, 40, topics=("battery",), rnd=rnd, prefix="b")
    alerts += monitor.tick(MONDAY + timedelta(hours=hour + 1))
    keys = {a.key for a in alerts if a.signal == "volume"}
    assert "topic:battery" in keys
    assert "*" not in keys


def test_silence_counts_as_zero_hours_and_traffic_resuming_is_not_a_spike():
    monitor = CrisisMonitor()
    for hour in range(24 * 14):
        hourly_mentions(monitor, hour, 30)
    before = monitor.expected(at=MONDAY + timedelta(hours=24 * 18 + 12))
    alerts = hourly_mentions(monitor, 24 * 17 + 12, 30)  # three silent days, then normal
    assert [a for a in alerts if a.signal == "volume"] == []
    after = monitor.expected(at=MONDAY + timedelta(hours=24 * 18 + 12))
    assert after < before  # the silent hours were learned as zeros


def test_negative_share_rise_alarms_without_volume_change():
    monitor = CrisisMonitor()
    rnd = random.Random(2)
    for hour in range(24 * 10):
        hourly_mentions(monitor, hour, 60, negative_share=0.15, rnd=rnd)
    hour = 24 * 10 + 8
    alerts = hourly_mentions(monitor, hour, 60, negative_share=0.8, rnd=rnd)
    alerts += monitor.tick(MONDAY + timedelta(hours=hour + 1))
    share = [a for a in alerts if a.signal == "negative_share" and a.key == "*"]
    assert share and share[0].observed > 0.5 and share[0].baseline < 0.25
    assert share[0].level != "watch"
    assert not [a for a in alerts if a.signal == "volume"]


def test_crisis_does_not_teach_the_baseline_that_crisis_is_normal():
    d = VolumeDetector()
    feed(d, normal_traffic(20, 24 * 21, seed=8))
    before = d.expect(24 * 28 + 12)
    feed(d, [300] * 24, first_hour=24 * 21)
    assert d.expect(24 * 28 + 12) < before * 1.3


def test_dispersion_is_learned_from_the_data():
    shapes = {}
    for true_shape in (3.0, 8.0, 30.0):
        d = VolumeDetector()
        feed(d, normal_traffic(50, 24 * 28, seed=6, dispersion=true_shape))
        shapes[true_shape] = 1 / d.baseline.inv_shape
    assert shapes[3.0] < 5 < shapes[8.0] < 12 < shapes[30.0]


def test_operational_signals():
    ops = OpsDetector()
    assert ops.update(0, backlog=30, due=10, breached=1) == []
    alerts = ops.update(1, backlog=40, due=10, breached=6)
    assert [a.signal for a in alerts] == ["sla_breach"] and alerts[0].level == "crisis2"
    ops.update(2, backlog=80)
    alerts = ops.update(3, backlog=200)
    assert [(a.signal, a.level) for a in alerts] == [("backlog", "crisis2")]
    assert alerts[0].ratio == pytest.approx(200 / 30) and alerts[0].window_hours == 3


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=100_000), min_size=1, max_size=200),
       st.integers(min_value=0, max_value=72))
def test_volume_never_raises_and_alerts_only_after_warmup(counts, warmup):
    detector = VolumeDetector(Settings(warmup_hours=warmup))
    for hour, count in enumerate(counts):
        alert = detector.update(hour, count)
        if alert is not None:
            assert hour >= warmup
            assert alert.level in LEVELS[1:] and alert.score >= alert.threshold
            assert math.isfinite(alert.baseline) and alert.baseline > 0


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=24 * 60 * 30),
                          st.booleans(), st.sampled_from(((), ("a",), ("a", "b")))),
                max_size=150))
def test_monitor_never_raises_in_any_order(events):
    monitor = CrisisMonitor(Settings(warmup_hours=2))
    for minute, negative, topics in events:
        for alert in monitor.observe(MONDAY + timedelta(minutes=minute), negative, topics, "x"):
            assert alert.level in LEVELS[1:]


# -- evaluation ---------------------------------------------------------------------------------

def test_scoring_rule_by_hand():
    # start 10, onset 15: the window is hours 10..17; alerts at 3 and 7 are false alarms
    row = score_stream([3, 7, 12, 16, 30], start_hour=10, onset_hour=15)
    assert row == {"detected": True, "false_alarms": 2, "first_alert": 12, "delay_hours": -3}
    # onset + 2 is inclusive, onset + 3 is too late
    assert score_stream([17], 10, 15)["detected"] is True
    assert score_stream([18], 10, 15) == {"detected": False, "false_alarms": 0,
                                          "first_alert": None, "delay_hours": None}
    total = summarise({"a": score_stream([3, 7, 12], 10, 15), "b": score_stream([18], 10, 15),
                       "c": score_stream([9, 15], 10, 15), "d": score_stream([16], 10, 15)})
    assert total["detected"] == 3 and total["detected_share"] == 0.75
    assert total["false_alarms"] == 3 and total["false_alarms_per_stream"] == 0.75
    assert total["mean_delay_hours"] == pytest.approx((-3 + 0 + 1) / 3)
    assert total["median_delay_hours"] == 0


def test_evaluate_streams_on_a_tiny_folder(tmp_path):
    start = 24 * 14
    flat = [20] * (start + 10)  # perfectly regular normal traffic never alarms
    spiky = list(flat)
    spiky[start + 1] = 1000  # onset at start + 1, found at once
    for name, counts in (("spike", spiky), ("late", flat)):
        lines = ["hour,mentions"] + [f"{h},{c}" for h, c in enumerate(counts)]
        (tmp_path / f"{name}.csv").write_text("\n".join(lines) + "\n")
    index = {"spike": {"start_hour": start, "onset_hour": start + 1, "event": "x"},
             "late": {"start_hour": start, "onset_hour": start + 3, "event": "y"}}
    (tmp_path / "index.json").write_text(json.dumps(index))
    report = evaluate_streams(tmp_path)
    assert report["streams"]["spike"]["detected"] and report["streams"]["spike"]["delay_hours"] == 0
    assert not report["streams"]["late"]["detected"]
    assert report["total"]["detected_share"] == 0.5
    assert report["total"]["false_alarms_per_stream"] == 0.0
    from rich.console import Console

    console = Console(record=True, width=120)
    render(report, console)
    assert "detected 1/2" in console.export_text()


def test_shipped_streams_meet_the_target():
    if not (STREAMS / "index.json").exists():
        pytest.skip(f"crisis test streams not found at {STREAMS} (../shared/data is optional)")
    report = evaluate_streams(STREAMS)
    total = report["total"]
    assert total["streams"] >= 30
    assert total["detected_share"] >= 0.95, total
    assert total["false_alarms_per_stream"] <= 0.25, total
