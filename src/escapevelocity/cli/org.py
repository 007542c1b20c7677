"""`ev org …` and `ev sla …`: the organisation as YAML, SLA ticks and "SLA met %"."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from rich.console import Console
from rich.table import Table

from escapevelocity.cli.common import existing_file, fail, open_workspace
from escapevelocity.domain import yamlsafe
from escapevelocity.domain.access import visible_teams
from escapevelocity.domain.org import Organisation, load_org

cli = typer.Typer(help="The organisation: hubs, spokes, members, shifts, escalation.",
                  no_args_is_help=True)
sla_cli = typer.Typer(help="SLA clocks, escalation and attainment.", no_args_is_help=True)


def _load(path: Path) -> Organisation:
    try:
        return load_org(yamlsafe.load(existing_file(path).read_text()) or {})
    except (ValueError, yaml.YAMLError) as exc:
        raise fail(f"{path}: {exc}") from None


@cli.command("check")
def check(file: Path) -> None:
    """Validate an organisation YAML file; every problem is named."""
    org = _load(file)
    typer.echo(f"{file}: {len(org.teams)} teams, {len(org.members)} members, no problems")


@cli.command("apply")
def apply(file: Path, database: str = typer.Option(None, help="database URL")) -> None:
    """Replace the workspace's organisation with this YAML file."""
    _load(file)
    org = open_workspace(database).apply_org(file.read_text())
    typer.echo(f"applied: {len(org.teams)} teams, {len(org.members)} members")


@cli.command("show")
def show(file: Path = typer.Argument(None, help="YAML file (default: the workspace's)"),
         database: str = typer.Option(None, help="database URL")) -> None:
    """Teams (hub and spokes), members, capacity, shifts and what each member may see."""
    if file:
        org = _load(file)
    else:
        ws = open_workspace(database)
        with ws.store.begin() as tx:
            org = tx.org.load()
    console = Console()
    teams = Table(title="teams")
    for col in ("team", "kind", "hub", "strategy", "overflow", "lead", "on call"):
        teams.add_column(col)
    for t in org.teams:
        over = ", ".join(f"{o.to} ({o.when})" for o in t.overflow_rules())
        teams.add_row(f"{t.id} ({t.name})", t.kind, t.hub or "", t.strategy, over, t.lead or "",
                      ", ".join(t.on_call))
    console.print(teams)
    people = Table(title="members")
    for col in ("member", "role", "teams", "skills", "languages", "capacity", "shift", "sees"):
        people.add_column(col)
    for m in org.members:
        s = m.shift
        seen = visible_teams(org, m)
        people.add_row(m.id, m.role, ", ".join(m.teams),
                       ", ".join(f"{k} {v}" for k, v in m.skills.items()), ", ".join(m.languages),
                       str(m.capacity), f"{','.join(s.days)} {s.start}-{s.end} {s.tz}",
                       "all" if seen >= {t.id for t in org.teams} else ", ".join(sorted(seen)))
    console.print(people)


@sla_cli.command("tick")
def tick(database: str = typer.Option(None, help="database URL")) -> None:
    """One SLA pass: warnings, breaches, escalation, requeue of offline members, queue drain."""
    from escapevelocity.services.sla import tick as run_tick

    r = run_tick(open_workspace(database))
    typer.echo(f"warnings {r.warnings}, breaches {r.breaches}, escalation steps {r.escalations}, "
               f"requeued {r.requeued}, assigned from the queue {r.drained}, "
               f"due times moved {r.clocks}, conflicts {r.conflicts}")


@sla_cli.command("report")
def report(clock: str = typer.Option("first_response", help="first_response, next_response "
                                     "or resolution"),
           database: str = typer.Option(None, help="database URL")) -> None:
    """SLA met % per track, team and member, computed from the event log."""
    from escapevelocity.services.sla import sla_attainment

    clocks = ("first_response", "next_response", "resolution")
    if clock not in clocks:
        raise fail(f"--clock {clock!r} is not one of: {', '.join(clocks)}")

    table = Table(title=f"SLA met: {clock.replace('_', ' ')}")
    for col in ("by", "who", "met", "breached", "met %"):
        table.add_column(col)
    for scope, key, t in sla_attainment(open_workspace(database)).rows(clock):
        table.add_row(scope, key, str(t.met), str(t.breached), f"{t.percent:.1f}%")
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(cli, name="org")
    app.add_typer(sla_cli, name="sla")
