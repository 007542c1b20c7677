"""`ev workspace …`: create, inspect and repair a workspace."""

from __future__ import annotations

import typer
from rich.console import Console

from escapevelocity.cli.common import fail, open_workspace
from escapevelocity.config import load_settings
from escapevelocity.services.cases import rebuild_projection
from escapevelocity.services.seed import seed_demo

cli = typer.Typer(help="Create, inspect and repair a workspace.", no_args_is_help=True)


@cli.command("init")
def init(database: str = typer.Option(None, help="database URL"),
         password: str = typer.Option(None, help="password for every demo member "
                                                 "(random if unset)"),
         reset: bool = typer.Option(False, help="seed again and reset every member's password "
                                                "(an existing workspace is left alone without it)"),
         ) -> None:
    """Create the schema and seed the demo organisation, vocabulary and default playbook."""
    ws = open_workspace(database, create=True)
    with ws.store.begin() as conn:
        exists = ws.store.active_playbook(conn) is not None
    if exists and not reset:
        typer.echo(f"workspace at {ws.store.url} is already set up; nothing changed "
                   "(--reset seeds again and resets every member's password)")
        return
    pw = seed_demo(ws, password=password)
    token = ws.new_api_token("cli")
    typer.echo(f"workspace ready at {ws.store.url}\nlogin: ana / {pw}\nAPI token: {token}")


@cli.command("rebuild")
def rebuild(database: str = typer.Option(None, help="database URL")) -> None:
    """Recompute every case from the event log (the log is the record)."""
    ws = open_workspace(database)
    typer.echo(f"rebuilt {rebuild_projection(ws.store)} cases from the event log")


@cli.command("password")
def password(member: str, new_password: str = typer.Option(..., prompt=True, hide_input=True),
             database: str = typer.Option(None)) -> None:
    """Set a member's password."""
    if len(new_password) < 8:
        raise fail("use at least 8 characters")
    ws = open_workspace(database)
    with ws.store.begin() as conn:
        known = ws.store.load_org(conn).member(member) is not None
    if not known:
        raise fail(f"{member!r} is not a member of this workspace (see `ev org show`)")
    ws.set_password(member, new_password)
    typer.echo(f"password set for {member}")


@cli.command("token")
def token(name: str = typer.Argument("api"), database: str = typer.Option(None)) -> None:
    """Create an API token for POST /api/mentions (shown once)."""
    typer.echo(open_workspace(database).new_api_token(name))


@cli.command("config")
def config() -> None:
    """Print the effective settings, secrets masked."""
    console = Console()
    try:
        settings = load_settings()
    except ValueError as exc:
        raise fail(f"bad setting: {exc}") from None
    for k, v in settings.masked().items():
        console.print(f"{k:16} {v}")


def register(app: typer.Typer) -> None:
    app.add_typer(cli, name="workspace")
