"""`ev demo`: a fresh demo workspace, the web app, and a live stream of mentions.

One process: uvicorn serves the app while a background thread replays generated mentions
through the same ingest path the API uses, at live speed, so cases arrive while you watch.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import typer

from escapevelocity.cli.common import err
from escapevelocity.config import load_settings
from escapevelocity.domain.clock import SystemClock
from escapevelocity.services.intake import Intake
from escapevelocity.services.seed import seed_demo
from escapevelocity.services.workspace import Workspace


def replay(intake: Intake, total: int, rate: float, burst: int,
           stop: threading.Event) -> None:
    """Generated mentions, a burst first so the inbox is not empty, then `rate` per second."""
    from escapevelocity.demo.generator import generate

    mentions = generate(total, seed=int(time.time()) % 10_000, start=datetime.now(UTC),
                        mean_gap_seconds=1 / rate)
    batch: list = []
    for sent, m in enumerate(mentions, 1):
        if stop.is_set():
            return
        # Stamp each mention with the time it arrives, as a channel would.
        batch.append(msgspec.structs.replace(m, created_at=datetime.now(UTC)))
        if sent < burst and len(batch) < 100:
            continue
        intake.take(batch)
        batch = []
        if sent >= burst:
            stop.wait(1 / rate)
    if batch:
        intake.take(batch)


TEAMMATES = ["leo", "tom", "mei", "joe", "lucy", "raj"]  # simulated; the printed logins are yours


def teammates(intake: Intake, stop: threading.Event, members: list[str]) -> None:
    """Colleagues who work the inbox while you watch: they claim, reply (through approvals when
    a reply needs one) and resolve with the same commands people use, a few minutes a case."""
    import logging

    from escapevelocity.drill.scenario import Responders
    from escapevelocity.services.drill_responders import SimulatedTeam

    ws = intake.workspace
    with ws.store.begin() as tx:
        org = tx.org.load()
    spec = Responders(on_duty=[m for m in members if org.member(m)],
                      handle_minutes={"p1": 0.6, "p2": 0.5, "p3": 0.4, "p4": 0.3})
    team = SimulatedTeam(ws.store, ws.clock, org, spec, intake.crisis)
    while not stop.wait(2.0):
        try:
            team.step(ws.clock.now())
        except Exception:
            logging.getLogger(__name__).exception("simulated teammates")


def demo_command(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    mentions: int = typer.Option(3000, help="how many mentions to replay"),
    rate: float = typer.Option(2.0, help="mentions per second after the first burst"),
    burst: int = typer.Option(300, help="mentions ingested at once when the demo starts"),
    database: Path = typer.Option(Path("var/demo.db"), help="SQLite file for the demo workspace"),
    keep: bool = typer.Option(False, help="keep an existing demo database instead of starting "
                                          "fresh"),
    colleagues: bool = typer.Option(True, help="simulated colleagues (leo, tom, mei, joe, lucy, "
                                                "raj) work the inbox too"),
) -> None:
    """Start a fresh demo workspace with the web app and a live stream of mentions."""
    import uvicorn

    from escapevelocity.web.app import create_app

    if database.exists() and not keep:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    settings = load_settings()
    workspace = Workspace.open(f"sqlite:///{database}", SystemClock())
    password = seed_demo(workspace)
    token = workspace.new_api_token("demo")
    stop = threading.Event()
    intake = Intake.open(workspace)
    worker = threading.Thread(target=replay, args=(intake, mentions, rate, burst, stop),
                              name="demo-replay", daemon=True)
    err.print(f"\n[bold green]Escape Velocity demo[/] on [link]http://{host}:{port}[/link]\n"
              f"  log in as [bold]ana[/] (hub + Customer Care), [bold]priya[/] (Customer Care), "
              f"[bold]nina[/] (PR), [bold]omar[/] (Legal, approves) or [bold]sam[/] (strategist: "
              f"playbook versions, drills) — password [bold]{password}[/]\n"
              f"  API token for POST /api/mentions: {token}\n"
              f"  replaying {mentions} mentions: {burst} now, then {rate:g}/s"
              + (f"; simulated colleagues ({', '.join(TEAMMATES)}) answer too"
                 if colleagues else "")
              + ". Ctrl-C stops.\n")
    worker.start()
    if colleagues:
        threading.Thread(target=teammates, args=(intake, stop, TEAMMATES), name="demo-team",
                         daemon=True).start()
    try:
        uvicorn.run(create_app(workspace, settings, intake=intake), host=host, port=port,
                    log_level="warning",
                    timeout_graceful_shutdown=3)
    finally:
        stop.set()
        worker.join(timeout=5)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
