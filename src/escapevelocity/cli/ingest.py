"""`ev ingest FILE`: put mentions into the workspace, in atomic batches, resumable."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from escapevelocity.cli.common import err, existing_file, open_workspace
from escapevelocity.config import load_settings
from escapevelocity.services.ingest import DEFAULT_BATCH_SIZE, batches
from escapevelocity.services.intake import Intake
from escapevelocity.services.parse import Problem, read_file


def ingest_command(
    file: Path = typer.Argument(..., help="mentions as JSONL or CSV"),
    database: str = typer.Option(None, help="database URL (default: EV_DATABASE_URL or var/ev.db)"),
    batch_size: int = typer.Option(DEFAULT_BATCH_SIZE, min=1, max=10_000,
                                   help="mentions per transaction"),
    crisis: bool = typer.Option(True, help="let crisis mode watch the stream (off for backfills "
                                           "of old posts)"),
) -> None:
    """Ingest mentions. Each batch is one transaction; re-running skips what was stored."""
    workspace = open_workspace(database)
    intake = Intake.open(workspace, crisis=crisis)
    problems: list[Problem] = []

    def good():
        for item in read_file(existing_file(file), now=workspace.clock.now(),
                              window=load_settings().mention_window):
            if isinstance(item, Problem):
                problems.append(item)
                err.print(f"[yellow]{file}:{item.line}[/]: {item.reason}", highlight=False,
                          soft_wrap=True)
            else:
                yield item

    accepted = duplicates = opened = joined = 0
    started = time.perf_counter()
    with Progress(TextColumn("[bold]ingest"), BarColumn(), TextColumn("{task.completed} mentions"),
                  TimeElapsedColumn(), console=err, transient=True,
                  disable=not err.is_terminal) as progress:
        task = progress.add_task("ingest", total=None)
        for batch in batches(good(), batch_size):
            r = intake.take(batch)
            accepted += r.accepted
            duplicates += r.duplicates
            opened += r.opened
            joined += r.joined
            progress.update(task, advance=len(batch))
    seconds = time.perf_counter() - started
    rate = (accepted + duplicates) / seconds if seconds else 0.0
    typer.echo(f"accepted {accepted}, duplicates skipped {duplicates}, cases opened {opened}, "
               f"joined existing cases {joined}, bad lines {len(problems)} "
               f"({rate:,.0f} mentions/s)")
    if problems and not accepted and not duplicates:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest_command)
