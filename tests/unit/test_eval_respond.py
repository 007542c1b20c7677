"""`ev eval --signal respond`: recall of respond and ignore from the playbook's decision, with
the brand profile; and, when ../shared/data is beside the project, the targets on real posts
built at run time (scripts/build_respond_eval.py; nothing is committed)."""

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from escapevelocity.cli.main import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"


def test_respond_report_with_a_brand(tmp_path):
    rows = [("@AcmeHelp nothing. Sort it out", "respond"),
            ("@acmehelp I've just sent you a message with details", "respond"),
            ("ok", "respond"),  # replies to our tweet: `to` says so
            ("check out my channel and subscribe!! http://x.co/a", "ignore"),
            ("my cat knocked over my coffee", "ignore")]
    path = tmp_path / "posts.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": t, "label": lab,
                                        **({"to": "@AcmeHelp"} if t == "ok" else {})}) + "\n"
                            for i, (t, lab) in enumerate(rows)))
    brand = tmp_path / "brand.yaml"
    brand.write_text("name: Acme\nhandles: ['@AcmeHelp']\nproducts: [Road Runner]\n")
    report = tmp_path / "r.json"
    r = runner.invoke(app, ["eval", str(path), "--signal", "respond", "--brand", str(brand),
                            "--report", str(report)])
    assert r.exit_code == 0, r.output
    got = json.loads(report.read_text())
    assert got["recall"] == {"respond": 1.0, "ignore": 1.0} and got["mentions_per_s"] > 0
    assert "recall respond" in r.output and "confusion" in r.output
    bad = runner.invoke(app, ["eval", str(path), "--signal", "respond", "--brand",
                              str(tmp_path / "none.yaml")])
    assert bad.exit_code != 0 and "no such file" in bad.output


def test_targets_on_real_posts(tmp_path):
    if not DATA.is_dir():
        pytest.skip(f"no evaluation data at {DATA} (../shared/data is optional)")
    spec = importlib.util.spec_from_file_location("build", ROOT / "scripts" /
                                                  "build_respond_eval.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.main(["--data", str(DATA), "--out", str(tmp_path)]) == 0
    from escapevelocity.domain.brand import parse_yaml
    from escapevelocity.evaluation.respond import evaluate

    def recall(name, label):
        rows = [json.loads(line) for line in
                (tmp_path / f"{name}.jsonl").read_text().splitlines()]
        brand = parse_yaml((tmp_path / f"{name}.brand.yaml").read_text())
        return evaluate(rows, brand, passes=1)["recall"][label]

    assert recall("complaints", "respond") >= 0.98
    assert recall("airline_negative", "respond") >= 0.98
    assert recall("youtube_spam", "ignore") >= 0.80
    assert recall("twcs_inbound", "respond") >= 0.95
