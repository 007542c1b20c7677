"""`ev token create | list | revoke`: personal and service API tokens (services/tokens.py).

The same commands as the web app's API tokens page, acting as a named member (`--as`), so
what a member may not do there they may not do here: anyone makes personal tokens for
themselves; service tokens and other members' tokens need an admin. The secret is printed
once; only its hash is stored.
"""

from __future__ import annotations

from datetime import timedelta

import typer
from rich.console import Console
from rich.table import Table

from escapevelocity.cli.common import fail, open_workspace
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services import tokens

cli = typer.Typer(help="API tokens: personal (act as you) and service (scoped); stored hashed.",
                  no_args_is_help=True)


@cli.command("create")
def create(name: str = typer.Argument(..., help="what uses it, e.g. 'crm-sync'"),
           as_: str = typer.Option(..., "--as", help="the member making it"),
           service: bool = typer.Option(False, "--service", help="a service token (admins)"),
           scope: list[str] = typer.Option(None, "--scope",
                                           help=f"repeatable: {', '.join(tokens.SCOPES)}"),
           member: str = typer.Option(None, "--member",
                                      help="the member a service token acts as"),
           days: int = typer.Option(None, "--expires-days", min=1, max=3650),
           database: str = typer.Option(None)) -> None:
    """Make a token and print its secret (shown once)."""
    ws = open_workspace(database)
    expires = ws.clock.now() + timedelta(days=days) if days else None
    try:
        secret, info = tokens.create(ws.store, ws.clock, by=as_, name=name,
                                     kind=tokens.SERVICE if service else tokens.PERSONAL,
                                     scopes=scope or None, member=member, expires=expires)
    except (tokens.TokenError, PermissionDenied) as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{info.kind} token {info.id} '{info.name}' ({info.scopes}), acting as "
               f"{info.member or 'nobody'}; the secret, shown once:", err=True)
    typer.echo(secret)


@cli.command("list")
def list_(as_: str = typer.Option(None, "--as", help="only what this member may see"),
          database: str = typer.Option(None)) -> None:
    """Tokens with their kind, member, scopes, last use, expiry and state; never secrets."""
    ws = open_workspace(database)
    if as_:
        try:
            rows = tokens.listed(ws.store, as_)
        except PermissionDenied as exc:
            raise fail(str(exc)) from None
    else:
        rows = ws.api_tokens()
    table = Table("id", "name", "kind", "member", "scopes", "created", "last used",
                  "expires", "state")

    def when(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "never"

    for t in rows:
        table.add_row(t.id, t.name, t.kind, t.member or "-", t.scopes, when(t.created_at),
                      when(t.last_used_at), when(t.expires_at) if t.expires_at else "-",
                      "revoked" if t.revoked_at else "live")
    Console(width=160).print(table if rows else "no API tokens (make one: ev token create "
                                                "NAME --as MEMBER)")


@cli.command("revoke")
def revoke(token_id: str = typer.Argument(..., help="the id from `ev token list`"),
           as_: str = typer.Option(..., "--as", help="the member revoking it"),
           database: str = typer.Option(None)) -> None:
    """Revoke one token (one's own; any, for an admin): refused from the next request on."""
    ws = open_workspace(database)
    try:
        info = tokens.revoke(ws.store, ws.clock, by=as_, token_id=token_id)
    except (LookupError, PermissionDenied) as exc:
        raise fail(str(exc).strip("'\"")) from None
    typer.echo(f"revoked {info.id} '{info.name}'")


def register(app: typer.Typer) -> None:
    app.add_typer(cli, name="token")
