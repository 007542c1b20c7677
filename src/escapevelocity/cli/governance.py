"""`ev governance …`: spokes' readiness, policies, training and the maturity assessment from
the terminal, through the same services as the Program pages."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from escapevelocity.cli.common import existing_file, fail, open_workspace
from escapevelocity.domain import governance
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services import channel_requests
from escapevelocity.services import governance as gov

cli = typer.Typer(help="Program governance: readiness, policies, training, maturity.",
                  no_args_is_help=True)


def _run(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return fn(*args, **kwargs)
    except (gov.GovernanceError, PermissionDenied) as exc:
        raise fail(str(exc)) from None


@cli.command("spokes")
def spokes(database: str = typer.Option(None, help="database URL")) -> None:
    """Spokes under governance: mode and what their checklist still lacks."""
    p = gov.program(open_workspace(database).store)
    for s in p.spokes.values():
        gaps = ", ".join(i.id for i in governance.missing(p, s.team)) or "complete"
        typer.echo(f"{s.team}\t{s.mode}\t{gaps}")


@cli.command("request")
def request(team: str, name: str = typer.Option(...), hub: str = typer.Option("hub"),
            member: str = typer.Option(..., "--as"), unit: str = typer.Option(""),
            members: str = typer.Option("", help="comma-separated member ids"),
            database: str = typer.Option(None, help="database URL")) -> None:
    """A business unit requests a spoke; it starts in shadow mode."""
    ws = open_workspace(database)
    staff = [m.strip() for m in members.split(",") if m.strip()]
    s = _run(gov.request_spoke, ws.store, ws.clock, member, team=team, name=name, hub=hub,
             unit=unit, members=staff)
    typer.echo(f"{s.team}: requested, {s.mode} mode")


@cli.command("done")
def done(team: str, item: str, member: str = typer.Option(..., "--as"),
         evidence: str = typer.Option(""),
         database: str = typer.Option(None, help="database URL")) -> None:
    """Record a checklist item as met."""
    ws = open_workspace(database)
    _run(gov.complete_item, ws.store, ws.clock, member, team, item, evidence)
    typer.echo(f"{team}: {item} done")


@cli.command("approve")
def approve(team: str, member: str = typer.Option(..., "--as"),
            database: str = typer.Option(None, help="database URL")) -> None:
    """The hub approves a completed checklist: the spoke goes live."""
    ws = open_workspace(database)
    _run(gov.approve_spoke, ws.store, ws.clock, member, team)
    typer.echo(f"{team}: live")


@cli.command("policy")
def policy(policy_id: str, file: Path, title: str = typer.Option(...),
           member: str = typer.Option(..., "--as"),
           database: str = typer.Option(None, help="database URL")) -> None:
    """Publish a new version of a policy from a text file."""
    ws = open_workspace(database)
    text = existing_file(file).read_text()
    v = _run(gov.publish_policy, ws.store, ws.clock, member, policy_id, title, text)
    typer.echo(f"{policy_id}: v{v} published")


@cli.command("ack")
def ack(policy_id: str, member: str = typer.Option(..., "--as"),
        database: str = typer.Option(None, help="database URL")) -> None:
    """A member acknowledges the current version of a policy."""
    ws = open_workspace(database)
    v = _run(gov.acknowledge, ws.store, ws.clock, member, policy_id)
    typer.echo(f"{member} acknowledged {policy_id} v{v}")


@cli.command("training")
def training(member: str, database: str = typer.Option(None, help="database URL")) -> None:
    """What a member's training still lacks (empty: complete)."""
    gaps = gov.training_gaps(open_workspace(database).store, member)
    typer.echo("\n".join(gaps) if gaps else f"{member}: training complete")


@cli.command("rebuild")
def rebuild(database: str = typer.Option(None, help="database URL")) -> None:
    """Recompute the governance projection from the event log alone."""
    ws = open_workspace(database)
    p = gov.rebuild(ws.store, ws.clock)
    typer.echo(f"{len(p.spokes)} spokes, {len(p.channels)} channel requests, "
               f"{len(p.policies)} policies")


# --- a unit's own channel (services/channel_requests) ----------------------------------------

@cli.command("channels")
def channels(database: str = typer.Option(None, help="database URL")) -> None:
    """Units' channel requests: state and what their checklist still lacks."""
    p = gov.program(open_workspace(database).store)
    for c in p.channels.values():
        gaps = ", ".join(i.id for i in governance.channel_missing(p, c.connection)) or "complete"
        typer.echo(f"{c.connection}\t{c.channel}\t{c.team}\t{c.state}\t{gaps}")


@cli.command("channel-request")
def channel_request(connection: str, channel: str = typer.Option(...),
                    team: str = typer.Option(...), member: str = typer.Option(..., "--as"),
                    account: str = typer.Option(""), reason: str = typer.Option(""),
                    members: str = typer.Option("", help="comma-separated member ids"),
                    database: str = typer.Option(None, help="database URL")) -> None:
    """A unit asks for a channel connection of its own; the hub connects it in shadow mode."""
    ws = open_workspace(database)
    staff = [m.strip() for m in members.split(",") if m.strip()]
    c = _run(channel_requests.request_channel, ws.store, ws.clock, member,
             connection=connection, channel=channel, team=team, account=account,
             reason=reason, members=staff)
    typer.echo(f"{c.connection}: {c.state}")


@cli.command("channel-connect")
def channel_connect(connection: str, member: str = typer.Option(..., "--as"),
                    set_: list[str] = typer.Option([], "--set", help="a setting, key=value"),
                    secret: list[str] = typer.Option(
                        [], "--secret", help="a secret, key=value (key=- reads stdin)"),
                    query: str = typer.Option("", help="the listening query"),
                    database: str = typer.Option(None, help="database URL")) -> None:
    """The hub creates the requested connection in shadow mode (its switch at dry run)."""
    from escapevelocity.cli.channels import _pairs, _sealer

    secrets = _pairs(secret, "--secret")
    for key, value in list(secrets.items()):
        if value == "-":
            secrets[key] = sys.stdin.readline().strip()
    ws = open_workspace(database)
    c = _run(channel_requests.connect, ws.store, ws.clock, _sealer(), member, connection,
             settings=_pairs(set_, "--set"), query=query, secrets=secrets)
    typer.echo(f"{c.connection}: {c.state} (nothing is sent through it)")


@cli.command("channel-done")
def channel_done(connection: str, item: str, member: str = typer.Option(..., "--as"),
                 evidence: str = typer.Option(""),
                 database: str = typer.Option(None, help="database URL")) -> None:
    """Record a checklist item of a channel request as met."""
    ws = open_workspace(database)
    _run(channel_requests.complete_item, ws.store, ws.clock, member, connection, item, evidence)
    typer.echo(f"{connection}: {item} done")


@cli.command("channel-approve")
def channel_approve(connection: str, member: str = typer.Option(..., "--as"),
                    note: str = typer.Option(""),
                    database: str = typer.Option(None, help="database URL")) -> None:
    """The hub approves a completed checklist: the connection goes live."""
    ws = open_workspace(database)
    _run(channel_requests.approve, ws.store, ws.clock, member, connection, note)
    typer.echo(f"{connection}: live")


@cli.command("channel-reject")
def channel_reject(connection: str, reason: str = typer.Option(...),
                   member: str = typer.Option(..., "--as"),
                   database: str = typer.Option(None, help="database URL")) -> None:
    """The hub turns a request down, saying why."""
    ws = open_workspace(database)
    _run(channel_requests.reject, ws.store, ws.clock, member, connection, reason)
    typer.echo(f"{connection}: rejected")


@cli.command("channel-withdraw")
def channel_withdraw(connection: str, member: str = typer.Option(..., "--as"),
                     note: str = typer.Option(""),
                     database: str = typer.Option(None, help="database URL")) -> None:
    """The unit takes its request back; the connection stops and sends nothing more."""
    ws = open_workspace(database)
    _run(channel_requests.withdraw, ws.store, ws.clock, member, connection, note)
    typer.echo(f"{connection}: withdrawn")


def register(app: typer.Typer) -> None:
    app.add_typer(cli, name="governance")
