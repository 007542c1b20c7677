"""`ev channels` and `ev channel …`: connections to networks, their health, polling, and the
preview of a listening query. Secrets are taken from a hidden prompt (or `-` for stdin) when
not given, sealed before they are stored, and never printed."""

from __future__ import annotations

import sys
import time

import typer
from rich.console import Console
from rich.table import Table

from escapevelocity.cli.common import err, fail, open_workspace

out = Console()
channel_app = typer.Typer(help="Connections to networks: add, poll, preview a query.",
                          no_args_is_help=True)


def _sealer():
    from escapevelocity.adapters.secrets import Sealer

    try:
        return Sealer.from_env()
    except RuntimeError as exc:
        raise fail(str(exc)) from None


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def list_command(database: str | None = typer.Option(None, help="database URL")) -> None:
    """List connections with their health."""
    from escapevelocity.channels import registry

    ws = open_workspace(database)
    with ws.store.begin() as tx:
        rows = tx.connections.all_()
    channels = registry()
    if not rows:
        err.print("no connections yet: `ev channel add mastodon --name … --base-url … "
                  "--query '…'`; channels: " + ", ".join(sorted(channels)))
        return
    table = Table("name", "channel", "health", "last success", "next poll", "query",
                  "last error")
    colour = {"connected": "green", "degraded": "yellow", "failing": "red",
              "credentials_expired": "red", "new": "dim"}
    for c in rows:
        table.add_row(c.name, c.channel, f"[{colour.get(c.health, 'white')}]{c.health}[/]",
                      _when(c.last_success), _when(c.next_poll) if c.enabled else "disabled",
                      c.query or "(everything)", (c.last_error or "")[:60])
    out.print(table)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    result = {}
    for v in values:
        key, sep, val = v.partition("=")
        if not sep or not key:
            raise fail(f"{what} {v!r}: write key=value")
        result[key.strip()] = val
    return result


def add_command(
    channel: str = typer.Argument(..., help="mastodon, bluesky, reddit, rss, webhook, twcs…"),
    name: str = typer.Option(..., "--name", help="a short unique name for this connection"),
    query: str = typer.Option("", help="listening query (see `ev channel preview`)"),
    base_url: str = typer.Option("", help="Mastodon: the instance URL"),
    token: str = typer.Option("", help="Mastodon: access token ('-' reads stdin)"),
    hashtag: list[str] = typer.Option([], help="Mastodon: a hashtag to follow (repeat)"),
    search: str = typer.Option("", help="Mastodon/Reddit: server-side search text"),
    subreddit: list[str] = typer.Option([], help="Reddit: a subreddit (repeat)"),
    url: list[str] = typer.Option([], help="RSS: a feed URL (repeat)"),
    did: list[str] = typer.Option([], help="Bluesky: only posts of this DID (repeat)"),
    path: str = typer.Option("", help="twcs: the CSV or JSONL file"),
    speed: float = typer.Option(0.0, help="twcs: replay speed (60 = an hour a minute)"),
    set_: list[str] = typer.Option([], "--set", help="any other setting, key=value"),
    secret: list[str] = typer.Option([], help="a secret key=value ('-' value reads stdin)"),
    database: str | None = typer.Option(None, help="database URL"),
) -> None:
    """Add a connection; secrets not given are asked for without echo."""
    import getpass

    from escapevelocity.adapters.store import connections as repo
    from escapevelocity.channels import get
    from escapevelocity.domain.listening import parse

    try:
        spec = get(channel)
        parse(query)
    except ValueError as exc:
        raise fail(str(exc)) from None
    settings: dict = dict(spec.defaults)
    for key, value in (("base_url", base_url), ("hashtags", hashtag), ("search", search),
                       ("subreddits", subreddit), ("urls", url), ("dids", did),
                       ("path", path), ("speed", speed)):
        if value:
            settings[key] = value
    settings.update(_pairs(set_, "--set"))
    secrets = _pairs(secret, "--secret")
    if token:
        secrets["token"] = token
    for key, value in list(secrets.items()):
        if value == "-":
            secrets[key] = sys.stdin.readline().strip()
    missing = [k for k in spec.settings if not settings.get(k)]
    if missing:
        raise fail(f"{channel} needs {', '.join(missing)}")
    for key in spec.secrets:
        if not secrets.get(key):
            if not sys.stdin.isatty():
                raise fail(f"{channel} needs the secret {key}: --secret {key}=- reads stdin")
            secrets[key] = getpass.getpass(f"{key} for {name}: ")
    unknown = set(settings) - set(spec.settings) - set(spec.optional) - set(spec.defaults) - {
        "every_minutes", "mentions", "comments"}
    if unknown:
        raise fail(f"{channel} has no setting {', '.join(sorted(unknown))}; settings: "
                   + ", ".join(spec.settings + spec.optional))
    ws = open_workspace(database)
    record = repo.StoredConnection(name=name, channel=channel, settings=settings, query=query,
                                   sealed=_sealer().seal(secrets))
    try:
        with ws.store.begin() as tx:
            tx.connections.add(record, ws.clock.now())
    except ValueError as exc:
        raise fail(str(exc)) from None
    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    err.print(f"added {name} ({spec.title}): {shown or 'no settings'}"
              + (f"; secrets sealed: {', '.join(sorted(secrets))}" if secrets else ""))
    if not spec.pull:
        err.print(f"deliveries go to POST /hooks/{name}")


def remove_command(name: str, database: str | None = typer.Option(None)) -> None:
    """Remove a connection (its mentions stay)."""

    ws = open_workspace(database)
    with ws.store.begin() as tx:
        if not tx.connections.remove(name):
            raise fail(f"no connection named {name!r}")
    err.print(f"removed {name}")


def _enable(name: str, enabled: bool, database: str | None) -> None:

    ws = open_workspace(database)
    with ws.store.begin() as tx:
        if tx.connections.get(name) is None:
            raise fail(f"no connection named {name!r}")
        tx.connections.update(name, enabled=enabled, next_poll=ws.clock.now())
    err.print(f"{name} {'resumed: polled at the next pass' if enabled else 'paused'}")


def pause_command(name: str, database: str | None = typer.Option(None)) -> None:
    """Stop polling a connection (its cursor is kept: resuming backfills from it)."""
    _enable(name, False, database)


def resume_command(name: str, database: str | None = typer.Option(None)) -> None:
    """Poll a paused connection again, from its cursor."""
    _enable(name, True, database)


def _runner(ws):
    from escapevelocity.channels.runner import Runner
    from escapevelocity.services.intake import Intake

    return Runner(Intake.open(ws), _sealer())


def poll_command(name: str, database: str | None = typer.Option(None)) -> None:
    """Poll one connection now (reads everything since its cursor)."""
    ws = open_workspace(database)
    try:
        r = _runner(ws).poll(name)
    except (ValueError, RuntimeError) as exc:
        raise fail(str(exc)) from None
    err.print(f"{name}: {r.health}; read {r.read}, kept {r.kept}, new {r.accepted}, "
              f"duplicates {r.duplicates}, historical {r.historical}, retries {r.retries}"
              + (f"; {r.error}" if r.error else ""))
    if r.health in ("failing", "credentials_expired"):
        raise typer.Exit(2)


def run_command(every: float = typer.Option(5.0, help="seconds between looks for due polls"),
                database: str | None = typer.Option(None)) -> None:
    """Poll every due connection until interrupted (`ev serve` runs this in its worker)."""
    ws = open_workspace(database)
    runner = _runner(ws)
    try:
        while True:
            for r in runner.run_due():
                err.print(f"{r.name}: {r.health}, new {r.accepted}"
                          + (f"; {r.error}" if r.error else ""))
            time.sleep(every)
    except KeyboardInterrupt:
        pass


def preview_command(query: str, limit: int = typer.Option(10_000, help="mentions to scan"),
                    channel: str | None = typer.Option(None, help="only this channel"),
                    show: int = typer.Option(10, help="matches to print"),
                    database: str | None = typer.Option(None)) -> None:
    """What QUERY would have caught over the stored mentions."""
    from escapevelocity.channels.preview import preview

    ws = open_workspace(database)
    try:
        p = preview(ws.store, query, limit=limit, channel=channel)
    except ValueError as exc:
        raise fail(f"query: {exc}") from None
    err.print(f"{len(p.matched)} of {p.scanned} stored mentions match"
              + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(p.by_channel.items())) + ")"
                 if p.by_channel else ""))
    for m in p.matched[:show]:
        out.print(f"[dim]{m.channel}[/] @{m.author.handle}: {m.text[:120]!r}", markup=True,
                  highlight=False)


def register(app: typer.Typer) -> None:
    app.command("channels")(list_command)
    channel_app.command("add")(add_command)
    channel_app.command("remove")(remove_command)
    channel_app.command("poll")(poll_command)
    channel_app.command("pause")(pause_command)
    channel_app.command("resume")(resume_command)
    channel_app.command("run")(run_command)
    channel_app.command("preview")(preview_command)
    app.add_typer(channel_app, name="channel")
