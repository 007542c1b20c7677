"""`ev workspace …`: create, inspect and repair a workspace."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from escapevelocity.cli.common import existing_file, fail, open_workspace
from escapevelocity.config import load_settings
from escapevelocity.services.cases import rebuild_projection
from escapevelocity.services.seed import seed_demo, seed_workspace

cli = typer.Typer(help="Create, inspect and repair a workspace.", no_args_is_help=True)


@cli.command("init")
def init(database: str = typer.Option(None, help="database URL"),
         brand: Path = typer.Option(None, "--brand", help="brand profile YAML: name, names, "
                                    "handles, products, competitors, executives, hashtags"),
         name: str = typer.Option(None, "--name", help="the brand's name"),
         handle: list[str] = typer.Option([], "--handle", help="a brand handle, e.g. @AcmeHelp "
                                          "(repeat for more)"),
         product: list[str] = typer.Option([], "--product", help="a product name (repeat)"),
         competitor: list[str] = typer.Option([], "--competitor", help="a competitor (repeat)"),
         executive: list[str] = typer.Option([], "--executive",
                                             help="an executive or spokesperson (repeat)"),
         hashtag: list[str] = typer.Option([], "--hashtag", help="a campaign hashtag (repeat)"),
         admin: str = typer.Option("admin", "--admin", help="the first member's id (an admin)"),
         password: str = typer.Option(None, help="password of the admin (or of every demo "
                                                 "member with --demo; random if unset)"),
         demo: bool = typer.Option(False, "--demo", help="seed the Orbit Telecom demo "
                                   "(organisation, customers, vocabulary) instead"),
         reset: bool = typer.Option(False, "--reset", help="seed again and reset the "
                                    "password(s) (an existing workspace is left alone "
                                    "without it)"),
         ) -> None:
    """Create an empty, brand-neutral workspace: the default playbook, your brand profile and
    one admin. `--demo` seeds the Orbit Telecom demo instead."""
    from escapevelocity.domain.brand import BrandError, from_flags, parse_yaml

    try:
        if brand is not None:
            profile = parse_yaml(existing_file(brand).read_text(encoding="utf-8"))
            if name or handle or product or competitor or executive or hashtag:
                raise fail("give the brand either as --brand FILE or as flags, not both")
        else:
            profile = from_flags(name, handle, product, competitor, executive, hashtag)
    except BrandError as exc:
        raise fail(f"brand profile: {exc}") from None
    ws = open_workspace(database, create=True)
    with ws.store.begin() as tx:
        exists = tx.playbooks.active() is not None
    if exists and not reset:
        typer.echo(f"workspace at {ws.store.url} is already set up; nothing changed "
                   "(--reset seeds again and resets the password)")
        return
    if demo:
        pw = seed_demo(ws, password=password)
        login = "ana"
    else:
        pw = seed_workspace(ws, profile, admin=admin, password=password)
        login = admin
    token = ws.new_api_token("cli")
    typer.echo(f"workspace ready at {ws.store.url}\nlogin: {login} / {pw}\nAPI token: {token}")
    if not demo and profile.empty:
        typer.echo("no brand profile yet: set it in the web app (Brand) or run init again "
                   "with --reset --brand BRAND.yaml; until then nothing is read as off-topic")


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
    with ws.store.begin() as tx:
        known = tx.org.load().member(member) is not None
    if not known:
        raise fail(f"{member!r} is not a member of this workspace (see `ev org show`)")
    ws.set_password(member, new_password)
    typer.echo(f"password set for {member}")


tokens = typer.Typer(help="API tokens: create, list, revoke (stored hashed).",
                     no_args_is_help=True)
cli.add_typer(tokens, name="token")


@tokens.command("new")
def token_new(name: str = typer.Argument("api"), database: str = typer.Option(None)) -> None:
    """Create an API token for POST /api/mentions (shown once, stored only hashed)."""
    if not name.strip() or len(name) > 200:
        raise fail("name the token (1-200 characters): what uses it, e.g. 'crm-sync'")
    typer.echo(open_workspace(database).new_api_token(name.strip()))


@tokens.command("list")
def token_list(database: str = typer.Option(None)) -> None:
    """Every token: id, name, created, last used, and whether it is revoked."""
    from rich.table import Table

    rows = open_workspace(database).api_tokens()
    table = Table("id", "name", "created", "last used", "state")

    def when(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "never"

    for t in rows:
        state = (f"revoked {when(t.revoked_at)}" if t.revoked_at else
                 f"expires {when(t.expires_at)}" if t.expires_at else "live")
        table.add_row(t.id, t.name, when(t.created_at), when(t.last_used_at), state)
    Console(width=120).print(table if rows else "no API tokens (create one: ev workspace "
                                                "token new NAME)")


@tokens.command("revoke")
def token_revoke(name_or_id: str, database: str = typer.Option(None)) -> None:
    """Revoke the token(s) of this name, or the one of this id (see `token list`)."""
    n = open_workspace(database).revoke_api_token(name_or_id)
    if n == 0:
        raise fail(f"no live token is named {name_or_id!r} or has that id "
                   "(see `ev workspace token list`)")
    typer.echo(f"revoked {n} token{'s' if n != 1 else ''}")


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
