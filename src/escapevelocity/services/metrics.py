"""Prometheus metrics: intake rate, queue lag, processing latency, SLA at risk, connector health.

prometheus-client is in the `scale` extra; without it every metric is a no-op and /metrics
answers 404, so the embedded install stays light. Process-local counters (intake, processed,
latency) are exported by each process (`ev serve` at /metrics, `ev worker` on
EV_METRICS_PORT); the workspace-wide gauges (SLA at risk, connector health) are read from the
store when scraped, so any replica answers the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import prometheus_client as prom
except ImportError:  # the scale extra is not installed
    prom = None


class _Noop:
    def inc(self, *_: Any) -> None: ...
    def observe(self, *_: Any) -> None: ...
    def set(self, *_: Any) -> None: ...
    def labels(self, *_: Any, **__: Any) -> _Noop:
        return self


def _make(kind: str, name: str, doc: str, **kw: Any) -> Any:
    if prom is None:
        return _Noop()
    return getattr(prom, kind)(name, doc, **kw)


ACCEPTED = _make("Counter", "ev_mentions_accepted", "Mentions accepted by the intake (HTTP)")
PROCESSED = _make("Counter", "ev_mentions_processed", "Mentions triaged and stored by workers")
DEAD = _make("Counter", "ev_messages_dead_lettered", "Intake messages sent to the dead letters")
TICKS = _make("Counter", "ev_ticks_run", "Clock-job passes this process ran (held the lease)")
LAG = _make("Gauge", "ev_queue_lag_messages", "Intake messages waiting or in hand (JetStream)")
BATCH_SECONDS = _make("Histogram", "ev_batch_seconds", "Worker: one fetch triaged and committed",
                      buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
ACCEPT_TO_CASE = _make("Histogram", "ev_accept_to_case_seconds",
                       "Accepted into the stream until committed by a worker",
                       buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60))
SLA_AT_RISK = _make("Gauge", "ev_sla_at_risk", "Open cases needing an answer due within the hour")
CONNECTOR_UP = _make("Gauge", "ev_connector_healthy", "1 when a channel connection is healthy",
                     labelnames=("connection",))


def set_lag_from(value: int | None) -> None:
    if value is not None:
        LAG.set(value)


def available() -> bool:
    return prom is not None


def render(refresh: Callable[[], None] | None = None) -> tuple[bytes, str]:
    """The exposition text (refreshing the store-read gauges first)."""
    if prom is None:
        raise RuntimeError("prometheus-client is not installed (the scale extra)")
    if refresh is not None:
        refresh()
    return prom.generate_latest(), prom.CONTENT_TYPE_LATEST


def serve(port: int, host: str = "127.0.0.1"):
    """A metrics endpoint for a process without a web server (`ev worker`). It has no sign-in
    (the Prometheus client's own server), so it listens on loopback unless the deployment
    names the private address Prometheus scrapes (EV_METRICS_HOST). Returns the server (tests
    shut it down), or None without the scale extra."""
    if prom is None:
        return None
    server, _thread = prom.start_http_server(port, addr=host)
    return server
