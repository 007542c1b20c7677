"""`ev simulate`: replay mentions against simulated members, every routing strategy side by side."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from escapevelocity.cli.common import err, existing_file, fail, package_file
from escapevelocity.domain import yamlsafe
from escapevelocity.domain.org import STRATEGIES, load_org


def _fmt(minutes: float | None) -> str:
    if minutes is None:
        return "–"
    return f"{minutes:.1f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}%"


def simulate_command(
    mentions: Path = typer.Option(..., "--mentions", help="mentions JSONL/CSV, or twcs rows"),
    org: Path = typer.Option(None, "--org", help="organisation YAML with `simulation:` profiles"),
    speed: float = typer.Option(0.0, "--speed", min=0.0,
                                help="simulated seconds per wall second (0: as fast as possible)"),
    playbook: Path = typer.Option(None, help="playbook YAML (default: the shipped default)"),
    strategy: list[str] = typer.Option(None, "--strategy", help="only these strategies"),
    seed: int = typer.Option(1, help="random seed for response times"),
    as_json: bool = typer.Option(False, "--json", help="print the figures as JSON"),
) -> None:
    """Replay mentions against simulated members (response-time distributions and shifts) and
    compare round robin, least load and expertise routing: first response median and p90, SLA
    met % per track, load per member."""
    from escapevelocity.cli.triage import build_triager
    from escapevelocity.services.simulate import read_replay, run_all, summary

    strategies = tuple(strategy or STRATEGIES)
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad:
        raise fail(f"unknown strategy {bad[0]!r}; strategies: {', '.join(STRATEGIES)}")
    org_path = existing_file(org) if org else package_file("demo", "org.yaml")
    try:
        organisation = load_org(yamlsafe.load(org_path.read_text()))
    except ValueError as exc:
        raise fail(f"{org_path}: {exc}") from None
    triager = build_triager(playbook, org_path, None)
    replay = read_replay(existing_file(mentions), triager)
    if not replay.arrivals:
        raise fail(f"{mentions}: no mentions to replay")
    err.print(f"replaying {len(replay.arrivals):,} mentions from {replay.arrivals[0].at:%Y-%m-%d} "
              f"to {replay.arrivals[-1].at:%Y-%m-%d} against {len(organisation.members)} members"
              + (f" at {speed:g}x" if speed else ""))
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    first, last = replay.arrivals[0].at, replay.arrivals[-1].at
    span = max((last - first).total_seconds(), 1.0)
    with Progress(TextColumn("[bold]simulate"), BarColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=err, transient=True,
                  disable=not err.is_terminal) as progress:
        task = progress.add_task("", total=span)

        def moved(at: datetime) -> None:
            progress.update(task, completed=min((at - first).total_seconds(), span),
                            description=f"simulated {min(at, last):%Y-%m-%d %H:%M}")

        try:
            results = run_all(organisation, replay, triager, strategies=strategies, speed=speed,
                              seed=seed, on_progress=moved)
        except KeyboardInterrupt:
            raise fail("interrupted: no figures (run without --speed to get them in seconds)",
                       130) from None
    figures = summary(results, replay)
    if as_json:
        typer.echo(json.dumps(figures, indent=1, default=str))
        return
    print_figures(figures)


def print_figures(figures: dict) -> None:
    console = Console()
    names = list(figures["strategies"])
    table = Table(title=f"ev simulate: {figures['mentions']:,} mentions")
    table.add_column("figure")
    for n in names:
        table.add_column(n.replace("_", " "), justify="right")
    real = figures["real"]
    if real:
        table.add_column("brands (real)", justify="right")
    s = figures["strategies"]

    def row(label, key, fmt, real_value=""):
        table.add_row(label, *[fmt(s[n][key]) for n in names], *([real_value] if real else []))

    row("cases answered", "cases_answered", str, f"{real['replies']:,}" if real else "")
    row("first response median", "median", _fmt, _fmt(real["median"]) if real else "")
    row("first response p90", "p90", _fmt, _fmt(real["p90"]) if real else "")
    row("SLA met, all tracks", "met_all", _pct)
    for track in figures["tracks"]:
        table.add_row(f"  SLA met: {track}", *[_pct(s[n]["met"][track]) for n in names],
                      *([""] if real else []))
    row("next response SLA met", "next_met_all", _pct)
    row("requeued (member went off shift)", "requeued", str)
    row("never answered", "unanswered", str)
    row("not to be answered (playbook)", "not_responded", str)
    members = sorted({m for n in names for m in s[n]["load"]} | {m for n in names
                                                                 for m in s[n]["peak"]})
    for m in members:
        table.add_row(f"  load: {m} (peak open)",
                      *[f"{s[n]['load'].get(m, 0)} ({s[n]['peak'].get(m, 0)})" for n in names],
                      *([""] if real else []))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate_command)
