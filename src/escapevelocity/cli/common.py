"""Shared CLI plumbing: settings, the workspace, consoles, and friendly failures."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from escapevelocity.config import load_settings
from escapevelocity.domain.clock import SystemClock
from escapevelocity.services.workspace import Workspace

err = Console(stderr=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def open_workspace(database: str | None = None) -> Workspace:
    try:
        settings = load_settings()
        return Workspace.open(database or settings.database_url, SystemClock())
    except Exception as exc:  # the message is what a person needs; the trace is not
        raise fail(f"cannot open the workspace database: {exc}") from None


def existing_file(path: Path) -> Path:
    if str(path) != "-" and not path.is_file():
        raise fail(f"{path}: no such file")
    return path


def package_file(*parts: str) -> Path:
    from importlib.resources import files

    return Path(str(files("escapevelocity").joinpath(*parts)))


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
