"""`ev report`: HTML, CSV and PDF files of the same figures as the page; delivered by e-mail
through a real SMTP server (aiosmtpd) and to a local webhook; repeated on a schedule."""

from __future__ import annotations

import csv
import email
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from needs import require
from notify_kit import Receiver, smtp_inbox
from report_kit import fill, from_log
from typer.testing import CliRunner

from escapevelocity.cli.main import app
from escapevelocity.domain import kpis

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # conftest's NOW


@pytest.fixture
def filled(tmp_path, sqlite_copy):
    from web_kit import NOW

    from escapevelocity.domain.clock import FixedClock
    from escapevelocity.services.workspace import Workspace

    clock = FixedClock(NOW)  # the session's seeded demo workspace (seeded at NOW), copied
    ws = Workspace.open(sqlite_copy(tmp_path / "ev.db"), clock, migrate=False)
    fill(ws, clock, days=5, per_day=30, end=_now())  # ends at the CLI's real now
    yield ws
    ws.store.close()


def _now():
    return datetime.now(UTC)


def _run(ws, *args: str, env: dict | None = None):
    r = CliRunner().invoke(app, ["report", *args, "--database", ws.store.url], env=env)
    assert r.exit_code == 0, r.output
    return r.output


def test_html_and_csv_files_carry_the_figures_of_the_log(filled, tmp_path):
    _run(filled, "--period", "7d", "--format", "csv", "--out", str(tmp_path / "r.csv"))
    rows = {r[1]: r for r in csv.reader(io.StringIO((tmp_path / "r.csv").read_text()))}
    now = _now()
    p = kpis.Period.last(7, now)
    want = from_log(filled.store, p.start, p.end, now)
    assert rows["volume"][2] == f"{want['totals']['cases']:,}"
    assert rows["leads"][2] == f"{want['totals'].get('leads', 0):,}"
    every = list(csv.reader(io.StringIO((tmp_path / "r.csv").read_text())))
    topics = {r[0].removeprefix("volume by topic: "): int(r[2]) for r in every
              if r[1] == "topic_cases"}
    assert topics == {k or "no topic": sum(v.values()) for k, v in want["topics"].items()}
    _run(filled, "--period", "7d", "--format", "html", "--out", str(tmp_path / "r.html"))
    html = (tmp_path / "r.html").read_text()
    assert html.count("data:image/svg+xml;base64,") == 5 and "<script" not in html
    assert 'id="crisis-table"' in html and 'id="drill-scores-table"' in html
    assert 'href="/cases/' not in html  # no links back into the app from a file


def test_pdf_by_headless_chromium(filled, tmp_path):
    require(Path("/usr/bin/chromium").exists(), "Chromium at /usr/bin/chromium")
    _run(filled, "--period", "7d", "--format", "pdf", "--out", str(tmp_path / "r.pdf"))
    data = (tmp_path / "r.pdf").read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000


def test_emailed_and_posted_on_a_schedule(filled):
    with smtp_inbox() as (inbox, port), Receiver() as hook:
        out = _run(filled, "--period", "7d", "--format", "html", "--email", "cmo@example.test",
                   "--webhook", hook.url, "--every", "1m", "--times", "1",
                   env={"EV_NOTIFY_SMTP": f"127.0.0.1:{port}",
                        "EV_NOTIFY_FROM": "ev@example.test"})
        assert "emailed cmo@example.test" in out and "webhook HTTP 200" in out
        body = hook.json(0)
        assert body["period"] == "7d" and body["values"]["volume"] > 0
        assert "<html" in body["document"]
    [mail] = inbox.envelopes
    assert mail.rcpt_tos == ["cmo@example.test"]
    msg = email.message_from_bytes(mail.content)
    kinds = {part.get_content_type() for part in msg.walk()}
    assert {"text/plain", "text/html"} <= kinds


def test_goals_from_yaml_on_the_command_line(filled, tmp_path):
    from escapevelocity.services import goals

    (tmp_path / "g.yaml").write_text("goals:\n  - name: CSAT\n    kpis:\n"
                                     "      - {kpi: csat, target: 4}\n")
    r = CliRunner().invoke(app, ["goals", "--set", str(tmp_path / "g.yaml"), "--as", "sam",
                                 "--database", filled.store.url])
    assert r.exit_code == 0 and "saved 1 goal" in r.output
    assert "name: CSAT" in CliRunner().invoke(app, ["goals", "--database",
                                                    filled.store.url]).output
    (tmp_path / "bad.yaml").write_text("goals: [{name: x, kpis: [{kpi: vibes, target: 1}]}]")
    r = CliRunner().invoke(app, ["goals", "--set", str(tmp_path / "bad.yaml"),
                                 "--database", filled.store.url])
    assert r.exit_code == 1 and "no KPI 'vibes'" in r.output
    assert [e.actor for e in goals.history(filled.store)] == ["sam"]
