"""`ev simulate`: the engine on a small synthetic stream, and the CLI on the twcs sample."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escapevelocity.domain.calendar import ALWAYS
from escapevelocity.domain.org import load_org
from escapevelocity.domain.routing import Need
from escapevelocity.domain.simulate import Arrival, Profile, Simulation, profiles_from
from escapevelocity.domain.sla import Budget

TWCS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "twcs_sample" / (
    "twcs_sample.jsonl")
T0 = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # a Monday

ORG = load_org({
    "teams": [{"id": "care", "name": "Care", "strategy": "least_load"}],
    "members": [
        {"id": "day", "name": "Day", "teams": ["care"], "capacity": 3,
         "shift": {"start": "08:00", "end": "16:00"}},
        {"id": "eve", "name": "Eve", "teams": ["care"], "capacity": 5,
         "shift": {"start": "16:00", "end": "24:00"}},
    ],
    "simulation": {"default": {"median": 5, "p90": 20},
                   "members": {"eve": {"median": 30, "p90": 60}}},
})


def arrivals(n=300):
    return [Arrival(T0 + timedelta(minutes=7 * i), f"c{i}", Need("care", "support"), True, 60)
            for i in range(n)]


def test_members_only_work_on_shift_and_never_above_capacity():
    profiles = profiles_from(ORG.simulation, ["day", "eve"])
    assert profiles["eve"] == Profile(30, 60)
    sim = Simulation(ORG, arrivals(), {"support": Budget(60, 120, None, ALWAYS)}, profiles)
    result = sim.run()
    assert result.unanswered == 0 and len(result.first_response) == 300
    assert result.peak["day"] <= 3 and result.peak["eve"] <= 5
    assert set(result.load) == {"day", "eve"}
    # nights are covered by nobody: cases from 00:00 to 08:00 wait for the morning
    assert result.percentile(0.9) > 60 and result.met_percent("support") < 100
    assert result.requeued >= 0


def test_profiles_shape_the_distribution():
    fast = {"day": Profile(1, 2), "eve": Profile(1, 2)}
    slow = {"day": Profile(40, 80), "eve": Profile(40, 80)}
    budgets = {"support": Budget(60, None, None, ALWAYS)}
    a = Simulation(ORG, arrivals(), budgets, fast, seed=2).run()
    b = Simulation(ORG, arrivals(), budgets, slow, seed=2).run()
    assert a.met_percent() > b.met_percent()


def test_cli_on_the_twcs_sample_compares_with_the_brands():
    if not TWCS.exists():
        pytest.skip(f"twcs sample not found at {TWCS} (../shared/data is optional)")
    data = TWCS
    from escapevelocity.cli.main import app

    result = CliRunner().invoke(app, ["simulate", "--mentions", str(data), "--json"])
    assert result.exit_code == 0, result.output
    import json

    figures = json.loads(result.output[result.output.index("{"):])
    assert figures["real"]["median"] == pytest.approx(11.5, abs=0.1)
    assert set(figures["strategies"]) == {"least_load", "round_robin", "expertise"}
    for s in figures["strategies"].values():
        assert s["cases_answered"] > 1000 and s["median"] > 0
