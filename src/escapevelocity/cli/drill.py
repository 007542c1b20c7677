"""`ev drill`: run a crisis fire drill in a sandbox workspace and write its scorecard.

    ev drill list
    ev drill run product-recall --speed 24          # a simulated day per hour of wall time
    ev drill run service-outage --fast              # as fast as the machine goes
    ev drill run ./my-scenario.yaml --fast --report var/drills/mine.html

While a real-time drill runs, type a command and Enter on the terminal: p (pause),
r (resume), s 48 (speed), i NAME (fire an inject), q (stop and score).
"""

from __future__ import annotations

import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import typer
from rich.console import Console
from rich.table import Column, Table

from escapevelocity.cli.common import fail

drill_app = typer.Typer(help="Crisis fire drills: scenarios replayed at compressed time into a "
                             "sandbox workspace, then scored.", no_args_is_help=True)
out = Console()


@drill_app.command("list")
def list_command() -> None:
    """The shipped scenarios."""
    from escapevelocity.drill import load, shipped_names

    # The name to type comes first and is never cut.
    table = Table(Column("scenario", no_wrap=True, min_width=18), "title", "hours",
                  "expected level", "injects")
    for name in shipped_names():
        s = load(name)
        table.add_row(name, s.title, f"{s.duration_hours:g}", s.expected.level,
                      ", ".join(i.name + ("" if i.at is not None else " (on demand)")
                                for i in s.injects))
    out.print(table)


def _keys(drill) -> None:
    """Director commands typed on the terminal while a real-time drill runs."""
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        try:
            if cmd == "p":
                drill.control.pause()
            elif cmd == "r":
                drill.control.resume()
            elif cmd == "s":
                drill.control.set_speed(float(arg))
            elif cmd == "i":
                drill.scenario.inject(arg)
                drill.control.fire(arg)
            elif cmd == "q":
                drill.control.stop()
                return
        except ValueError as exc:
            out.print(f"[red]{exc}[/]")


@drill_app.command("run")
def run_command(
    scenario: str = typer.Argument(..., help="a shipped scenario name or a YAML file"),
    speed: float = typer.Option(24.0, help="simulated seconds per wall second (24: a day an hour)"),
    fast: bool = typer.Option(False, "--fast", help="run as fast as possible (no waiting)"),
    sandbox: Path = typer.Option(None, help="sandbox SQLite file "
                                            "(default var/drills/NAME-TIME.db)"),
    report: Path = typer.Option(None, help="HTML report path (default: next to the sandbox)"),
    json_out: Path = typer.Option(None, "--json", help="also write the scorecard as JSON"),
    record: bool = typer.Option(True, help="append the scorecard to the live workspace's log "
                                           "(its reports list drill runs), when there is one"),
) -> None:
    """Replay SCENARIO through the real pipeline into a sandbox and write the scorecard."""
    from escapevelocity.config import load_settings
    from escapevelocity.drill import DrillError, load
    from escapevelocity.services.drill import Drill

    try:
        s = load(scenario)
    except DrillError as exc:
        raise fail(str(exc)) from None
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    sandbox = sandbox or Path("var/drills") / f"{s.name}-{stamp}.db"
    report = report or sandbox.with_suffix(".html")
    try:
        live = load_settings().database_url
    except Exception:
        live = None
    out.print(f"[bold]{s.title}[/] → sandbox {sandbox}")
    try:
        drill = Drill.prepare(s, sandbox, speed=speed, fast=fast, live_url=live)
    except DrillError as exc:
        raise fail(str(exc)) from None
    if not fast and sys.stdin.isatty():
        out.print("commands: p pause · r resume · s N speed · i NAME inject · q stop")
        threading.Thread(target=_keys, args=(drill,), daemon=True).start()
    state = {"hour": -1, "level": "normal"}

    def progress(d) -> None:
        st = d.status()
        hour = int(st["progress"] * s.duration_hours)
        if hour != state["hour"] or st["level"] != state["level"]:
            if st["level"] != state["level"] or hour % 6 == 0:
                out.print(f"  {st['now'][:16]}  level {st['level']:<8} ingested {st['ingested']:>6}"
                          f"  replies {st['replies']:>5}  pages {st['pages']}")
            state.update(hour=hour, level=st["level"])

    wall = datetime.now(UTC)
    card = drill.run(on_step=progress)
    took = (datetime.now(UTC) - wall).total_seconds()
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(drill.report_html(), encoding="utf-8")
    if json_out:
        json_out.write_bytes(msgspec.json.encode(card))
    table = Table("check", "figure", "target", "met", title=f"{s.title} — scorecard")
    for what, figure, target, ok in card.checks:
        table.add_row(what, str(figure), str(target), "[green]yes[/]" if ok else "[red]no[/]")
    out.print(table)
    out.print(f"{drill.ingested} mentions in {took:.1f}s wall; report {report}")
    if record:
        _record(drill)


def _record(drill) -> None:
    """The scorecard into the configured workspace's log; a drill run without one (no
    workspace set up here) still has its files."""
    from escapevelocity.cli.common import open_workspace
    from escapevelocity.services.drill import record_scorecard

    try:
        ws = open_workspace(ready=False)
    except typer.Exit:
        out.print("scorecard not recorded in a workspace (none set up here)")
        return
    try:
        e = record_scorecard(ws.store, ws.clock, drill)
    finally:
        ws.store.close()
    out.print(f"scorecard recorded in the workspace's log as {e.stream}")


def register(app: typer.Typer) -> None:
    app.add_typer(drill_app, name="drill")
