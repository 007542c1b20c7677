"""`ev outbound`: the dry-run / live switch of replies to customers (the workspace's, and each
connection's), and `ev webhooks`: the CRM webhooks' dead-letter list and its replay. Changes
name the member who makes them (`--by`): the switch is an audited event, and only members who
may configure the workspace change either."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from escapevelocity.cli.common import err, fail, open_workspace
from escapevelocity.domain.permissions import PermissionDenied

out = Console()
outbound_app = typer.Typer(help="Replies to customers: dry run or live, per connection.",
                           no_args_is_help=True)
webhooks_app = typer.Typer(help="CRM / contact-center webhooks: the dead-letter list.",
                           no_args_is_help=True)


@outbound_app.command("show")
def show(database: str | None = typer.Option(None, help="database URL")) -> None:
    """The workspace's switch, each connection's, and whether its replies would leave."""
    from escapevelocity.channels import registry
    from escapevelocity.services import outbound

    ws = open_workspace(database)
    mode = outbound.mode(ws.store)
    with ws.store.begin() as tx:
        rows = tx.connections.all_()
    out.print(f"workspace: {mode.workspace}")
    table = Table("connection", "channel", "switch", "replies")
    channels = registry()
    for c in rows:
        spec = channels.get(c.channel)
        own = mode.connections.get(c.name) or mode.connections.get(c.channel)
        live = mode.live_for(c.name, c.channel)
        can = bool(spec and c.enabled and spec.can_send(c.settings))
        table.add_row(c.name, c.channel, own or f"(workspace: {mode.workspace})",
                      ("LIVE: sent to " + spec.title) if live and can and spec else
                      "dry run" if not live else "recorded only (cannot send)")
    out.print(table)
    for e in outbound.history(ws.store, 5):
        err.print(f"{e.at:%Y-%m-%d %H:%M} {e.actor}: {e.data.get('name') or 'workspace'} "
                  f"→ {e.data.get('after')}")


@outbound_app.command("set")
def set_(mode: str = typer.Argument(..., help="live or dry_run (or 'workspace': a connection "
                                              "follows the workspace again)"),
         connection: str = typer.Option("", "--connection", help="one connection's switch"),
         by: str = typer.Option(..., "--by", help="member id of who switches (audited)"),
         database: str | None = typer.Option(None, help="database URL")) -> None:
    """Switch the workspace, or one connection, to live or dry run."""
    from escapevelocity.services import outbound

    ws = open_workspace(database)
    value = "" if mode == "workspace" and connection else mode
    try:
        new = outbound.set_mode(ws.store, ws.clock, by, value, connection or None)
    except (PermissionDenied, ValueError) as exc:
        raise fail(str(exc)) from None
    err.print(f"{connection or 'workspace'}: {new.connections.get(connection, new.workspace)}"
              if connection else f"workspace: {new.workspace}")


@webhooks_app.command("dead")
def dead(by: str = typer.Option(..., "--by", help="member id (must configure)"),
         database: str | None = typer.Option(None, help="database URL")) -> None:
    """The deliveries that ran out of tries (and the rest, with their state)."""
    from escapevelocity.services import webhooks

    ws = open_workspace(database)
    try:
        rows = webhooks.dead_letters(ws.store, by)
    except PermissionDenied as exc:
        raise fail(str(exc)) from None
    dead_rows = [r for r in rows if r["state"] == "dead"]
    if not dead_rows:
        err.print(f"no dead letters ({len(rows)} deliveries in all)")
        return
    table = Table("id", "delivery", "topic", "case", "tries", "last answer")
    for r in dead_rows:
        table.add_row(str(r["id"]), r["delivery_id"], r["topic"], r["case_id"],
                      str(r["attempts"]), str(r["detail"])[:80])
    out.print(table)


@webhooks_app.command("replay")
def replay(row_id: int = typer.Argument(..., help="the dead letter's id (`ev webhooks dead`)"),
           by: str = typer.Option(..., "--by", help="member id (must configure)"),
           database: str | None = typer.Option(None, help="database URL")) -> None:
    """Queue a dead letter again: the next pass delivers it."""
    from escapevelocity.services import webhooks

    ws = open_workspace(database)
    try:
        done = webhooks.replay(ws.store, ws.clock, by, row_id)
    except PermissionDenied as exc:
        raise fail(str(exc)) from None
    if not done:
        raise fail(f"no dead letter {row_id}")
    err.print(f"{row_id} queued again")


def register(app: typer.Typer) -> None:
    app.add_typer(outbound_app, name="outbound")
    app.add_typer(webhooks_app, name="webhooks")
