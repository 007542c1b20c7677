"""The `ev` command. Each sub-command lives in its own module and registers itself here.

A module in COMMANDS exposes `register(app)`; adding a command touches its own file and one
line below, never the others.
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

app = typer.Typer(
    name="ev",
    help="Escape Velocity: social media triage and command center.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMANDS = ("triage", "ingest", "workspace", "demo", "playbook", "serve", "org", "simulate", "eval",
            "drill", "channels", "outbound", "notify", "token", "security", "report", "case",
            "governance", "worker", "answers")

for _name in COMMANDS:
    importlib.import_module(f"escapevelocity.cli.{_name}").register(app)



def main() -> None:
    """The `ev` entry point: a mistake a person can fix (a missing file, a bad value, an
    unset-up workspace) ends with one `error:` line, not a traceback. EV_DEBUG=1 shows it."""
    import os
    import sys

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
