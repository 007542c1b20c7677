"""`ev playbook …` in-process, the diagram output, and the bench's agreement with rule-engine."""

import json
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from escapevelocity.cli import playbook as cli
from escapevelocity.domain.playbook import default_playbook_path, load_playbook
from escapevelocity.domain.playbook_diagram import html_page, mermaid, svg
from escapevelocity.domain.records import CHANNELS

DEFAULT = default_playbook_path()
runner = CliRunner()


@pytest.fixture(scope="module")
def app():
    root = typer.Typer()
    cli.register(root)

    @root.callback()
    def _root() -> None:
        pass

    return root


def run(app, *args):
    return runner.invoke(app, ["playbook", *args], env={"COLUMNS": "200"})


def test_check_default_passes(app):
    result = run(app, "check", DEFAULT)
    assert result.exit_code == 0, result.output
    assert "0 error(s)" in result.output


def test_check_reports_file_line_rule_and_fails(app, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(DEFAULT).read_text().replace(
        "when: {author_class: journalist}", "when: {author_class: jornalist}"))
    line = next(i for i, text in enumerate(bad.read_text().splitlines(), 1)
                if "jornalist" in text)
    result = run(app, "check", str(bad))
    assert result.exit_code == 1
    assert re.search(rf"{re.escape(str(bad))}:{line}: error \[schema\] rule 'journalist': "
                     r"unknown author_class \['jornalist'\]", result.output), result.output


def test_check_json(app):
    result = run(app, "check", DEFAULT, "--json")
    data = json.loads(result.output)
    assert data["ok"] is True and data["cells"] == 12 * 3 * 9 * len(CHANNELS) * 5


def test_check_org_teams(app, tmp_path):
    org = tmp_path / "org.yaml"
    org.write_text("teams:\n  - {id: care}\n  - {id: hub}\n")
    result = run(app, "check", DEFAULT, "--org", str(org))
    assert result.exit_code == 1 and "team 'legal' is not in the organisation" in result.output


def test_explain_traces_each_rule(app):
    result = run(app, "explain", DEFAULT, "--text", "my lawyer will hear of this",
                 "--situation", "complaint", "--sentiment", "negative", "--author-class",
                 "customer", "--at", "2026-11-20T10:00:00+00:00")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "legal-threat" in out and "yes, decides" in out
    assert "keywords list:legal_terms" in out and "was lawyer" in out
    assert "decision by rule legal-threat: track legal_review" in out
    assert "journalist" not in out.split("Rules considered")[1].split("decision")[0]


def test_diff_lists_changed_mentions(app, tmp_path):
    mentions = tmp_path / "m.jsonl"
    mentions.write_text("\n".join(json.dumps(
        {"source_id": str(i), "channel": "twitter", "text": t, "author": f"u{i}",
         "created_at": "2026-11-20T10:00:00Z"}) for i, t in enumerate(
        ["my lawyer will call", "hello there", "my phone caught fire"])) + "\n")
    new = tmp_path / "new.yaml"
    new.write_text(Path(DEFAULT).read_text().replace(
        "track: legal_review, template: empathy", "track: support, template: empathy"))
    result = run(app, "diff", DEFAULT, str(new), "--replay", str(mentions))
    assert result.exit_code == 0, result.output
    assert "1 of 3 mentions change" in result.output
    assert "twitter:0" in result.output and "legal_review → support" in result.output
    result = run(app, "diff", DEFAULT, str(new), "--replay", str(mentions), "--json")
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("{")]
    assert lines == [{"mention": "twitter:0", "old_rule": "legal-threat",
                      "new_rule": "legal-threat", "track": {"old": "legal_review",
                                                            "new": "support"},
                      "team": {"old": "legal", "new": "care"}}]


def test_diagram_writes_mermaid_svg_and_html(app, tmp_path):
    result = run(app, "diagram", DEFAULT, "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "default.mmd").read_text().startswith("flowchart TD")
    page = (tmp_path / "default.html").read_text()
    assert "<svg" in page and "<script" not in page and "http://" not in page.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_diagram_escapes_hostile_text_and_shows_hits():
    pb = load_playbook(DEFAULT)
    hits = {"spam": 3, "default": 1}
    drawn = svg(pb, hits)
    assert "3 hits (75%)" in drawn and "default (no rule matched) — 1 hits" in drawn
    assert drawn.count('class="rule"') == len(pb.rules)
    evil = Path(DEFAULT).read_text().replace("name: Default playbook",
                                             'name: "<script>alert(1)</script>"')
    from escapevelocity.domain.playbook import compile_playbook
    bad = compile_playbook(evil)
    assert "<script>" not in html_page(bad) and "<script>" not in mermaid(bad)


def test_schema_command_prints_the_shipped_schema(app):
    result = run(app, "schema")
    shipped = Path(cli.package_file("playbooks", "schema.json")).read_text()
    assert result.output == shipped


def test_bench_agrees_with_rule_engine_on_a_small_run():
    pytest.importorskip("rule_engine")
    from escapevelocity.bench.playbook import run as bench

    result = bench(n=2_000, repeats=1, engine_n=200)
    assert result["rules"] == 60 and result["disagreements"] == 0
    assert result["ratio"] > 1
