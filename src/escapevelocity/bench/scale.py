"""`make bench-scale` (issue 20): the scale-out deployment against the embedded one, same run.

1. ingest, one process, the same 20,000 mentions into SQLite and into PostgreSQL (5,000 a
   transaction, `ev ingest`'s batch): the PostgreSQL bulk path against the SQLite figure.
2. intake to case: the same mentions published to NATS JetStream in 100-mention batches (what
   the HTTP API does), triaged into PostgreSQL by 1, 2 and 4 `ev worker` processes, timed from
   the first publish to the last mention stored; beside it the embedded mode on the same load
   (one process, one transaction per 100-mention batch, as `ev serve` does per request).
3. HTTP accept rate with NATS: `ev serve` (EV_BUS=nats://…), 4 clients posting 100-mention
   batches, no workers: accepted = validated and acknowledged by JetStream.
4. accept -> case visible at a steady 500 mentions/s (`ev serve` + 2 workers): per mention,
   from the 202 to the moment its row is seen in PostgreSQL (polled every 50 ms); p50, p99.
5. a burst of 100,000 mentions over HTTP, the backlog drained, its lag read from /metrics
   (burst.py).

Each configuration gets its own copy of one seeded database (CREATE DATABASE … TEMPLATE) and
its own stream prefix on a private nats-server. The machine is shared: compare the ratios.

    python -m escapevelocity.bench.scale [N]
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from escapevelocity.bench import natsd
from escapevelocity.bench.machine import describe

PG = os.environ.get("EV_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
EV = str(Path(sys.executable).with_name("ev"))
LOOKBACK = 5_000  # ids the steady test's poller reads again (late commits)


def _admin() -> sa.Engine:
    return sa.create_engine(PG.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
                            isolation_level="AUTOCOMMIT")


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


class Databases:
    """One seeded template, copies of it per configuration; all dropped at the end."""

    def __init__(self) -> None:
        from escapevelocity.domain.clock import SystemClock
        from escapevelocity.services.seed import seed_demo
        from escapevelocity.services.workspace import Workspace

        self.names: list[str] = []
        self.template = self._create()
        ws = Workspace.open(f"{PG}/{self.template}", SystemClock())
        seed_demo(ws, password="bench-scale-password")
        ws.store.close()

    def _create(self, template: str | None = None) -> str:
        name = f"ev_bscale_{uuid.uuid4().hex[:8]}"
        with _admin().connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"'
                                 + (f' TEMPLATE "{template}"' if template else ""))
        self.names.append(name)
        return name

    def copy(self) -> str:
        return f"{PG}/{self._create(self.template)}"

    def drop(self) -> None:
        with _admin().connect() as conn:
            for name in self.names:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mentions(n: int, seed: int = 20) -> list:
    from escapevelocity.demo.generator import generate

    return list(generate(n, seed=seed, start=datetime.now(UTC) - timedelta(hours=1),
                         mean_gap_seconds=3000 / n))


def _stored(url: str) -> int:
    e = _engine(url)
    try:
        with e.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM mentions").scalar_one()
    finally:
        e.dispose()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# --- 1. ingest, one process ----------------------------------------------------------------------

def _backend_cpu(ws) -> Callable[[], float | None]:
    """CPU seconds of the PostgreSQL backend serving `ws` so far (None when the server's
    /proc is not this machine's): the server's half of a PostgreSQL ingest, which the
    process's own CPU time does not see."""
    with ws.store.engine.connect() as conn:  # the pool hands this connection out again
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()

    def read() -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return read


def ingest_one_process(mentions: list, dbs: Databases, folder: Path, batch: int,
                       runs: int = 3) -> dict:
    """SQLite and PostgreSQL runs interleaved (the machine changes under a long run); the
    figure is the median of each database's runs, the ratio the median of per-pair ratios.
    Beside the rates, CPU seconds per run: this process's, and for PostgreSQL its backend's
    (on a loaded shared machine the wall clock mostly measures the queue for a core)."""
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.ingest import batches, ingest_batch
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    rates: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    cpu: dict[str, list[str]] = {"sqlite": [], "postgresql": []}
    for run in range(runs):
        for db, url in (("sqlite", f"sqlite:///{folder / f'ingest-{run}.db'}"),
                        ("postgresql", dbs.copy())):
            ws = Workspace.open(url, SystemClock())
            if db == "sqlite":
                seed_demo(ws, password="bench-scale-password")
            triager = ws.triager()
            server = _backend_cpu(ws) if db == "postgresql" else (lambda: None)
            server_before, cpu_before = server(), time.process_time()
            began = time.perf_counter()
            for chunk in batches(mentions, batch):
                ingest_batch(ws.store, triager, ws.clock.now(), chunk)
            rates[db].append(len(mentions) / (time.perf_counter() - began))
            used = f"{time.process_time() - cpu_before:.1f}"
            server_after = server()
            if server_before is not None and server_after is not None:
                used += f"+{server_after - server_before:.1f}"
            cpu[db].append(used)
            ws.store.close()
    return {"sqlite": statistics.median(rates["sqlite"]),
            "postgresql": statistics.median(rates["postgresql"]),
            "ratio": statistics.median(p / s for p, s in zip(rates["postgresql"],
                                                             rates["sqlite"], strict=True)),
            "runs": {k: [round(x) for x in v] for k, v in rates.items()},
            "cpu_s": cpu}


def embedded_intake(mentions: list, dbs: Databases) -> float:
    """The embedded mode on the scale-out load: one process, Intake.take per 100 (PG)."""
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.intake import Intake
    from escapevelocity.services.workspace import Workspace

    ws = Workspace.open(dbs.copy(), SystemClock())
    intake = Intake.open(ws)
    began = time.perf_counter()
    for i in range(0, len(mentions), 100):
        intake.take(mentions[i:i + 100])
    rate = len(mentions) / (time.perf_counter() - began)
    ws.store.close()
    return rate


# --- 2. NATS + workers ---------------------------------------------------------------------------

def _env(url: str, nats_url: str, prefix: str, folder: Path) -> dict:
    return dict(os.environ, EV_DATABASE_URL=url, EV_BUS=nats_url, EV_NATS_PREFIX=prefix,
                EV_VAR_DIR=str(folder), EV_SECRET_KEY="bench-scale-secret-key-0123456789",
                EV_LOG_FORMAT="json")


def _start_workers(k: int, env: dict, folder: Path, tag: str) -> list[subprocess.Popen]:
    procs = []
    for i in range(k):
        log = (folder / f"worker-{tag}-{i}.log").open("wb")
        procs.append(subprocess.Popen([EV, "worker", "--tick-seconds", "5"], env=env,
                                      stdout=log, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 180
    for i, p in enumerate(procs):  # ready when it says it is pulling
        path = folder / f"worker-{tag}-{i}.log"
        while b"pulling from" not in path.read_bytes():
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start: {path.read_text()[-1500:]}")
            time.sleep(0.2)
    return procs


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


async def _publish(nats_url: str, prefix: str, mentions: list) -> None:
    from escapevelocity.adapters.bus.jetstream import JetStream

    js = await JetStream(nats_url, prefix).connect(name="bench")
    for i in range(0, len(mentions), 100):
        await js.publish(mentions[i:i + 100])
    await js.close()


def workers_to_case(mentions: list, k: int, dbs: Databases, nats: natsd.NatsServer,
                    folder: Path) -> dict:
    url = dbs.copy()
    prefix = f"b{uuid.uuid4().hex[:8]}"
    unique = len({m.key for m in mentions})
    procs = _start_workers(k, _env(url, nats.url, prefix, folder), folder, f"k{k}")
    try:
        began = time.perf_counter()
        asyncio.run(_publish(nats.url, prefix, mentions))
        published = time.perf_counter() - began
        deadline = time.monotonic() + 600
        while (stored := _stored(url)) < unique and time.monotonic() < deadline:
            time.sleep(0.1)
        elapsed = time.perf_counter() - began
    finally:
        _stop(procs)
    return {"workers": k, "mentions_per_s": len(mentions) / elapsed, "seconds": elapsed,
            "publish_seconds": published, "stored": stored, "unique": unique}


# --- 3 and 4. HTTP -------------------------------------------------------------------------------

def _serve(url: str, env: dict, folder: Path, tag: str) -> tuple[subprocess.Popen, int, str]:
    from escapevelocity.bench.load import _wait_up
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.workspace import Workspace

    ws = Workspace.open(url, SystemClock(), migrate=False)
    token = ws.new_api_token(f"bench-{tag}", scopes="ingest metrics")  # posts, scrapes
    ws.store.close()
    port = natsd.free_port()
    log = (folder / f"serve-{tag}.log").open("wb")
    proc = subprocess.Popen([EV, "serve", "--port", str(port), "--no-channels"], env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    _wait_up(port, proc)
    return proc, port, token


def _post(conn: http.client.HTTPConnection, token: str, body: bytes) -> int:
    conn.request("POST", "/api/mentions", body=body,
                 headers={"Authorization": f"Bearer {token}",
                          "Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    return r.status


def http_accept(mentions: list, dbs: Databases, nats: natsd.NatsServer | None, folder: Path,
                clients: int = 4, replicas: int = 1) -> dict:
    """Accepted mentions/s over HTTP: with NATS (`nats`) or embedded on SQLite (None). With
    `replicas` web processes the clients take turns (as a load balancer would spread them)."""
    import msgspec

    if nats is not None:
        url = dbs.copy()
        env = _env(url, nats.url, f"h{uuid.uuid4().hex[:8]}", folder)
        tag = f"nats-{replicas}"
    else:
        from escapevelocity.domain.clock import SystemClock
        from escapevelocity.services.seed import seed_demo
        from escapevelocity.services.workspace import Workspace

        url = f"sqlite:///{folder / 'http-embedded.db'}"
        ws = Workspace.open(url, SystemClock())
        seed_demo(ws, password="bench-scale-password")
        ws.store.close()
        env = _env(url, "inline", "unused", folder)
        tag = "embedded"
    servers = [_serve(url, env, folder, f"{tag}-{i}") for i in range(replicas)]
    bodies = [msgspec.json.encode(mentions[i:i + 100]) for i in range(0, len(mentions), 100)]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()

    def client(port: int, token: str, mine: list[bytes]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for body in mine:
            t = time.perf_counter()
            status = _post(conn, token, body)
            with lock:
                latencies.append(time.perf_counter() - t)
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    try:
        threads = [threading.Thread(target=client, args=(*servers[c % replicas][1:],
                                                         bodies[c::clients]))
                   for c in range(clients)]
        began = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
    finally:
        for proc, _, _ in servers:
            proc.terminate()
            proc.wait(timeout=60)
    accepted = statuses.get(202, 0) * 100
    return {"mode": tag, "replicas": replicas, "mentions_per_s": accepted / elapsed,
            "requests": len(bodies), "statuses": statuses, "p50_s": _pct(latencies, 0.5),
            "p99_s": _pct(latencies, 0.99)}


def steady(dbs: Databases, nats: natsd.NatsServer, folder: Path, rate: int = 500,
           seconds: float = 20.0, workers: int = 2) -> dict:
    """Accept -> visible at a steady `rate`: 50-mention posts every 50/rate s."""
    import msgspec

    url = dbs.copy()
    env = _env(url, nats.url, f"s{uuid.uuid4().hex[:8]}", folder)
    mentions = _mentions(int(rate * seconds), seed=21)
    procs = _start_workers(workers, env, folder, "steady")
    proc, port, token = _serve(url, env, folder, "steady")
    accepted_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    stop = threading.Event()

    def poll() -> None:
        # PostgreSQL hands out ids before commit and commits land in any order, so a plain
        # "id > last" cursor would skip a row that commits late: look back LOOKBACK ids.
        e = _engine(url)
        with e.connect() as conn:
            last = conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM mentions").scalar()
            floor = last
            while not stop.is_set():
                rows = conn.exec_driver_sql(
                    "SELECT id, channel, source_id FROM mentions "
                    f"WHERE id > {int(max(floor, last - LOOKBACK))}").all()
                conn.commit()
                now = time.perf_counter()
                for row_id, c, s in rows:
                    seen_at.setdefault(f"{c}:{s}", now)
                    last = max(last, row_id)
                time.sleep(0.05)
        e.dispose()

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        step = 50 / rate
        began = time.perf_counter()
        for i in range(0, len(mentions), 50):
            target = began + (i // 50) * step
            if (wait := target - time.perf_counter()) > 0:
                time.sleep(wait)
            chunk = mentions[i:i + 50]
            if _post(conn, token, msgspec.json.encode(chunk)) == 202:
                now = time.perf_counter()
                for m in chunk:
                    accepted_at.setdefault(m.key, now)
        sent_for = time.perf_counter() - began
        deadline = time.monotonic() + 120
        while len(seen_at.keys() & accepted_at.keys()) < len(accepted_at) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        poller.join()
        proc.terminate()
        proc.wait(timeout=60)
        _stop(procs)
    lat = [max(seen_at[k] - t, 0.0) for k, t in accepted_at.items() if k in seen_at]
    return {"rate": rate, "offered_per_s": len(mentions) / sent_for,
            "accepted": len(accepted_at),
            "visible": len(lat), "p50_s": _pct(lat, 0.5), "p99_s": _pct(lat, 0.99),
            "workers": workers}


# --- the whole run -------------------------------------------------------------------------------

def run(n: int = 20_000, worker_counts: tuple[int, ...] = (1, 2, 4),
        http_n: int = 60_000, steady_s: float = 20.0, burst_n: int = 100_000) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="ev-bench-scale-"))
    load = lambda: f"{os.getloadavg()[0]:.1f}"  # noqa: E731
    result: dict = {"machine": describe(), "mentions": n, "load_before": load()}
    mentions = _mentions(n)
    dbs = Databases()
    nats = natsd.NatsServer().start()
    try:
        print("1. ingest, one process …", flush=True)
        result["ingest"] = ingest_one_process(mentions, dbs, folder, 5000)
        print("2. intake to case …", flush=True)
        result["embedded_100"] = embedded_intake(mentions, dbs)
        result["workers"] = [workers_to_case(mentions, k, dbs, nats, folder)
                             for k in worker_counts]
        print("3. HTTP accept …", flush=True)
        http_mentions = _mentions(http_n, seed=22)
        result["http_nats"] = http_accept(http_mentions, dbs, nats, folder)
        result["http_nats_2"] = http_accept(http_mentions, dbs, nats, folder, replicas=2)
        result["http_embedded"] = http_accept(http_mentions[:10_000], dbs, None, folder)
        print("4. steady 500/s …", flush=True)
        result["steady"] = steady(dbs, nats, folder, seconds=steady_s)
        print(f"5. burst of {burst_n:,} …", flush=True)
        from escapevelocity.bench.burst import burst
        result["burst"] = burst(dbs, nats, folder, burst_n)
    finally:
        nats.close()
        dbs.drop()
    result["load_after"] = load()
    result["lines"] = lines(result)
    return result


def lines(r: dict) -> list[dict]:
    ing = r["ingest"]
    out = [{"figure": f"ingest, one process, {r['mentions']:,} mentions: PostgreSQL "
                      f"{ing['postgresql']:,.0f}/s, SQLite {ing['sqlite']:,.0f}/s "
                      f"(PG/SQLite {ing['ratio']:.2f}×, median of per-pair ratios; "
                      f"runs {ing['runs']}; CPU s a run, process+server "
                      f"{ing.get('cpu_s')})",
            "target": "PG ≥ SQLite", "met": ing["ratio"] >= 1.0}]
    base = r["embedded_100"]
    one = r["workers"][0]["mentions_per_s"]
    for w in r["workers"]:
        out.append({"figure": f"intake → case, NATS + PG, {w['workers']} worker(s): "
                              f"{w['mentions_per_s']:,.0f}/s ({w['mentions_per_s'] / base:.2f}× "
                              f"embedded, {w['mentions_per_s'] / one:.2f}× one worker; "
                              f"{w['stored']:,}/{w['unique']:,} stored)",
                    "target": "4 workers ≥ 3× one" if w["workers"] == 4 else None,
                    "met": (w["mentions_per_s"] >= 3 * one) if w["workers"] == 4 else None})
    out.append({"figure": f"intake → case, embedded (one process, 100 a transaction, PG): "
                          f"{base:,.0f}/s", "target": None, "met": None})
    e = r["http_embedded"]
    for h in (r["http_nats"], r["http_nats_2"]):
        out.append({"figure": f"HTTP accept with NATS, {h['replicas']} web replica(s): "
                              f"{h['mentions_per_s']:,.0f} mentions/s (4 clients × 100-mention "
                              f"batches, p50 {h['p50_s'] * 1000:.0f} ms, p99 "
                              f"{h['p99_s'] * 1000:.0f} ms; {h['statuses']}); embedded SQLite "
                              f"{e['mentions_per_s']:,.0f}/s → "
                              f"{h['mentions_per_s'] / e['mentions_per_s']:.1f}×",
                    "target": "≥ 10,000/s", "met": h["mentions_per_s"] >= 10_000})
    s = r["steady"]
    out.append({"figure": f"accept → case visible at {s['offered_per_s']:,.0f}/s offered "
                          f"({s['workers']} workers): p50 {s['p50_s'] * 1000:.0f} ms, "
                          f"p99 {s['p99_s'] * 1000:.0f} ms ({s['visible']:,}/{s['accepted']:,} "
                          "visible)", "target": None, "met": None})
    if "burst" in r:
        from escapevelocity.bench.burst import line
        out.append(line(r["burst"]))
    out.append({"figure": f"machine: {r['machine']}; load average {r['load_before']} before, "
                          f"{r['load_after']} after", "target": None, "met": None})
    return out


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 20_000
    r = run(n)
    for line in r["lines"]:
        verdict = {True: "met", False: "MISSED", None: ""}[line.get("met")]
        print(f"- {line['figure']}" + (f"  [{line['target']}: {verdict}]"
                                       if line.get("target") else ""))
    out = Path("var/bench-scale.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(r, indent=1, default=str))
    print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
