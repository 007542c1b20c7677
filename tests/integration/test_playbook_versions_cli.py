"""`ev playbook save / versions / activate / approve / reject` against a real workspace."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from escapevelocity.cli.main import app
from escapevelocity.domain.playbook import default_playbook_path

# the demo workspace is seeded with the demo playbook
SOURCE = (Path(default_playbook_path()).parent.parent / "demo" / "playbook.yaml").read_text()
NAME = "name: Orbit Telecom default playbook"


def ev(workspace, *args: str):
    result = CliRunner().invoke(app, ["playbook", *args, "--database", workspace.store.url],
                                env={"COLUMNS": "200"})
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


def test_save_versions_activate_with_approval(workspace, tmp_path):
    path = tmp_path / "legal.yaml"
    path.write_text(SOURCE.replace(NAME, "name: Legal checked\nactivation_approval: legal"))
    code, text = ev(workspace, "save", str(path), "--author", "sam", "--note", "legal signs",
                    "--activate")
    assert code == 0 and "version 2 awaits approval by legal (omar)" in text
    code, text = ev(workspace, "approve", "2", "--by", "priya")
    assert code == 1 and "priya may not approve version 2" in text
    code, text = ev(workspace, "approve", "2", "--by", "omar", "--note", "ok")
    assert code == 0 and "version 2 is now the active playbook" in text
    code, text = ev(workspace, "versions")
    assert code == 0 and "Legal checked" in text and "approved by omar (legal): ok" in text
    rows = json.loads(CliRunner().invoke(app, ["playbook", "versions", "--json", "--database",
                                                workspace.store.url]).stdout)
    assert [(r["number"], r["status"], r["author"]) for r in rows] == [
        (2, "active", "sam"), (1, "retired", "system")]


def test_clear_errors(workspace, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text(SOURCE.replace("then: {track: pr, tags: [misinformation]}",
                                     "then: {track: pr, tags: [misinformation], priority: x}"))
    code, text = ev(workspace, "save", str(broken), "--author", "sam", "--note", "n")
    assert code == 1 and f"{broken}:" in text and "rule 'misinformation'" in text
    code, text = ev(workspace, "save", str(tmp_path / "nope.yaml"), "--author", "sam",
                    "--note", "n")
    assert code == 1 and "no such file" in text
    good = tmp_path / "good.yaml"
    good.write_text(SOURCE.replace(NAME, "name: Second"))
    code, text = ev(workspace, "save", str(good), "--author", "priya", "--note", "n")
    assert code == 1 and "may not edit playbook" in text
    code, text = ev(workspace, "save", str(good), "--author", "sam", "--note", "second")
    assert code == 0 and "saved version 2" in text
    code, text = ev(workspace, "reject", "2", "--by", "omar", "--note", "no")
    assert code == 1 and "not awaiting approval" in text
    code, text = ev(workspace, "activate", "7", "--by", "sam")
    assert code == 1 and "no playbook version 7" in text
    code, text = ev(workspace, "activate", "2", "--by", "sam")
    assert code == 0 and "version 2 is now the active playbook" in text
