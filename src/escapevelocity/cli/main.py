"""The `ev` command. Each sub-command lives in its own module and registers itself here.

A module in COMMANDS exposes `register(app)`; adding a command touches its own file and one
line below (and ALSO, for a name other than the module's own), never the others. `ev NAME`
imports only the module that registers NAME: start-up costs what that command imports.
"""

from __future__ import annotations

import importlib

import typer


def _flags_show_no_type() -> None:
    """Typer's help prints a type after every on/off flag ("--json <bool>"), which reads as if
    the flag took a value; a flag takes none, so its type column stays empty (one place, for
    every command)."""
    from typer.core import TyperOption

    if getattr(TyperOption.display_type_rich, "_ev_flags", False):
        return
    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: typer.Context) -> str | None:
        return None if self.is_flag or self.count else shown(self, ctx)

    display_type_rich._ev_flags = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_show_no_type()

COMMANDS = ("triage", "ingest", "workspace", "demo", "playbook", "serve", "org", "simulate", "eval",
            "drill", "channels", "outbound", "notify", "token", "security", "report", "case",
            "governance", "worker", "answers")
# The names a module registers besides its own (tests/unit/test_cli_help_and_check.py checks
# this against what each registers).
ALSO = {"sla": "org", "channel": "channels", "webhooks": "outbound", "goals": "report",
        "dead": "worker", "knowledge": "answers"}


def build(modules: tuple[str, ...] = COMMANDS) -> typer.Typer:
    """The `ev` app with the commands of these modules (all by default: help lists them)."""
    app = typer.Typer(
        name="ev",
        help="Escape Velocity: social media triage and command center.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for name in modules:
        importlib.import_module(f"escapevelocity.cli.{name}").register(app)
    if len(modules) == 1:
        # a Typer of one command runs it with no name (`ev serve --port` would read `serve` as
        # an argument): an empty callback keeps it a group of commands, as the whole app is
        app.callback()(_group)
    return app


def _group() -> None:
    pass


def module_of(name: str) -> str | None:
    """The module that registers the command or group `name` (None: not a command)."""
    return ALSO.get(name) or (name if name in COMMANDS else None)


def __getattr__(name: str) -> typer.Typer:
    """`app`, every command registered, made on first use (tests, `--help`): `ev NAME` itself
    imports only NAME's module (main below), not the web app, the database layer and the
    rest that the others import (issue 14: start-up)."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = globals()["app"] = build()
    return app


def main() -> None:
    """The `ev` entry point: a mistake a person can fix (a missing file, a bad value, an
    unset-up workspace) ends with one `error:` line, not a traceback. EV_DEBUG=1 shows it."""
    import os
    import sys

    from escapevelocity.cli.common import starting

    first = next((a for a in sys.argv[1:2] if not a.startswith("-")), None)
    module = module_of(first) if first else None
    with starting():
        app = build((module,)) if module else build()
    try:
        app()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError,
            ValueError, RuntimeError) as exc:
        if os.environ.get("EV_DEBUG"):
            raise
        from escapevelocity.cli.common import err

        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        text = exc.strerror if getattr(exc, "strerror", None) else str(exc)
        err.print(f"[bold red]error:[/] {where}{text}", markup=True, highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
