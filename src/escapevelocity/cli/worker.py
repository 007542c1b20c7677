"""`ev worker` (triage workers of the scale-out deployment) and `ev dead` (the dead letters).

Both need EV_BUS=nats://host:4222 (and the `scale` extra); EV_NATS_PREFIX names the streams.
"""

from __future__ import annotations

import asyncio

import typer

from escapevelocity.cli.common import err, fail, open_workspace
from escapevelocity.config import load_settings

dead_app = typer.Typer(help="Intake messages no worker could triage: list and replay.",
                       no_args_is_help=True)


def _bus() -> str:
    from escapevelocity.services.logs import configure

    configure()
    bus = load_settings().bus
    if not bus.startswith("nats://"):
        raise fail("set EV_BUS=nats://host:4222 (workers pull from NATS JetStream; the embedded "
                   "mode triages in `ev serve` itself)")
    return bus


def worker_command(
    tick_seconds: float = typer.Option(5.0, help="clock-job period (0: this worker runs none)"),
    metrics_port: int = typer.Option(0, envvar="EV_METRICS_PORT",
                                     help="serve Prometheus metrics on this port (0: off)"),
) -> None:
    """Pull accepted mentions from NATS JetStream, triage, store, acknowledge. Any number."""
    from escapevelocity.adapters.bus.jetstream import prefix_from_env
    from escapevelocity.services import triage_worker

    url = _bus()
    ws = open_workspace()
    err.print(f"ev worker: {url} prefix {prefix_from_env()}, {ws.store.dialect}")
    asyncio.run(triage_worker.serve(ws, url, prefix_from_env(),
                                    tick_seconds=tick_seconds or None,
                                    metrics_port=metrics_port or None))


async def _with_js(fn):
    from escapevelocity.adapters.bus.jetstream import JetStream, prefix_from_env

    js = await JetStream(_bus(), prefix_from_env()).connect(name="ev-dead")
    try:
        return await fn(js)
    finally:
        await js.close()


@dead_app.command("list")
def dead_list(limit: int = typer.Option(200, help="show at most this many")) -> None:
    """The dead letters: sequence, deliveries, reason, mentions."""
    rows = asyncio.run(_with_js(lambda js: js.dead(limit)))
    for d in rows:
        ms = d.mentions()
        what = f"{len(ms)} mention(s)" if ms is not None else f"{len(d.data)} undecodable bytes"
        typer.echo(f"{d.seq}\t{d.deliveries}\t{what}\t{d.reason}")
    err.print(f"{len(rows)} dead letter(s)")


@dead_app.command("replay")
def dead_replay(seqs: list[int] = typer.Argument(None, help="sequences (default: all)")) -> None:
    """Put dead letters back on the intake (after the cause is fixed)."""
    async def go(js):
        chosen = seqs or [d.seq for d in await js.dead(100_000)]
        return await js.replay(chosen)

    err.print(f"{asyncio.run(_with_js(go))} dead letter(s) replayed")


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)
    app.add_typer(dead_app, name="dead")
