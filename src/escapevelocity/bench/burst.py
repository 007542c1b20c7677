"""A burst (issue 20): N mentions posted over HTTP on loopback as fast as 4 clients can, to
`ev serve` with NATS while workers triage; then the backlog drains. Part of `make bench-scale`
(scale.py step 5); alone: `python -m escapevelocity.bench.burst [N] [WORKERS]`.

Printed: the accept time (first post to last 202), the drain time (last 202 to the last
mention stored with the queue empty), the queue lag read from the replica's /metrics during
the drain (what an operator's Prometheus would have seen), and the counts: mentions in,
mentions stored, events that brought one in (exactly one each: none lost, none doubled) and
cases out.
"""

from __future__ import annotations

import http.client
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from escapevelocity.bench import natsd
from escapevelocity.bench.machine import describe
from escapevelocity.bench.scale import (
    Databases,
    _engine,
    _env,
    _mentions,
    _post,
    _serve,
    _start_workers,
    _stop,
)

TARGET_S = 20.0  # the issue: 100,000 accepted in under 20 s


def _lag(port: int, token: str) -> float | None:
    """ev_queue_lag_messages as /metrics shows it (None if the scrape failed)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {token}"})
        text = conn.getresponse().read().decode()
        conn.close()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("ev_queue_lag_messages "):
            return float(line.split()[1])
    return None


def counts(url: str) -> dict:
    """Mentions stored, the log events that brought one in (and how many distinct ones),
    cases the mentions are in."""
    e = _engine(url)
    try:
        with e.connect() as conn:
            stored, cases = conn.exec_driver_sql(
                "SELECT count(*), count(DISTINCT case_id) FROM mentions").one()
            brought, distinct = conn.exec_driver_sql(
                "SELECT count(*), count(DISTINCT data::json->>'mention') FROM events "
                "WHERE kind IN ('opened', 'mention_added')").one()
    finally:
        e.dispose()
    return {"stored": stored, "cases": cases, "brought": brought, "brought_distinct": distinct}


def burst(dbs: Databases, nats: natsd.NatsServer, folder: Path, n: int = 100_000,
          workers: int = 2, clients: int = 4, workers_after: bool = False,
          timeout_s: float = 600.0) -> dict:
    """`workers_after`: start the workers once every mention is accepted (the whole burst
    waits in the stream first; the test uses it so the lag is certainly seen)."""
    import msgspec

    url = dbs.copy()
    env = _env(url, nats.url, f"u{uuid.uuid4().hex[:8]}", folder)
    mentions = _mentions(n, seed=23)
    unique = len({m.key for m in mentions})
    procs = [] if workers_after else _start_workers(workers, env, folder, "burst")
    proc, port, token = _serve(url, env, folder, "burst")
    bodies = [msgspec.json.encode(mentions[i:i + 100]) for i in range(0, n, 100)]
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    samples: list[tuple[float, float]] = []  # (seconds since the first post, lag)
    stop = threading.Event()
    began = time.perf_counter()

    def client(mine: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for body in mine:
            status = _post(conn, token, body)
            while status == 503:  # NATS did not acknowledge: nothing promised, send again
                time.sleep(0.2)
                status = _post(conn, token, body)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    def sampler() -> None:
        while not stop.is_set():
            lag = _lag(port, token)
            if lag is not None:
                samples.append((time.perf_counter() - began, lag))
            stop.wait(0.25)

    watcher = threading.Thread(target=sampler)
    try:
        watcher.start()
        threads = [threading.Thread(target=client, args=(bodies[c::clients],))
                   for c in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        accepted_s = time.perf_counter() - began
        if workers_after:
            procs = _start_workers(workers, env, folder, "burst")
        deadline = time.monotonic() + timeout_s
        got = counts(url)
        while time.monotonic() < deadline:
            got = counts(url)
            if got["stored"] >= unique and samples and samples[-1][1] == 0 \
                    and samples[-1][0] > time.perf_counter() - began - 0.3:
                break
            time.sleep(0.25)
        drained_s = time.perf_counter() - began - accepted_s
        time.sleep(0.5)  # a last sample or two at rest
    finally:
        stop.set()
        watcher.join()
        proc.terminate()
        proc.wait(timeout=60)
        _stop(procs)
    return {"mentions": n, "unique": unique, "workers": workers, "clients": clients,
            "accepted": statuses.get(202, 0) * 100, "statuses": statuses,
            "accept_s": accepted_s, "accept_per_s": n / accepted_s, "drain_s": drained_s,
            "lag_samples": [(round(t, 2), int(v)) for t, v in samples],
            "lag_max": max((v for _, v in samples), default=0),
            "lag_last": samples[-1][1] if samples else None, **got}


def line(b: dict) -> dict:
    s = b["lag_samples"]
    step = max(1, len(s) // 12)
    shown = ", ".join(f"{t:g}s:{v:,}" for t, v in s[::step] + ([s[-1]] if s else []))
    lost = b["unique"] - b["stored"]
    doubled = b["brought"] - b["brought_distinct"]
    return {"figure": f"burst: {b['mentions']:,} mentions accepted over HTTP in "
                      f"{b['accept_s']:.1f} s ({b['accept_per_s']:,.0f}/s, {b['clients']} "
                      f"clients × 100; {b['statuses']}), drained by {b['workers']} workers "
                      f"{b['drain_s']:.1f} s later; lag on /metrics (messages) peak "
                      f"{b['lag_max']:,.0f}, last {b['lag_last']}: {shown}; in "
                      f"{b['unique']:,} unique, stored {b['stored']:,}, brought in by "
                      f"{b['brought']:,} events, {b['cases']:,} cases; lost {lost}, "
                      f"doubled {doubled}",
            "target": f"< {TARGET_S:g} s accept, none lost",
            "met": b["accept_s"] < TARGET_S and lost == 0 and doubled == 0}


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 100_000
    workers = int(argv[1]) if len(argv) > 1 else 2
    folder = Path(tempfile.mkdtemp(prefix="ev-bench-burst-"))
    dbs = Databases()
    nats = natsd.NatsServer().start()
    try:
        b = burst(dbs, nats, folder, n, workers)
    finally:
        nats.close()
        dbs.drop()
    out = line(b)
    verdict = "met" if out["met"] else "MISSED"
    print(f"- {out['figure']}  [{out['target']}: {verdict}]")
    print(f"- machine: {describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
