"""docs/examples/api_open_cases.py, run as a user runs it: a separate Python process with
httpx against a live uvicorn on 127.0.0.1, with a personal token. It pages through the open
cases, claims one, replies and resolves it; the event log must say so."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from engage_kit import SUPPORT, events, open_case

from escapevelocity.domain import events as ev
from escapevelocity.services import tokens

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "api_open_cases.py"


def test_the_documented_example_claims_replies_and_resolves(app, workspace, clock):
    import uvicorn

    cases = {open_case(workspace, clock, SUPPORT) for _ in range(25)}  # more than one page
    secret, _ = tokens.create(workspace.store, clock, by="ana", name="example")
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        run = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "EV_URL": f"http://127.0.0.1:{port}",
                                              "EV_TOKEN": secret})
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "replied and resolved" in run.stdout, run.stdout
    taken = run.stdout.split("taking ")[1].split(":")[0]
    assert taken in cases
    assert int(run.stdout.split(" open cases")[0]) >= 25  # it went past the first page
    kinds = [(e.kind, e.actor) for e in events(workspace, taken)]
    assert [k for k in kinds if k[1] == "ana"] == [
        (ev.CLAIMED, "ana"), (ev.REPLIED, "ana"), (ev.RESOLVED, "ana")], kinds
