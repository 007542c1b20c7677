"""`ev knowledge …` (the answers already written) and `ev answers …` (suggest, automate, and
the deflection and advocacy figures with the cases behind them)."""

from __future__ import annotations

import getpass
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from escapevelocity.cli.common import fail, open_workspace

knowledge = typer.Typer(help="The knowledge store: articles and a community feed.",
                        no_args_is_help=True)
cli = typer.Typer(help="Suggested answers, automated replies, deflection and advocacy.",
                  no_args_is_help=True)


@knowledge.command("add")
def add(folder: Path, database: str = typer.Option(None, help="database URL"),
        actor: str = typer.Option("cli", "--as", help="who loads them (for the log)")) -> None:
    """Load every Markdown article under FOLDER (replaces the articles loaded before)."""
    from escapevelocity.services import answers

    ws = open_workspace(database)
    try:
        entries = answers.read_articles(folder)
    except ValueError as exc:
        raise fail(str(exc)) from None
    n = answers.store_entries(ws.store, ws.clock, "article", entries, actor, str(folder))
    Console().print(f"{n} articles loaded from {folder}")


@knowledge.command("feed")
def feed(source: str = typer.Argument(..., help="a file or http(s) URL: JSON Feed, RSS, Atom"),
         database: str = typer.Option(None, help="database URL"),
         actor: str = typer.Option("cli", "--as", help="who loads it (for the log)")) -> None:
    """Load a community site's feed of answered questions (replaces the previous one)."""
    from escapevelocity.services import answers

    ws = open_workspace(database)
    try:
        entries = answers.read_feed(source)
    except (ValueError, OSError) as exc:
        raise fail(str(exc)) from None
    n = answers.store_entries(ws.store, ws.clock, "community", entries, actor, source)
    Console().print(f"{n} community answers loaded from {source}")


@cli.command("suggest")
def suggest(question: str, k: int = typer.Option(3, "-k"),
            database: str = typer.Option(None, help="database URL")) -> None:
    """The best answers in the knowledge store for QUESTION, with score and reason."""
    from escapevelocity.services import answers

    ws = open_workspace(database)
    table = Table()
    for col in ("score", "source", "answer", "why"):
        table.add_column(col)
    for s in answers.suggest(ws.store, question, k=k):
        table.add_row(f"{s.score:.2f}", s.entry.source, s.entry.answer[:80], s.reason)
    Console().print(table)


@cli.command("auto")
def auto(case_id: str, database: str = typer.Option(None, help="database URL")) -> None:
    """Send CASE's approved answer automatically, if the guardrails allow it; else say why not."""
    from escapevelocity.services import autoreply
    from escapevelocity.services.casetx import CaseError
    from escapevelocity.services.outbound import senders_from_env

    ws = open_workspace(database)
    try:
        out = autoreply.attempt(ws.store, ws.clock, case_id, path="cli",
                                senders=senders_from_env(), by=getpass.getuser())
    except CaseError as exc:
        raise fail(str(exc)) from None
    console = Console()
    if out.event is None:
        console.print(f"not sent: {'; '.join(out.verdict.reasons)}")
        raise typer.Exit(2)
    console.print(f"sent automatically: {out.verdict.reasons[0]}")


@cli.command("withdraw")
def withdraw(case_id: str, member: str = typer.Option(..., "--as", help="acting member"),
             note: str = typer.Option("", "--note"),
             database: str = typer.Option(None, help="database URL")) -> None:
    """Take CASE's automated reply back (deleted on the network) and requeue the case."""
    from escapevelocity.domain.permissions import PermissionDenied
    from escapevelocity.services import autoreply
    from escapevelocity.services.casetx import CaseError

    ws = open_workspace(database)
    try:
        event = autoreply.withdraw(ws.store, ws.clock, case_id, member, note)
    except (CaseError, PermissionDenied) as exc:
        raise fail(str(exc)) from None
    Console().print(f"withdrawn{': ' + event.error if event.error else ''}")


@cli.command("report")
def report(database: str = typer.Option(None, help="database URL"),
           limit: int = typer.Option(20, help="cases listed per figure")) -> None:
    """Deflection, automated replies and advocacy: each figure and the cases behind it."""
    from escapevelocity.services import answers, autoreply

    ws = open_workspace(database)
    data = answers.report(ws.store, limit)
    measured = autoreply.measure(ws.store)
    console = Console()
    d = data["deflection"]
    console.print("[bold]Deflection[/]")
    console.print(f"  linked a peer answer: {d.get('linked_peer', 0)}  "
                  f"cases: {', '.join(c for c, _ in data['linked_peer']) or '–'}")
    console.print(f"  resolved by the community: {d.get('community_resolved', 0)}  "
                  f"cases: {', '.join(c for c, _ in data['community_resolved']) or '–'}")
    used = {k.split(' ', 1)[1]: v for k, v in d.items() if k.startswith("answer_used ")}
    console.print(f"  replies from a suggested answer: {used or 0}")
    console.print("[bold]Automated replies[/]")
    console.print(f"  sent: {d.get('auto_replied', 0)}  withdrawn: {d.get('auto_withdrawn', 0)}"
                  f"  reopened: {measured['reopened']}  reopen rate: {measured['reopen_rate']}"
                  f"  customer's next sentiment: {measured['next_sentiment'] or '–'}")
    console.print(f"  cases: {', '.join(c for c, *_ in data['auto_replied']) or '–'}")
    a = data["advocacy"]
    console.print("[bold]Advocacy[/]")
    console.print("  " + "  ".join(f"{k}: {v}" for k, v in sorted(a.items())) or "  –")
    for stream, _kind, entry, actor, case in data["advocates"]:
        console.print(f"  {stream} {entry} by {actor}" + (f" (case {case})" if case else ""))


@cli.command("advocates")
def advocates(database: str = typer.Option(None, help="database URL")) -> None:
    """Super-user and advocate candidates with their evidence and cases, and program status."""
    from escapevelocity.services import advocacy

    ws = open_workspace(database)
    table = Table()
    for col in ("author", "score", "evidence", "cases", "good at", "status"):
        table.add_column(col)
    for c, status in advocacy.candidates(ws.store):
        table.add_row(f"{c.channel} @{c.handle}", f"{c.score}", "; ".join(c.evidence),
                      " ".join(c.cases), ", ".join(c.topics), status or "not invited")
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(knowledge, name="knowledge")
    app.add_typer(cli, name="answers")
