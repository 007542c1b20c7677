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



def test_ev_name_imports_the_module_that_registers_name():
    """`ev NAME` builds the app from NAME's module only (cli/main.py main): every name a module
    registers must lead back to that module."""
    import importlib

    from escapevelocity.cli import main

    for module in main.COMMANDS:
        one = typer.Typer()
        importlib.import_module(f"escapevelocity.cli.{module}").register(one)
        names = [c.name for c in one.registered_commands] + [g.name for g in one.registered_groups]
        assert names and all(main.module_of(n) == module for n in names), (module, names)
    assert main.module_of("nothing") is None


def test_one_command_of_the_app_runs_by_its_name():
    """Built alone, a module of one command is still a group: `ev serve --help` is serve's."""
    from escapevelocity.cli import main

    r = runner.invoke(main.build(("serve",)), ["serve", "--help"])
    assert r.exit_code == 0 and "--port" in r.output, r.output
    r = runner.invoke(main.build(("triage",)), ["triage", "nowhere.jsonl"])
    assert r.exit_code == 1 and "nowhere.jsonl: no such file" in r.output, r.output


def test_ev_triage_starts_without_the_database_layer_or_the_web_app(tmp_path):
    """Start-up (issue 14): `ev triage` reads a file and prints decisions; it imports neither
    SQLAlchemy nor FastAPI (each command imports what it uses, cli/main.py)."""
    import subprocess
    import sys
    import textwrap

    mentions = tmp_path / "m.jsonl"
    mentions.write_text('{"source_id": "s1", "channel": "twitter", "text": "my order never '
                        'arrived", "author": "casey", "created_at": "2026-11-20T13:00:00Z"}\n')
    code = textwrap.dedent(f"""
        import sys
        sys.argv = ["ev", "triage", {str(mentions)!r}]
        from escapevelocity.cli.main import main
        try:
            main()
        finally:
            print([m for m in ("sqlalchemy", "fastapi", "alembic") if m in sys.modules],
                  file=sys.stderr)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert '"mention":"twitter:s1"' in out.stdout.replace(" ", "")
    assert out.stderr.strip().splitlines()[-1] == "[]", out.stderr[-2000:]
