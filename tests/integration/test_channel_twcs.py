"""twcs replay: original timing (sped up), resumable from its cursor, and history that never
declares a crisis (the issue's 2017 import that paged PR, legal and the executive)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from channel_kit import add_connection, connection, runner_for, stored

from escapevelocity.channels import get
from escapevelocity.channels.runner import keeper

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "src/escapevelocity/channels/twcs/fixtures/twcs.csv"
SAMPLE = ROOT.parent / "shared" / "data" / "twcs_sample" / "twcs_sample.jsonl"


def open_replay(workspace, settings, now):
    c = get("twcs").open(settings, {}, keeper(""))
    c.now = now
    return c


def test_replay_keeps_original_timing_sped_up(workspace):
    runner, _, sealer = runner_for(workspace)
    settings = {"path": str(FIXTURE), "speed": 60}  # an hour a minute
    add_connection(workspace, sealer, "replay", "twcs", settings)
    t0 = workspace.clock.now()
    clock = {"now": t0}
    poll = lambda: runner.poll("replay", connector=open_replay(  # noqa: E731
        workspace, settings, lambda: clock["now"]))
    assert poll().accepted == 1  # 22:10:47, the first customer tweet, at once
    clock["now"] = t0 + timedelta(seconds=1)  # 22:12:05 is 78 s later: 1.3 s at 60x
    assert poll().accepted == 0
    clock["now"] = t0 + timedelta(seconds=2)
    assert poll().accepted == 1
    clock["now"] = t0 + timedelta(seconds=31)  # 22:41:30: 30.7 s after the first
    r = poll()
    assert r.accepted == 1 and r.historical == 0
    assert stored(workspace, "twitter") == ["102", "103", "105"]  # brands' replies skipped
    c = connection(workspace, "replay")
    assert '"done": 3' in c.cursor
    assert poll().accepted == 0  # nothing left, nothing twice


def test_importing_old_tweets_never_raises_crisis(workspace):
    if not SAMPLE.exists():
        pytest.skip("shared twcs sample not present")
    runner, _, sealer = runner_for(workspace, crisis=True)
    settings = {"path": str(SAMPLE), "live": False, "batch": 5000}
    add_connection(workspace, sealer, "import-2017", "twcs", settings)
    r = runner.poll("import-2017", connector=open_replay(
        workspace, settings, lambda: workspace.clock.now() + timedelta(days=4000)))
    assert r.accepted > 2000 and r.historical == r.kept
    crisis = runner.intake.crisis
    assert crisis.level == "normal" and not crisis.alerts
    assert crisis.pager.pages == []  # nobody paged (without the historical mark: crisis3)
