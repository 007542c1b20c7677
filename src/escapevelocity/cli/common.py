"""Shared CLI plumbing: settings, the workspace, consoles, and friendly failures."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from escapevelocity.config import load_settings
from escapevelocity.domain.clock import SystemClock

if TYPE_CHECKING:  # imported by open_workspace: `ev triage` needs no database layer
    from escapevelocity.services.workspace import Workspace

err = Console(stderr=True)


@contextmanager
def starting() -> Iterator[None]:
    """Start-up without the cyclic garbage collector: importing and building allocate tens of
    thousands of objects that live as long as the process (modules, classes, the web app's
    routes), and the collector's passes over them while they are made found nothing to free
    but cost ~0.15 CPU-s of `ev serve`'s 1.4 (issue 14). Afterwards what was built is moved
    out of the collector's sight (gc.freeze), as the web app's lifespan does, and it is on
    again for the command's own work."""
    if not gc.isenabled():  # nested, or switched off by whoever runs us
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def open_workspace(database: str | None = None, *, create: bool = False,
                   ready: bool = True) -> Workspace:
    """The configured workspace. Only `ev workspace init` (create=True) may make a new
    database; every other command says where it looked and what to run instead of leaving an
    empty file behind. `ready` also asks for a set-up workspace (an active playbook)."""
    try:
        settings = load_settings()
    except ValueError as exc:
        raise fail(f"bad setting: {exc}") from None
    url = database or settings.database_url
    if not create and url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise fail(f"no workspace at {path}: run `ev workspace init` first (or set "
                       "EV_DATABASE_URL / --database)")
    from escapevelocity.services.workspace import Workspace

    try:
        ws = Workspace.open(url, SystemClock())
    except Exception as exc:  # the message is what a person needs; the trace is not
        raise fail(f"cannot open the workspace database: {exc}") from None
    if ready and not create:
        with ws.store.begin() as tx:
            if tx.playbooks.active() is None:
                raise fail(f"the workspace at {ws.store.url} is not set up: run "
                           "`ev workspace init` first")
    return ws


def existing_file(path: Path) -> Path:
    if str(path) != "-" and not path.is_file():
        raise fail(f"{path}: no such file")
    return path


def package_file(*parts: str) -> Path:
    from importlib.resources import files

    return Path(str(files("escapevelocity").joinpath(*parts)))


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
