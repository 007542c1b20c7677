"""A full drill at high speed: the outage scenario, shortened to its first eight hours, replayed
through ingest, crisis mode, the SLA and approval workers and the simulated team into a sandbox;
the scorecard is asserted, and the director's controls work.

The drill is ~18 CPU seconds; its wall time is whatever the machine's load makes of that (~100 s
with eight suites sharing two cores), so the test asserts on the simulated clock instead: every
step moved it by exactly one STEP, driven by the runner, never by the wall clock."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta
from itertools import pairwise

import msgspec
import pytest

from escapevelocity.domain import events as ev
from escapevelocity.drill import DrillError, load
from escapevelocity.services.drill import STEP, Drill


@pytest.fixture(scope="module")
def outage_drill(tmp_path_factory):
    s = msgspec.structs.replace(load("service-outage"), duration_hours=8)
    path = tmp_path_factory.mktemp("drill") / "sandbox.db"
    drill = Drill.prepare(s, path, fast=True)
    fired = {}
    steps = []  # the simulated time of each step, as the director saw it

    def director(d):
        steps.append(d.clock.now())
        st = d.status()
        if "inject" not in fired and st["progress"] >= 0.75:
            d.control.fire("status page goes down")
            fired["inject"] = st["now"]
        if "pause" not in fired and st["progress"] >= 0.5:
            fired["pause"] = d.clock.now()
            d.control.pause()
            threading.Timer(0.3, d.control.resume).start()

    card = drill.run(on_step=director)
    drill.fired_by_test = fired
    drill.steps_seen = steps
    return drill, card


def test_the_scorecard_of_a_full_drill(outage_drill):
    drill, card = outage_drill
    # Fast mode: the clock ran on the runner's virtual wall, one STEP a step from the start to
    # the end (eight hours, 480 steps), whatever the real wall did, paused or not.
    steps = drill.steps_seen
    assert drill.clock._wall is drill._wall is not None
    assert steps[0] == drill.scenario.start + STEP and steps[-1] == drill.end
    assert len(steps) == 8 * 60 and all(b - a == STEP for a, b in pairwise(steps))
    assert drill._wall.t == pytest.approx(len(steps) * STEP.total_seconds() / drill.clock.speed)
    assert card.detected and card.detected_in_time
    assert 0 <= card.detection_delay_min <= 120
    assert card.peak_level in ("crisis2", "crisis3")
    assert card.routing_accuracy_in_crisis is not None and card.routing_accuracy_in_crisis >= 0.9
    assert card.pages >= 2 and "pr-oncall" in card.paged_roles
    assert card.crisis_group.answered > 50
    assert card.regular_group.cases > 50 and card.regular_group.sla_met_share is not None
    assert card.approvals_requested > 0 and card.approvals_granted > 0
    assert card.statement_after_min is not None
    assert len(card.hourly) >= 8 and len(card.checks) == 7
    html = drill.report_html()
    assert html.count("<svg") >= 2 and "Incident timeline" in html


def test_the_sandbox_is_marked_and_holds_the_incident(outage_drill):
    drill, _card = outage_drill
    with sqlite3.connect(drill.path) as conn:
        assert conn.execute("select body from documents where name='sandbox'"
                            ).fetchone()[0] == "drill:service-outage"
        kinds = {k for (k,) in conn.execute(
            "select distinct kind from events where stream like 'incident:%'")}
    assert {ev.INCIDENT_OPENED, ev.INCIDENT_LEVEL, ev.INCIDENT_PAGED,
            ev.INCIDENT_STOOD_DOWN} <= kinds
    assert drill.mode.level == "normal"  # stood down at the end


def test_director_controls(outage_drill):
    drill, card = outage_drill
    fired = drill.fired_by_test
    assert [name for _, name, _ in drill.fired] == ["status page goes down"]
    assert any(i.phase == "status page goes down" for i in drill.plan.items)
    assert any(name == "status page goes down" for _, name, _ in card.injects)
    # paused: the simulated clock did not run on while the drill waited
    levels_after_pause = [at for at, _ in drill.levels if at > fired["pause"]]
    assert all(at - fired["pause"] < timedelta(hours=5) for at in levels_after_pause)
    with pytest.raises(DrillError):
        drill.scenario.inject("no such inject")
    with pytest.raises(ValueError):
        drill.control.set_speed(0)


def test_sandbox_never_overwrites_other_databases(tmp_path):
    s = load("executive-arrested")
    live = tmp_path / "live.db"
    live.write_bytes(b"")
    with sqlite3.connect(live) as conn:
        conn.execute("create table documents (name text, body text)")
    with pytest.raises(DrillError, match="not a drill sandbox"):
        Drill.prepare(s, live, fast=True)
    with pytest.raises(DrillError, match="live workspace"):
        Drill.prepare(s, tmp_path / "x.db", fast=True, live_url=f"sqlite:///{tmp_path / 'x.db'}")
