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
    uvicorn.run(create_app(workspace, settings), host=host, port=port, log_level="warning",
                timeout_graceful_shutdown=3)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
