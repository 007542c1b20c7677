"""`ev security roles | reset`: the second-factor rule from the command line.

The same commands as Settings → Second factor (services/second_factor.py), acting as a named
admin (`--as`): which roles must have a second factor to reply publicly or approve, and taking
away a member's factor when they lost their device (they set up a new one at next sign-in).
"""

from __future__ import annotations

import typer

from escapevelocity.cli.common import fail, open_workspace
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services import second_factor

cli = typer.Typer(help="Second factors: the roles that require one; resetting a member's.",
                  no_args_is_help=True)


@cli.command("roles")
def roles(role: list[str] = typer.Argument(None, help="roles that must have a second factor "
                                                      "(none: show them)"),
          as_: str = typer.Option(None, "--as", help="the admin making the change"),
          clear: bool = typer.Option(False, "--clear", help="no role requires one"),
          database: str = typer.Option(None)) -> None:
    ws = open_workspace(database)
    if not role and not clear:
        shown = sorted(second_factor.required_roles(ws.store))
        typer.echo(", ".join(shown) if shown else "no role requires a second factor")
        return
    if not as_:
        raise fail("say who makes the change: --as ADMIN")
    try:
        done = second_factor.set_required_roles(ws.store, ws.clock, by=as_,
                                                roles=[] if clear else role)
    except (second_factor.FactorError, PermissionDenied) as exc:
        raise fail(str(exc)) from None
    typer.echo("roles that require a second factor: " + (", ".join(sorted(done)) or "none"))


@cli.command("reset")
def reset(member: str, as_: str = typer.Option(..., "--as", help="the admin resetting it"),
          database: str = typer.Option(None)) -> None:
    """Remove MEMBER's second factor (a lost phone): they set up a new one."""
    ws = open_workspace(database)
    try:
        second_factor.remove(ws.store, ws.clock, by=as_, member=member)
    except PermissionDenied as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{member} has no second factor now")


def register(app: typer.Typer) -> None:
    app.add_typer(cli, name="security")
