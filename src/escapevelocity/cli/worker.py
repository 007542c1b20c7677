"""`ev worker` (triage workers of the scale-out deployment) and `ev dead` (the dead letters).

Both need EV_BUS=nats://host:4222 (and the `scale` extra); EV_NATS_PREFIX names the streams;
EV_NATS_JS_DOMAIN or EV_NATS_API_PREFIX says where JetStream's API answers, when not `$JS.API`.
"""

from __future__ import annotations

import asyncio

import typer

from escapevelocity.cli.common import err, fail, open_workspace, starting
from escapevelocity.config import load_settings

dead_app = typer.Typer(help="Intake messages no worker could triage: list, replay, discard.",
                       no_args_is_help=True)


def _bus() -> str:
    bus = load_settings().bus
    if not bus.startswith("nats://"):
        raise fail("set EV_BUS=nats://host:4222 (workers pull from NATS JetStream; the embedded "
                   "mode triages in `ev serve` itself)")
    return bus


def _api() -> dict[str, str]:
    from escapevelocity.adapters.bus.jetstream import api_from_env

    try:
        return api_from_env()
    except ValueError as exc:
        raise fail(str(exc)) from None


def worker_command(
    tick_seconds: float = typer.Option(5.0, help="clock-job period (0: this worker runs none)"),
    metrics_port: int = typer.Option(0, envvar="EV_METRICS_PORT",
                                     help="serve Prometheus metrics on this port (0: off)"),
    metrics_host: str = typer.Option("127.0.0.1", envvar="EV_METRICS_HOST",
                                     help="the address the metrics port listens on (no sign-in: "
                                          "loopback, or the private address Prometheus scrapes)"),
) -> None:
    """Pull accepted mentions from NATS JetStream, triage, store, acknowledge. Any number."""
    with starting():
        from escapevelocity.adapters.bus.jetstream import prefix_from_env
        from escapevelocity.services import triage_worker
        from escapevelocity.services.logs import configure

        # JSON log lines are for the long-running worker only: `ev dead` is a command a person
        # reads, and a root handler set by it would outlive it (in tests, writing to a closed
        # stream)
        configure()
        url = _bus()
        api = _api()
        ws = open_workspace()
    where = "".join(f", {k} {v}" for k, v in api.items())
    err.print(f"ev worker: {url} prefix {prefix_from_env()}{where}, {ws.store.dialect}")
    asyncio.run(triage_worker.serve(ws, url, prefix_from_env(), api=api,
                                    tick_seconds=tick_seconds or None,
                                    metrics_port=metrics_port or None,
                                    metrics_host=metrics_host))


async def _with_js(fn):
    from escapevelocity.adapters.bus.jetstream import JetStream, prefix_from_env

    js = await JetStream(_bus(), prefix_from_env(), **_api()).connect(name="ev-dead")
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
def dead_replay(seqs: list[int] = typer.Argument(None, help="sequences (default: all)"),
                by: str | None = typer.Option(None, "--by",
                                              help="member id of who replays (audited)")
                ) -> None:
    """Put dead letters back on the intake (after the cause is fixed).

    Intake stores a mention once per channel and source id: a replayed mention never makes a
    second case. One line per message (seq, outcome, what happened); exits 1 when one stays."""
    from escapevelocity.services import dead_letters

    _act(lambda ws, js, chosen: dead_letters.replay(ws.store, ws.clock, js, by, chosen), seqs,
         "replayed")


@dead_app.command("discard")
def dead_discard(seqs: list[int] = typer.Argument(..., help="sequences"),
                 reason: str = typer.Option(..., "--reason", help="why (audited)"),
                 by: str | None = typer.Option(None, "--by",
                                               help="member id of who discards (audited)")
                 ) -> None:
    """Delete dead letters for good, saying why; the audit keeps which mentions they held."""
    from escapevelocity.services import dead_letters

    _act(lambda ws, js, chosen: dead_letters.discard(ws.store, ws.clock, js, by, chosen,
                                                     reason), seqs, "discarded")


def _act(run, seqs: list[int] | None, verb: str) -> None:
    """Run a replay or discard and print one line per message: seq, outcome, what happened;
    exits 1 when one of them was not done."""
    from escapevelocity.domain.permissions import PermissionDenied

    ws = open_workspace()

    async def go(js):
        chosen = seqs or [d.seq for d in await js.dead(100_000)]
        return await run(ws, js, chosen)

    try:
        results = asyncio.run(_with_js(go))
    except (ValueError, PermissionDenied) as exc:
        raise fail(str(exc)) from None
    for r in results:
        typer.echo(f"{r.seq}\t{r.outcome}\t{r.detail}")
    done = sum(r.ok for r in results)
    err.print(f"{done} of {len(results)} dead letter(s) {verb}")
    if done < len(results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker_command)
    app.add_typer(dead_app, name="dead")
