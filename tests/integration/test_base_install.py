"""Without the learn/embed extras the product still ingests, triages and serves.

The suite runs with every extra installed, so these tests hide them from a child process
(`sys.modules[name] = None` makes `import name` fail as if absent). The full check, a fresh
venv with no extras, is scripts/smoke_base_install.sh (run by `make test`).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

HIDE = ("import sys\n"
        "for m in ('numpy', 'sklearn', 'tokenizers', 'safetensors'):\n    sys.modules[m] = None\n")


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", HIDE + textwrap.dedent(code)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.mark.slow
def test_ingest_and_serve_without_the_learning_stack(tmp_path):
    out = _run(f"""
        from datetime import UTC, datetime
        from fastapi.testclient import TestClient
        from escapevelocity.config import Settings
        from escapevelocity.domain.clock import FixedClock
        from escapevelocity.domain.records import Author, Mention
        from escapevelocity.services import refine, worker
        from escapevelocity.services.intake import Intake
        from escapevelocity.services.seed import seed_demo
        from escapevelocity.services.workspace import Workspace
        from escapevelocity.web.app import create_app

        now = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
        ws = Workspace.open("sqlite:///{tmp_path / 'ev.db'}", FixedClock(now))
        seed_demo(ws, password="correct horse battery")
        m = Mention(source_id="s1", channel="twitter", text="my order never arrived",
                    author=Author(handle="casey"), created_at=now)
        assert Intake.open(ws).take([m]).accepted == 1
        assert refine.tick(ws, now) == 0
        worker.tick_all(ws, now=now)
        with TestClient(create_app(ws, Settings(database_url="unused",
                                                secret_key="s" * 32))) as client:
            assert client.get("/healthz").status_code == 200
            assert client.get("/login").status_code == 200
        print("numpy" in sys.modules and sys.modules["numpy"] is not None)
    """)
    assert out.strip() == "False"


def test_learning_names_the_extra_it_needs():
    out = _run("""
        from escapevelocity.domain import learn
        assert learn.SIGNALS and learn.rule_label and learn.metrics  # no numpy needed
        try:
            learn.SignalModel
        except learn.LearnExtraMissing as exc:
            assert isinstance(exc, RuntimeError)  # what the callers that train catch
            print(exc)
    """)
    assert "pip install 'escapevelocity[learn]'" in out
