"""The `ev` command. Each sub-command lives in its own module and registers itself here.

A module in COMMANDS exposes `register(app)`; adding a command touches its own file and one
line below, never the others.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="ev",
    help="Escape Velocity: social media triage and command center.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMANDS = ("triage", "ingest", "workspace", "demo", "playbook", "serve", "org", "simulate", "eval",
            "drill")

for _name in COMMANDS:
    importlib.import_module(f"escapevelocity.cli.{_name}").register(app)

if __name__ == "__main__":
    app()
