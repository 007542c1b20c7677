"""`ev playbook`: check, explain, diff, diagram and schema — the playbook's tools — and its
versions in a workspace: save, versions, activate, approve, reject.

Each command reads files and calls the pure playbook modules; nothing here decides anything.
Signals come from the real Enricher when it is available, and explicit options override them.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from escapevelocity.domain import yamlsafe
from escapevelocity.domain.playbook import (
    Context,
    Playbook,
    PlaybookError,
    json_schema_text,
    load_playbook,
)
from escapevelocity.domain.records import Decision, Mention, Signals

app = typer.Typer(help="Check, explain, diff and draw playbooks.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)


# The playbook tools need no workspace, so they do not import cli.common (which builds on the
# whole service layer); these three helpers mirror its behaviour.
def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def existing_file(path: Path) -> Path:
    if not path.is_file():
        raise fail(f"{path}: no such file")
    return path


def package_file(*parts: str) -> Path:
    from importlib.resources import files

    return Path(str(files("escapevelocity").joinpath(*parts)))


def _load(path: Path) -> Playbook:
    try:
        return load_playbook(str(existing_file(path)))
    except PlaybookError as exc:
        raise fail(str(exc)) from None


def _enricher(vocabulary: Path | None) -> Any | None:
    """The workspace Enricher, or None while domain/enrich.py is not there."""
    try:
        from escapevelocity.domain.enrich import Enricher
        from escapevelocity.domain.vocabulary import Vocabulary
    except ImportError:
        return None
    path = vocabulary or package_file("demo", "vocabulary.yaml")
    data = yamlsafe.load(path.read_text()) if path.exists() else {}
    return Enricher(Vocabulary.from_dict(data or {}))


NEUTRAL = Signals(sentiment=0.0, sentiment_label="neutral", situation="other",
                  situations=("other",))


def _signals(enricher: Any | None, mention: Mention, overrides: dict[str, Any]) -> Signals:
    base = enricher.enrich(mention) if enricher is not None else NEUTRAL
    changes = {k: v for k, v in overrides.items() if v is not None}
    if "situation" in changes and "situations" not in changes:
        changes["situations"] = (changes["situation"],)
    return msgspec.structs.replace(base, **changes) if changes else base


# --- check ------------------------------------------------------------------------------------

@app.command("check")
def check_command(
    file: Path = typer.Argument(None, help="playbook YAML (default: the workspace's active "
                                           "playbook)", show_default=False),
    org: Path = typer.Option(None, help="organisation YAML whose team ids the playbook must use"),
    as_json: bool = typer.Option(False, "--json", help="print the report as JSON"),
    gaps: int = typer.Option(20, help="gap groups to list (0: none)"),
    database: str = typer.Option(None, "--database", help="database URL, when no FILE is given "
                                 "(default: EV_DATABASE_URL)"),
) -> None:
    """Schema errors with line numbers, rules that can never fire, gaps, contradictions,
    unknown or unused teams, templates and lists. Exit code 1 when there are errors. With no
    FILE, the workspace's active playbook is checked against its organisation's teams."""
    from escapevelocity.domain.playbook_check import as_dict, check_source

    teams = None
    if org is not None:
        data = yamlsafe.load(existing_file(org).read_text()) or {}
        teams = {t["id"] for t in data.get("teams", []) if isinstance(t, dict) and "id" in t}
    if file is None:
        ws = _store(database)
        with ws.store.begin() as tx:
            active = tx.playbooks.active()
            if teams is None:
                teams = {t.id for t in tx.org.load().teams} or None
        if active is None:
            raise fail("this workspace has no active playbook: run `ev workspace init`, or "
                       "give a FILE")
        text, source = active[1], f"active playbook v{active[0]}"
    else:
        text, source = existing_file(file).read_text(encoding="utf-8"), str(file)
    report = check_source(text, source=source, teams=teams)
    if as_json:
        print(json.dumps(as_dict(report), indent=1, default=str))
        raise typer.Exit(0 if report.ok else 1)
    for f in report.findings:
        colour = "red" if f.severity == "error" else "yellow"
        where = f.where(source) or source
        rule = f"rule {f.rule!r}: " if f.rule else ""
        out.print(Text.assemble((f"{where}: ", "bold"), (f"{f.severity}", f"bold {colour}"),
                                f" [{f.code}] {rule}{f.message}"))
    if report.gaps and gaps:
        table = Table(title=f"Gaps: plain mentions that fall to the default "
                            f"({report.gap_cells:,} of {report.cells:,} combinations)",
                      title_justify="left")
        for col in ("situation", "sentiment", "author class", "channels", "message types"):
            table.add_column(col)
        from escapevelocity.domain.records import CHANNELS, KINDS

        for g in report.gaps[:gaps]:
            table.add_row(g.situation, g.sentiment, g.author_class,
                          "any" if len(g.channels) == len(CHANNELS) else ", ".join(g.channels),
                          "any" if len(g.kinds) == len(KINDS) else ", ".join(g.kinds))
        if len(report.gaps) > gaps:
            table.caption = f"… and {len(report.gaps) - gaps} more groups (--gaps N)"
        out.print(table)
    pb = report.playbook
    summary = (f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
               + (f"; {len(pb.spec.rules)} rules, {len(pb.spec.tracks)} tracks, version "
                  f"{_digest(text)}" if pb else ""))
    out.print(Text(summary, style="bold red" if report.errors else "bold green"))
    raise typer.Exit(0 if report.ok else 1)


def _digest(text: str) -> str:
    from escapevelocity.domain.playbook import version_of

    return version_of(yamlsafe.load(text))


# --- explain ----------------------------------------------------------------------------------

@app.command("explain")
def explain_command(
    file: Path = typer.Argument(..., help="playbook YAML"),
    text: str = typer.Option(..., "--text", help="the mention's text"),
    author: str = typer.Option("someone", help="author handle"),
    followers: int = typer.Option(0, help="author reach"),
    verified: bool = typer.Option(False, help="author is verified"),
    channel: str = typer.Option("twitter", help="channel"),
    kind: str = typer.Option("post", help="message type: post, reply, dm, review, comment"),
    at: str = typer.Option(None, help="time of the mention, ISO 8601 (default: now, UTC)"),
    situation: str = typer.Option(None, help="override the enriched primary situation"),
    sentiment: str = typer.Option(None, help="override the sentiment label"),
    score: float = typer.Option(None, help="override the sentiment score (-1 … 1)"),
    author_class: str = typer.Option(None, help="override the author class"),
    pii: list[str] = typer.Option(None, help="override PII kinds found (repeatable)"),
    urgency: int = typer.Option(None, help="override urgency 0 … 3"),
    language: str = typer.Option(None, help="override the language"),
    crisis_level: str = typer.Option("normal", help="normal, watch, crisis1 … crisis3"),
    author_history: int = typer.Option(0, help="earlier mentions by this author"),
    case_history: int = typer.Option(0, help="earlier mentions in this case"),
    known_customer: bool = typer.Option(False, help="author is a known customer"),
    vip: bool = typer.Option(False, help="author is a VIP"),
    vocabulary: Path = typer.Option(None, help="workspace vocabulary YAML for enrichment"),
) -> None:
    """The decision for one mention and, for every rule considered, why it matched or not."""
    pb = _load(file)
    when = datetime.fromisoformat(at) if at else datetime.now(UTC)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    try:
        from escapevelocity.services.parse import from_object

        mention = from_object({"source_id": "explain", "channel": channel, "kind": kind,
                               "text": text, "created_at": when.isoformat(),
                               "author": {"handle": author, "followers": followers,
                                          "verified": verified}})
    except (ValueError, msgspec.ValidationError) as exc:
        raise fail(str(exc)) from None
    from escapevelocity.domain.playbook.spec import LEVELS, SENTIMENTS, SITUATIONS

    for flag, value, allowed in (("--situation", situation, SITUATIONS),
                                 ("--sentiment", sentiment, SENTIMENTS),
                                 ("--crisis-level", crisis_level, LEVELS)):
        if value is not None and value not in allowed:
            raise fail(f"{flag} {value!r} is not one of: {', '.join(allowed)}")
    enricher = _enricher(vocabulary)
    if enricher is None:
        err.print("[yellow]enrichment is not available: signals are neutral/other unless given "
                  "with --situation, --sentiment, --author-class …[/]")
    signals = _signals(enricher, mention, {
        "situation": situation, "sentiment_label": sentiment, "sentiment": score,
        "author_class": author_class, "pii": tuple(pii) if pii else None, "urgency": urgency,
        "language": language})
    context = Context(crisis_level=crisis_level, author_history=author_history,
                      case_history=case_history, known_customer=known_customer, vip=vip, now=when)
    show_explanation(pb, mention, signals, context)


def show_explanation(pb: Playbook, mention: Mention, signals: Signals, context: Context) -> None:
    ex = pb.explain(mention, signals, context)
    out.print(f"[bold]{pb.name}[/] ({pb.version}) — crisis level {context.crisis_level}")
    out.print(Text(f"mention: {mention.text[:300]}"))
    out.print(f"signals: situation {'/'.join(signals.situations or (signals.situation,))}, "
              f"sentiment {signals.sentiment_label} ({signals.sentiment:+.2f}), author "
              f"{signals.author_class}, urgency {signals.urgency}, language {signals.language}, "
              f"PII {', '.join(signals.pii) or 'none'}", highlight=False)
    table = Table(title="Rules considered, in order", title_justify="left")
    for col in ("rule", "line", "matched", "why"):
        table.add_column(col)
    for step in ex.steps:
        why = Text()
        for i, check in enumerate(step.checks):
            if i:
                why.append("\n")
            mark = ("✓ ", "green") if check.result else ("✗ ", "red")
            why.append("  " * check.depth)
            why.append(*mark)
            why.append(check.text)
            if check.observed:
                why.append(f"  (was {check.observed})", style="dim")
        if not step.checks:
            why.append("always")
        verdict = ("yes, decides" if step.rule.then.stop else "yes, adds tags") \
            if step.matched else "no"
        origin = "" if step.rule.origin == "hub" else f" [{step.rule.origin}]"
        table.add_row(step.rule.id + origin, str(step.rule.line or ""),
                      Text(verdict, style="green" if step.matched else "red"), why)
    out.print(table)
    d = ex.decision
    out.print(f"[bold]decision[/] by rule [bold]{d.rule_id}[/]: track {d.track}, team {d.team}, "
              f"{'respond ' + d.visibility if d.respond else 'no response (' + d.reason + ')'}, "
              f"priority {d.priority}, SLA {d.sla_minutes} min"
              + (f", approval {d.approval}" if d.approval else "")
              + (f", template {d.template}" if d.template else ""), highlight=False)
    extras = [f"tags {', '.join(d.tags)}" if d.tags else "",
              f"flags {', '.join(d.flags)}" if d.flags else "",
              f"notify {', '.join(d.notify)}" if d.notify else ""]
    if any(extras):
        out.print("; ".join(e for e in extras if e), highlight=False)
    if d.template:
        out.print(Text("first response: " + pb.template_text(d.template), style="italic"))


# --- diff -------------------------------------------------------------------------------------

FIELDS = ("track", "team", "respond", "sla_minutes")


def replay(old: Playbook, new: Playbook, mentions: list[Mention], enricher: Any | None,
           context: Context = Context()) -> list[tuple[Mention, Decision, Decision]]:
    """Both versions' decisions for each mention, at each mention's own time."""
    rows = []
    for m in mentions:
        signals = _signals(enricher, m, {})
        ctx = dataclasses.replace(context, now=m.created_at)
        rows.append((m, old.decide(m, signals, ctx), new.decide(m, signals, ctx)))
    return rows


def changes(a: Decision, b: Decision) -> dict[str, tuple[Any, Any]]:
    return {f: (getattr(a, f), getattr(b, f)) for f in FIELDS if getattr(a, f) != getattr(b, f)}


@app.command("diff")
def diff_command(
    old: Path = typer.Argument(..., help="the current playbook YAML"),
    new: Path = typer.Argument(..., help="the proposed playbook YAML"),
    replay_file: Path = typer.Option(..., "--replay", help="mentions (JSONL or CSV) to replay"),
    limit: int = typer.Option(50, help="changed mentions to list (0: none)"),
    crisis_level: str = typer.Option("normal", help="crisis level to replay at"),
    as_json: bool = typer.Option(False, "--json", help="one JSON line per changed mention"),
    vocabulary: Path = typer.Option(None, help="workspace vocabulary YAML for enrichment"),
) -> None:
    """Which mentions change track, team, respond or SLA between two versions."""
    from escapevelocity.services.parse import Problem, read_file

    a, b = _load(old), _load(new)
    mentions, problems = [], 0
    for item in read_file(existing_file(replay_file)):
        if isinstance(item, Problem):
            problems += 1
            err.print(f"[yellow]{replay_file}:{item.line}[/]: {item.reason}", highlight=False)
        else:
            mentions.append(item)
    enricher = _enricher(vocabulary)
    if enricher is None:
        err.print("[yellow]enrichment is not available: every mention gets neutral/other "
                  "signals[/]")
    rows = replay(a, b, mentions, enricher, Context(crisis_level=crisis_level))
    changed = [(m, x, y, changes(x, y)) for m, x, y in rows]
    changed = [c for c in changed if c[3]]
    if as_json:
        for m, x, y, diff in changed:
            print(json.dumps({"mention": m.key, "old_rule": x.rule_id, "new_rule": y.rule_id,
                              **{f: {"old": o, "new": n} for f, (o, n) in diff.items()}}))
        return
    per_field = Counter(f for *_, diff in changed for f in diff)
    out.print(Text(f"{old.name} → {new.name}: {len(changed):,} of {len(rows):,} mentions "
                   "change", style="bold"))
    table = Table()
    table.add_column("field")
    table.add_column("mentions changed", justify="right")
    table.add_column("share", justify="right")
    for f in FIELDS:
        n = per_field.get(f, 0)
        table.add_row(f, f"{n:,}", f"{n / len(rows):.1%}" if rows else "-")
    out.print(table)
    moves = Counter((x.track, y.track) for _, x, y, d in changed if "track" in d)
    if moves:
        t = Table(title="Track moves", title_justify="left")
        for col in ("from", "to", "mentions"):
            t.add_column(col)
        for (src, dst), n in moves.most_common():
            t.add_row(src, dst, f"{n:,}")
        out.print(t)
    for m, x, y, diff in changed[:limit]:
        words = ", ".join(f"{f} {o} → {n}" for f, (o, n) in diff.items())
        out.print(Text.assemble((m.key, "bold"), f"  {x.rule_id} → {y.rule_id}: {words}  ",
                                (repr(m.text[:80]), "dim")))
    if len(changed) > limit > 0:
        out.print(f"… and {len(changed) - limit:,} more (--limit N)")
    if problems:
        out.print(f"[yellow]{problems} line(s) skipped[/]")


# --- diagram and schema -----------------------------------------------------------------------

@app.command("diagram")
def diagram_command(
    file: Path = typer.Argument(..., help="playbook YAML"),
    out_dir: Path = typer.Option(None, "--out", help="write NAME.mmd, NAME.svg and NAME.html here"),
) -> None:
    """A flowchart: Mermaid text on stdout, or Mermaid, SVG and a printable HTML page."""
    from escapevelocity.domain.playbook_diagram import html_page, mermaid, svg

    pb = _load(file)
    if out_dir is None:
        print(mermaid(pb), end="")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file.stem
    for suffix, body in ((".mmd", mermaid(pb)), (".svg", svg(pb)), (".html", html_page(pb))):
        (out_dir / f"{stem}{suffix}").write_text(body, encoding="utf-8")
        out.print(f"wrote {out_dir / (stem + suffix)}")


@app.command("schema")
def schema_command() -> None:
    """Print the playbook JSON Schema (the same as playbooks/schema.json)."""
    print(json_schema_text(), end="")


# --- versions in a workspace: save, list, activate, approve, reject ---------------------------
# The rules live in services/playbooks.py; these commands only parse and print.

DATABASE = typer.Option(None, "--database", help="database URL (default: EV_DATABASE_URL)")


def _workflow(step: Any) -> Any:
    """Run one workflow step; refusals become one clear error line and exit code 1."""
    from escapevelocity.domain.permissions import PermissionDenied
    from escapevelocity.services.playbooks import PlaybookWorkflowError

    try:
        return step()
    except (PlaybookError, PlaybookWorkflowError, PermissionDenied) as exc:
        from rich.markup import escape

        raise fail(escape(str(exc))) from None


def _store(database: str | None) -> Any:
    from escapevelocity.cli.common import open_workspace

    return open_workspace(database)


def _done(outcome: Any) -> None:
    colour = {"active": "green", "pending": "yellow"}.get(outcome.status, "cyan")
    out.print(Text(outcome.message, style=f"bold {colour}"))


@app.command("save")
def save_command(
    file: Path = typer.Argument(..., help="playbook YAML"),
    author: str = typer.Option(..., "--author", help="member id of the author"),
    note: str = typer.Option(..., "--note", help="what changed, for the version list"),
    activate: bool = typer.Option(False, "--activate",
                                  help="also activate it (or ask for the approval it needs)"),
    database: str = DATABASE,
) -> None:
    """Save FILE as a new version. A broken playbook is refused (file, line, rule) and never
    replaces the active one."""
    from escapevelocity.services import playbooks

    source = existing_file(file).read_text(encoding="utf-8")
    ws = _store(database)
    _done(_workflow(lambda: playbooks.save(ws.store, ws.clock, source, member=author,
                                           note=note, activate=activate, origin=str(file))))


@app.command("versions")
def versions_command(
    as_json: bool = typer.Option(False, "--json", help="print the versions as JSON"),
    database: str = DATABASE,
) -> None:
    """Every saved version, newest first: author, time, note, status and who approved."""
    from escapevelocity.services import playbooks

    ws = _store(database)
    rows = playbooks.versions(ws.store)
    if as_json:
        keep = ("number", "name", "author", "note", "created_at", "status", "approver",
                "requested_by", "decided_by", "decision_note", "approved_by", "activated_by",
                "activated_at")
        print(json.dumps([{k: getattr(v, k) for k in keep} for v in rows], indent=1,
                         default=str))
        return
    if not rows:
        out.print("no playbook version is saved yet: run `ev workspace init`")
        return
    table = Table(title="Playbook versions", title_justify="left")
    for col in ("v", "status", "saved (UTC)", "author"):
        table.add_column(col, no_wrap=True)
    for col in ("name", "note", "approval"):
        table.add_column(col, ratio=1)
    style = {"active": "bold green", "pending": "yellow", "rejected": "red"}
    for v in rows:  # Text cells: names and notes are shown as written, never as markup
        table.add_row(str(v.number), Text(v.status, style=style.get(v.status, "")),
                      f"{v.created_at:%Y-%m-%d %H:%M}", Text(v.author), Text(v.name),
                      Text(v.note), Text(_approval(v)))
    out.print(table)


def _approval(v: Any) -> str:
    if v.status == "pending":
        return f"awaits {v.approver} (asked by {v.requested_by})"
    if v.decided_by and v.status == "rejected":
        return f"rejected by {v.decided_by}: {v.decision_note}"
    if v.approved_by:
        return f"approved by {v.approved_by} ({v.approver})" + (
            f": {v.decision_note}" if v.decision_note else "")
    return ""


@app.command("activate")
def activate_command(
    version: int = typer.Argument(..., help="version number (see `ev playbook versions`)"),
    by: str = typer.Option(..., "--by", help="member id of who activates"),
    note: str = typer.Option("", "--note", help="a note for the approver"),
    database: str = DATABASE,
) -> None:
    """Make VERSION the active playbook, or ask for the approval its activation needs."""
    from escapevelocity.services import playbooks

    ws = _store(database)
    _done(_workflow(lambda: playbooks.activate(ws.store, ws.clock, version, member=by,
                                               note=note)))


@app.command("approve")
def approve_command(
    version: int = typer.Argument(...),
    by: str = typer.Option(..., "--by", help="member id of the approver"),
    note: str = typer.Option("", "--note"),
    database: str = DATABASE,
) -> None:
    """Approve the pending activation of VERSION; it becomes the active playbook."""
    from escapevelocity.services import playbooks

    ws = _store(database)
    _done(_workflow(lambda: playbooks.approve(ws.store, ws.clock, version, member=by,
                                              note=note)))


@app.command("reject")
def reject_command(
    version: int = typer.Argument(...),
    by: str = typer.Option(..., "--by", help="member id of the approver"),
    note: str = typer.Option(..., "--note", help="why, for the author"),
    database: str = DATABASE,
) -> None:
    """Refuse the pending activation of VERSION; the active playbook stays."""
    from escapevelocity.services import playbooks

    ws = _store(database)
    _done(_workflow(lambda: playbooks.reject(ws.store, ws.clock, version, member=by,
                                             note=note)))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="playbook")

