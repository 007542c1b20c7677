"""`--help` shows no <bool> type after on/off flags; `ev playbook check` with no file checks
the workspace's active playbook."""

import typer
from typer.testing import CliRunner

from escapevelocity.cli.main import app

runner = CliRunner()


def test_help_shows_no_bool_types():
    names = sorted(typer.main.get_command(app).commands)  # every command, as registered
    assert len(names) >= 20, names
    for name in names:
        r = runner.invoke(app, [name, "--help"])
        assert r.exit_code == 0, (name, r.output)
        assert "<bool>" not in r.output, name
    r = runner.invoke(app, ["workspace", "init", "--help"])
    assert "<bool>" not in r.output and "--demo" in r.output and "<path>" in r.output


def test_playbook_check_without_a_file_checks_the_active_one(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    r = runner.invoke(app, ["playbook", "check", "--database", url])
    assert r.exit_code != 0  # no workspace yet: says so, no traceback
    assert runner.invoke(app, ["workspace", "init", "--database", url, "--name", "Acme"]
                         ).exit_code == 0
    r = runner.invoke(app, ["playbook", "check", "--database", url])
    assert r.exit_code == 0, r.output
    assert "0 error(s)" in r.output and "20 rules" in r.output
