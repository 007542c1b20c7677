"""`--help` shows no <bool> type after on/off flags. (`ev playbook check` with no file, which
opens a database, is in tests/integration/test_playbook_check_cli.py.)"""

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

