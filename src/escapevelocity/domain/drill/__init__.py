"""Drills: scripted crisis scenarios (scenario.py), their generated streams (generate.py) and
scorecards (score.py, report.py). Pure; services/drill.py replays them through the pipeline."""

from escapevelocity.domain.drill.scenario import DrillError, Scenario, load, shipped_names

__all__ = ["DrillError", "Scenario", "load", "shipped_names"]
