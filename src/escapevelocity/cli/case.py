"""`ev case …`: case commands from the terminal, acting as a named member.

They call the same services as the pages and the API (services/cases.py), so the access
policy, shadow mode and the training gate hold here too: an untrained member's public reply is
held for approval, whoever types it.
"""

from __future__ import annotations

import typer

from escapevelocity.cli.common import fail, open_workspace
from escapevelocity.domain import events as ev
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services import cases
from escapevelocity.services.casetx import CaseError, CaseNotFound

cli = typer.Typer(help="Work a case from the terminal, as a member.", no_args_is_help=True)


@cli.command("claim")
def claim(case_id: str, member: str = typer.Option(..., "--as", help="acting member id"),
          database: str = typer.Option(None, help="database URL")) -> None:
    """Take the lease to answer the case."""
    ws = open_workspace(database)
    try:
        cases.claim(ws.store, ws.clock, case_id, member)
    except (CaseError, CaseNotFound, PermissionDenied) as exc:
        raise fail(str(exc)) from None
    typer.echo(f"{case_id}: claimed by {member}")


@cli.command("reply")
def reply(case_id: str, text: str,
          member: str = typer.Option(..., "--as", help="acting member id"),
          database: str = typer.Option(None, help="database URL")) -> None:
    """Reply (claiming first when nobody holds the case). When the reply needs approval (the
    playbook, the member's role or training, the risk list) it is held as a draft."""
    ws = open_workspace(database)
    try:
        with ws.store.begin() as tx:
            case = tx.cases.get(case_id)
        if case is not None and case.claimed_by != member:
            cases.claim(ws.store, ws.clock, case_id, member)
        event = cases.reply(ws.store, ws.clock, case_id, member, text)
    except (CaseError, CaseNotFound, PermissionDenied) as exc:
        raise fail(str(exc)) from None
    if event.kind == ev.REPLIED:
        typer.echo(f"{case_id}: sent")
    else:
        typer.echo(f"{case_id}: held for approval by {event.approver}: "
                   + "; ".join(event.reasons))


def register(app: typer.Typer) -> None:
    app.add_typer(cli, name="case")
