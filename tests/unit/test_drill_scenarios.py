"""Drill scenarios: the shipped ones load and generate what they promise; bad ones name the key."""

from __future__ import annotations

from collections import Counter
from datetime import UTC

import pytest

from escapevelocity.domain.playbook import compile_playbook
from escapevelocity.drill import DrillError, load, shipped_names
from escapevelocity.drill.generate import plan, poisson, rate
from escapevelocity.drill.report import bars, render, volume_chart
from escapevelocity.drill.scenario import Volume, with_overlay
from escapevelocity.services.seed import _text


def test_three_shipped_scenarios_load():
    names = shipped_names()
    assert {"product-recall", "executive-arrested", "service-outage"} <= set(names)
    for name in names:
        s = load(name)
        assert s.start.tzinfo is UTC and s.start.astimezone().weekday() in (4, 5)  # Friday
        assert s.injects and s.expected.tracks
        assert {"angry_customer", "journalist", "employee", "misinformation", "troll",
                "bystander"} <= set(s.personas)


@pytest.mark.parametrize("name", ["product-recall", "executive-arrested", "service-outage"])
def test_plan_is_deterministic_and_labelled(name):
    s = load(name)
    a, b = plan(s), plan(s)
    assert [i.mention.key for i in a.items] == [i.mention.key for i in b.items]
    kinds = Counter(i.kind for i in a.items if i.origin == "crisis")
    assert kinds["accurate"] and kinds["misleading"] and kinds["irrelevant"]
    assert all(i.mention.created_at >= s.start for i in a.items)
    assert all(i.mention.created_at < s.start for i in a.history)
    crisis = [i.mention.key for i in a.items if i.origin == "crisis"]
    assert len(set(crisis)) == len(crisis)  # (regular traffic has the demo's re-deliveries)
    assert "employees" in a.known and "journalists" in a.known
    # the scheduled injects bring their bursts
    for at, name_, _ in a.injects:
        burst = [i for i in a.items if i.phase == name_]
        assert burst and min(i.mention.created_at for i in burst) >= at


def test_overlay_compiles_with_the_default_playbook():
    s = load("product-recall")
    pb = compile_playbook(with_overlay(_text("playbooks", "default.yaml"), s), version="t")
    assert "crisis3" in pb.by_level


def test_volume_curves():
    assert rate(Volume(start=10, end=30), 5, 0, 10) == pytest.approx(20)
    assert rate(Volume(start=10, end=40, shape="exponential"), 5, 0, 10) == pytest.approx(20)
    import random
    rng = random.Random(1)
    mean = sum(poisson(rng, 3.0) for _ in range(5000)) / 5000
    assert 2.8 < mean < 3.2


@pytest.mark.parametrize("patch, key", [
    ("name: product-recall", "$.name"),
    ("start: 2026-05-22T18:00:00+01:00", "$.start"),
    ("  level: crisis3", "$.expected.level"),
    ("    volume: {start: 8, end: 40, shape: exponential}", "$.phases[0].volume.shape"),
])
def test_bad_scenarios_name_the_key(patch, key):
    text = (load.__globals__["files"]("escapevelocity.drill")
            .joinpath("scenarios", "product-recall.yaml").read_text())
    broken = {"$.name": "name: Product Recall!", "$.start": "start: 2026-05-22T18:00:00",
              "$.expected.level": "  level: crisis9",
              "$.phases[0].volume.shape": "    volume: {start: 8, end: 40, shape: cubic}"}[key]
    assert patch in text
    with pytest.raises(DrillError, match=key.replace("$", r"\$").replace("[", r"\[")
                       .replace("]", r"\]")):
        load(text.replace(patch, broken, 1))


def test_unknown_scenario_lists_the_shipped_ones():
    with pytest.raises(DrillError, match="product-recall"):
        load("no-such-drill")


def test_report_escapes_text_and_draws_svg():
    from datetime import datetime, timedelta

    from escapevelocity.drill.score import Group, Scorecard
    t0 = datetime(2026, 5, 22, 17, tzinfo=UTC)
    card = Scorecard(
        scenario="x", title="<script>alert(1)</script>", start=t0, end=t0 + timedelta(hours=3),
        onset=t0 + timedelta(hours=1), mentions=10, crisis_mentions=5, detected=True,
        first_alert_at=t0 + timedelta(hours=1, minutes=20), detection_delay_min=20.0,
        crisis_declared_at=None, crisis_delay_min=None, detected_in_time=True,
        expected_level="crisis1", peak_level="watch", right_level=False, alerts=1,
        alert_reasons=["<b>x</b>"], routing_cases=5, routing_accuracy=0.8,
        routing_accuracy_in_crisis=None, routing_by_persona={"troll": [5, 0.8]},
        misrouted=[["troll", "misleading", "monitor", "support", 1]], regular_into_crisis=0,
        crisis_group=Group(), regular_group=Group(), regular_before=Group(), sla_breaches=0,
        breaches_by_track={}, approvals_requested=0, approvals_granted=0,
        approval_median_wait_min=None, statement_after_min=None, pages=0, paged_roles=[],
        first_page_delay_min=None,
        hourly=[[t0 + timedelta(hours=h), 5, h * 3, "watch" if h else "normal"]
                for h in range(3)],
        levels=[[t0, "normal"]], injects=[[t0 + timedelta(hours=2), "<i>inject</i>", ""]],
        checks=[["what", "fig", "target", True]])
    html = render(card, [{"at": t0, "kind": "opened", "actor": "system", "text": "<img>"}],
                  "Europe/London")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img>" not in html and "<i>inject</i>" not in html
    assert html.count("<svg") >= 2
    assert "<svg" in volume_chart(card, __import__("zoneinfo").ZoneInfo("UTC"))
    assert bars([]) == ""
