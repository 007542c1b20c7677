"""`ev report`: the stakeholder report as HTML, PDF or CSV, written or delivered, once or on a
schedule.

    ev report --period 7d --format html --out week.html
    ev report --period 30d --format pdf --email cmo@example.com      # EV_NOTIFY_SMTP host:port
    ev report --period 7d --format csv --webhook https://hooks.example/reports
    ev report --period 7d --format pdf --email team@example.com --every 7d   # runs until stopped
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer

from escapevelocity.cli.common import fail, open_workspace

FORMATS = ("html", "pdf", "csv")


def _seconds(text: str) -> float:
    units = {"m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or int(text[:-1]) < 1:
        raise ValueError(f"--every {text[:20]!r}: write 30m, 12h or 7d")
    return int(text[:-1]) * units[text[-1]]


def build(ws, period_text: str, fmt: str) -> tuple[bytes, str, dict]:
    """(document, MIME type, figures as JSON values) for `period_text`, now."""
    from escapevelocity.domain import goals as goal_maths
    from escapevelocity.domain import kpis
    from escapevelocity.services import goals as goal_store
    from escapevelocity.services import reports
    from escapevelocity.web import report_render, report_view

    now = ws.clock.now()
    period = kpis.parse_period(period_text, now)
    try:
        goals = goal_store.load(ws.store)
    except goal_maths.GoalsError:
        goals = None
    from escapevelocity.services import answers

    ctx = report_view.context(reports.report(ws.store, period, now, goals), period_text)
    ctx["community"] = answers.period_figures(ws.store, period)
    title = f"Social care report, {period.start} to {period.end}"
    if fmt == "csv":
        return report_render.figures_csv(ctx).encode(), "text/csv", ctx["values"]
    document = report_render.html(ctx, title)
    if fmt == "pdf":
        return report_render.pdf(document), "application/pdf", ctx["values"]
    return document.encode(), "text/html", ctx["values"]


def deliver(data: bytes, mime: str, values: dict, period_text: str, fmt: str, *,
            out: Path | None, email: list[str], webhook: str | None) -> list[str]:
    """Write and send; what happened, one line each (a failed delivery is a line, not a
    crash: a schedule goes on)."""
    from escapevelocity.adapters.notify.pager import post_json, send_mail

    done = []
    name = f"report-{period_text}.{fmt}"
    if out is not None:
        out.write_bytes(data)
        done.append(f"wrote {out} ({len(data):,} bytes)")
    if email:
        smtp = os.environ.get("EV_NOTIFY_SMTP") or os.environ.get("EV_PAGE_SMTP")
        if not smtp:
            raise ValueError("--email needs EV_NOTIFY_SMTP=host[:port]")
        host, _, port = smtp.partition(":")
        sender = os.environ.get("EV_NOTIFY_FROM") or "escapevelocity@localhost"
        lines = "\n".join(f"{k}: {v}" for k, v in values.items())
        subject = f"Escape Velocity report ({period_text})"
        for to in email:
            error = send_mail(host, int(port or 25), sender, to, subject,
                              f"{subject}\n\n{lines}\n",
                              html=data.decode() if fmt == "html" else None,
                              attachments=[] if fmt == "html" else [(name, mime, data)])
            done.append(f"emailed {to}" if error is None else f"email to {to} failed: {error}")
    if webhook:
        body = {"period": period_text, "values": values, "format": fmt}
        if fmt in ("html", "csv"):
            body["document"] = data.decode()
        status = post_json(webhook, json.dumps(body).encode(), 10.0)
        done.append(f"webhook HTTP {status}")
    return done


def report(period: str = typer.Option("7d", "--period", help="7d, 30d or "
                                      "YYYY-MM-DD..YYYY-MM-DD"),
           fmt: str = typer.Option("html", "--format", help="html, pdf or csv"),
           out: Path = typer.Option(None, "--out", help="write the report to this file"),
           email: list[str] = typer.Option([], "--email", help="send to this address "
                                            "(repeat; SMTP from EV_NOTIFY_SMTP)"),
           webhook: str = typer.Option(None, "--webhook", help="POST the figures (and the "
                                       "HTML or CSV) as JSON to this URL"),
           every: str = typer.Option(None, "--every", help="repeat every 30m / 12h / 7d "
                                     "until stopped"),
           times: int = typer.Option(0, "--times", help="with --every: stop after this many "
                                     "reports (0: never)"),
           database: str = typer.Option(None, help="database URL")) -> None:
    """The stakeholder report: KPIs against goals, comparison with the previous period,
    charts and tables."""
    if fmt not in FORMATS:
        raise fail(f"--format is one of {', '.join(FORMATS)}")
    pause = _seconds(every) if every else None
    ws = open_workspace(database)
    if out is None and not email and not webhook:
        out = Path(f"report-{period.replace('..', '_')}.{fmt}")
    n = 0
    while True:
        data, mime, values = build(ws, period, fmt)
        for line in deliver(data, mime, values, period, fmt, out=out, email=email,
                            webhook=webhook):
            typer.echo(line)
        n += 1
        if pause is None or (times and n >= times):
            return
        time.sleep(pause)


def goals(set_: Path = typer.Option(None, "--set", help="replace the goals with this YAML "
                                   "file (validated; recorded in the audit log)"),
          actor: str = typer.Option("cli", "--as", help="who is saving, for the audit log"),
          database: str = typer.Option(None, help="database URL")) -> None:
    """Print the workspace's business goals and KPI targets (YAML), or replace them."""
    from escapevelocity.domain.goals import GoalsError
    from escapevelocity.services import goals as goal_store

    ws = open_workspace(database)
    if set_ is None:
        typer.echo(goal_store.text(ws.store), nl=False)
        return
    from escapevelocity.cli.common import existing_file

    try:
        parsed = goal_store.save(ws.store, existing_file(set_).read_text(encoding="utf-8"),
                                 actor, ws.clock.now())
    except GoalsError as exc:
        raise fail(f"goals: {exc}") from None
    typer.echo(f"saved {len(parsed.goals)} goal(s)")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.command("goals")(goals)
