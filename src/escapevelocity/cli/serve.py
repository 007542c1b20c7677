"""`ev serve`: the web app over the configured workspace (EV_DATABASE_URL)."""

from __future__ import annotations

import threading

import typer

from escapevelocity.cli.common import err, starting
from escapevelocity.config import load_settings
from escapevelocity.domain.clock import SystemClock
from escapevelocity.services.workspace import Workspace


def serve_command(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
    channels: bool = typer.Option(True, help="poll the connections (`ev channels`) while serving"),
) -> None:
    """Serve the inbox, case pages, live updates and the mentions API."""
    with starting():
        import uvicorn

        from escapevelocity.web.app import create_app

        settings = load_settings()
        workspace = Workspace.open(settings.database_url, SystemClock())
        err.print(f"Escape Velocity on [link]http://{host}:{port}[/link] "
                  f"({settings.masked()['database_url']})")
        from escapevelocity.services.intake import Intake

        intake = Intake.open(workspace)
        # Scale-out: the workers run the clock jobs, once per tick across all of them.
        ticks = None if settings.bus.startswith("nats://") else 5.0
        app = create_app(workspace, settings, intake=intake, tick_seconds=ticks)
    stop = threading.Event()
    if channels:
        _start_channels(intake, settings, stop)
    try:
        uvicorn.Server(server_config(app, host, port)).run()
    finally:
        stop.set()


def _start_channels(intake, settings, stop: threading.Event) -> None:
    """Poll the workspace's connections in a worker thread (channels/runner.py), through the
    same intake as the API so crisis mode sees every mention once."""
    try:
        import os

        from escapevelocity.adapters.notify.transports import transports_from_env
        from escapevelocity.adapters.secrets import Sealer
        from escapevelocity.channels.alerts import HealthAlerts
        from escapevelocity.channels.runner import Runner, run_in_background
        from escapevelocity.services.notify import Notifier

        # Health alerts are notifications: the bell, and email / Slack by each admin's
        # preferences and the on-call rule at night (services/notify.py).
        ws = intake.workspace
        notifier = Notifier(ws.store, ws.clock, transports_from_env(os.environ),
                            base_url=os.environ.get("EV_PUBLIC_URL", ""))
        alerts = HealthAlerts(ws.store, notifier)  # links are made absolute by the notifier
        runner = Runner(intake, Sealer(settings.secret_key), on_health=alerts)
    except RuntimeError as exc:  # the `channels` extra is not installed
        err.print(f"channels not polled: {exc}")
        return
    threading.Thread(target=run_in_background, args=(runner, stop), name="ev-channels",
                     daemon=True).start()


def server_config(app, host: str, port: int):
    """uvicorn's own X-Forwarded-For handling is off: it trusts 127.0.0.1 by default, so any
    local process (or a proxy passing the header through) could choose its client address.
    The app trusts EV_TRUSTED_PROXIES only (web/app.py)."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level="warning", proxy_headers=False,
                          timeout_graceful_shutdown=3)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
