"""Drills: scripted crisis scenarios (scenario.py), their generated streams (generate.py) and
scorecards (score.py, report.py). Pure; services/drill.py replays them through the pipeline.

Tooling on top of the core, not inside it: a drill uses domain (and the demo generator for its
regular traffic); domain never imports a drill (the import contracts in pyproject.toml)."""

from escapevelocity.drill.scenario import DrillError, Scenario, load, shipped_names

__all__ = ["DrillError", "Scenario", "load", "shipped_names"]
