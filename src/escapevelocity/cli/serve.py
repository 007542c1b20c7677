"""`ev serve`: the web app over the configured workspace (EV_DATABASE_URL)."""

from __future__ import annotations

import typer

from escapevelocity.cli.common import err
from escapevelocity.config import load_settings
from escapevelocity.domain.clock import SystemClock
from escapevelocity.services.workspace import Workspace


def serve_command(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on"),
) -> None:
    """Serve the inbox, case pages, live updates and the mentions API."""
    import uvicorn

    from escapevelocity.web.app import create_app

    settings = load_settings()
    workspace = Workspace.open(settings.database_url, SystemClock())
    err.print(f"Escape Velocity on [link]http://{host}:{port}[/link] "
              f"({settings.masked()['database_url']})")
    uvicorn.Server(server_config(create_app(workspace, settings), host, port)).run()


def server_config(app, host: str, port: int):
    """uvicorn's own X-Forwarded-For handling is off: it trusts 127.0.0.1 by default, so any
    local process (or a proxy passing the header through) could choose its client address.
    The app trusts EV_TRUSTED_PROXIES only (web/app.py)."""
    import uvicorn

    return uvicorn.Config(app, host=host, port=port, log_level="warning", proxy_headers=False,
                          timeout_graceful_shutdown=3)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
