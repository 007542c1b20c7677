"""`ev playbook check` with no file checks the workspace's active playbook (moved from the unit
tests: it opens a database)."""

from typer.testing import CliRunner

from escapevelocity.cli.main import app

runner = CliRunner()


def test_playbook_check_without_a_file_checks_the_active_one(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    r = runner.invoke(app, ["playbook", "check", "--database", url])
    assert r.exit_code != 0  # no workspace yet: says so, no traceback
    assert runner.invoke(app, ["workspace", "init", "--database", url, "--name", "Acme"]
                         ).exit_code == 0
    r = runner.invoke(app, ["playbook", "check", "--database", url])
    assert r.exit_code == 0, r.output
    assert "0 error(s)" in r.output and "20 rules" in r.output
