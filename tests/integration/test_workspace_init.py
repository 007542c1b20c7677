"""`ev workspace init`: an empty, brand-neutral workspace with the brand profile; the Orbit
demo data only with --demo."""

import yaml
from typer.testing import CliRunner

from escapevelocity.cli.main import app
from escapevelocity.domain.clock import FixedClock
from escapevelocity.services import brand as brand_service
from escapevelocity.services.workspace import Workspace

runner = CliRunner()


def _open(url):
    from datetime import UTC, datetime

    return Workspace.open(url, FixedClock(datetime(2026, 1, 1, tzinfo=UTC)))


def test_init_with_flags_is_brand_neutral(tmp_path):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    r = runner.invoke(app, ["workspace", "init", "--database", url, "--name", "Acme",
                            "--handle", "@AcmeHelp", "--handle", "acme", "--product",
                            "Fire TV Stick", "--password", "a-long-password"])
    assert r.exit_code == 0, r.output
    assert "login: admin / a-long-password" in r.output
    ws = _open(url)
    profile = brand_service.current(ws.store)[0]
    assert profile.name == "Acme" and profile.handles == {"*": ("acmehelp", "acme")}
    with ws.store.begin() as tx:
        org = tx.org.load()
        vocabulary = yaml.safe_load(tx.documents.get("vocabulary") or "{}")
        playbook = tx.playbooks.active()
    assert [m.id for m in org.members] == ["admin"] and org.members[0].role == "admin"
    assert not vocabulary  # no Orbit products, customers or bots
    assert "Orbit" not in playbook[1] and "name: Default playbook" in playbook[1]
    assert ws.authenticate("admin", "a-long-password")
    ws.store.close()


def test_init_with_a_brand_file_and_demo(tmp_path):
    brand = tmp_path / "brand.yaml"
    brand.write_text("name: Acme\nhandles: {twitter: ['@acme']}\nproducts: [Road Runner]\n")
    url = f"sqlite:///{tmp_path / 'b.db'}"
    r = runner.invoke(app, ["workspace", "init", "--database", url, "--brand", str(brand)])
    assert r.exit_code == 0, r.output
    ws = _open(url)
    assert brand_service.current(ws.store)[0].products == ("Road Runner",)
    ws.store.close()
    bad = tmp_path / "bad.yaml"
    bad.write_text("handles: ['no spaces allowed']\n")
    r = runner.invoke(app, ["workspace", "init", "--database", f"sqlite:///{tmp_path / 'c.db'}",
                            "--brand", str(bad)])
    assert r.exit_code != 0 and "is not a handle" in r.output
    url = f"sqlite:///{tmp_path / 'd.db'}"
    r = runner.invoke(app, ["workspace", "init", "--database", url, "--demo"])
    assert r.exit_code == 0 and "login: ana /" in r.output
    ws = _open(url)
    assert brand_service.current(ws.store)[0].name == "Orbit Telecom"
    ws.store.close()
