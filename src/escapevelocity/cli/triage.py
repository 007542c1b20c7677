"""`ev triage FILE`: decisions for a file of mentions, with no server and no database."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from escapevelocity.cli.common import err, existing_file, fail, package_file
from escapevelocity.domain import yamlsafe
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.org import load_org
from escapevelocity.domain.playbook import PlaybookError, load_playbook
from escapevelocity.domain.records import Mention
from escapevelocity.domain.routing import RoutingState
from escapevelocity.domain.triage import Triager
from escapevelocity.domain.vocabulary import Vocabulary
from escapevelocity.services.parse import Problem, read_file


def build_triager(playbook: Path | None, org: Path | None, vocabulary: Path | None,
                  brand: Path | None = None) -> Triager:
    try:
        pb = load_playbook(str(playbook or package_file("playbooks", "default.yaml")))
    except PlaybookError as exc:
        raise fail(str(exc)) from None
    org_data = yamlsafe.load((org or package_file("demo", "org.yaml")).read_text())
    vocab_path = vocabulary or package_file("demo", "vocabulary.yaml")
    vocab = Vocabulary.from_dict(yamlsafe.load(vocab_path.read_text()) if vocab_path.exists()
                                 else {})
    from escapevelocity.domain.brand import BrandError, BrandProfile, parse_yaml

    try:
        profile = parse_yaml(existing_file(brand).read_text(encoding="utf-8")) if brand \
            else BrandProfile()
    except BrandError as exc:
        raise fail(f"{brand}: {exc}") from None
    return Triager(Enricher(vocab), pb, load_org(org_data), profile)


def decision_record(t) -> dict:
    s, d, a = t.signals, t.decision, t.assignment
    return {  # tuples encode as JSON arrays: no copies
        "mention": t.mention.key,
        "signals": {"sentiment": round(s.sentiment, 3), "sentiment_label": s.sentiment_label,
                    "situation": s.situation, "situations": s.situations,
                    "author_class": s.author_class, "pii": s.pii, "language": s.language,
                    "urgency": s.urgency, "topics": s.topics},
        "track": d.track, "respond": d.respond, "reason": d.reason or None,
        "channel": d.visibility, "team": a.team, "assignee": a.member, "priority": d.priority,
        "sla_minutes": d.sla_minutes, "rule": d.rule_id, "playbook_version": d.playbook_version,
        "explanation": d.explanation, "routing": a.explanation,
    }


FLUSH_BYTES = 1 << 16


def write_decisions(items: Iterable[Mention | Problem], triager: Triager, out: BinaryIO,
                    on_problem: Callable[[Problem], None] | None = None,
                    on_record: Callable[[dict], None] | None = None) -> int:
    """The `ev triage` loop: one JSON line per good mention, encoded into one buffer that is
    written in 64 KiB chunks (or `on_record` per decision, for the summary). Returns the
    number of mentions triaged. Everyone in the organisation counts as online; the time is
    each mention's own time."""
    state = RoutingState(presence={m.id: "online" for m in triager.org.members})
    encode_into = msgspec.json.Encoder().encode_into
    triage = triager.triage
    buf = bytearray()
    count = 0
    for item in items:
        if isinstance(item, Problem):
            if on_problem:
                on_problem(item)
            continue
        record = decision_record(triage(item, state, item.created_at))
        count += 1
        if on_record is not None:
            on_record(record)
            continue
        encode_into(record, buf, -1)
        buf += b"\n"
        if len(buf) >= FLUSH_BYTES:
            out.write(buf)
            buf.clear()
    if buf:
        out.write(buf)
    return count


def triage_command(
    file: Path = typer.Argument(..., help="mentions as JSONL (one object per line) or CSV"),
    summary: bool = typer.Option(False, "--summary", help="print a table instead of JSON lines"),
    playbook: Path = typer.Option(None, help="playbook YAML (default: the shipped default)"),
    org: Path = typer.Option(None, help="organisation YAML (default: the demo organisation)"),
    vocabulary: Path = typer.Option(None, help="workspace vocabulary YAML"),
    brand: Path = typer.Option(None, help="brand profile YAML (name, handles, products, …)"),
    fmt: str = typer.Option("auto", "--format", help="auto | mentions | twcs (the Customer "
                            "Support on Twitter columns; auto detects them)"),
) -> None:
    """Print one JSON decision per mention (or a summary table). No server, no database.

    Everyone in the organisation counts as online; the time is each mention's own time.
    """
    from escapevelocity.services.parse import FORMATS

    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    triager = build_triager(playbook, org, vocabulary, brand)
    counts: dict[str, Counter] = {k: Counter() for k in ("track", "team", "situation", "rule",
                                                         "respond")}
    problems = 0

    def problem(item: Problem) -> None:
        nonlocal problems
        problems += 1
        err.print(f"[yellow]{file}:{item.line}[/]: {item.reason}", highlight=False, soft_wrap=True)

    def tally(record: dict) -> None:
        for k in ("track", "team", "rule"):
            counts[k][record[k]] += 1
        counts["situation"][record["signals"]["situation"]] += 1
        counts["respond"]["respond" if record["respond"] else "no response"] += 1

    out = sys.stdout.buffer
    done = write_decisions(read_file(existing_file(file), fmt), triager, out, problem,
                           tally if summary else None)
    out.flush()
    if done == 0:
        err.print(f"no mention could be triaged ({problems} bad line(s)): see the reasons above")
        raise typer.Exit(2)
    if summary:
        _print_summary(counts, problems)
    elif problems:
        err.print(f"{problems} line(s) skipped; the other {done} were triaged")


def _print_summary(counts: dict[str, Counter], problems: int) -> None:
    console = Console()
    total = sum(counts["track"].values())
    for name, counter in counts.items():
        table = Table(title=f"{name} ({total} mentions)", title_justify="left")
        table.add_column(name)
        table.add_column("mentions", justify="right")
        table.add_column("share", justify="right")
        for key, n in counter.most_common():
            table.add_row(str(key), str(n), f"{n / total:.1%}" if total else "-")
        console.print(table)
    if problems:
        console.print(f"[yellow]{problems} line(s) skipped[/] (see messages above)")


def register(app: typer.Typer) -> None:
    app.command("triage")(triage_command)
