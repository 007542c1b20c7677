"""Load test of the mentions API (issue 15 must-show): 8 clients post realistic interleaved
batches with duplicates to a real `ev serve` on 127.0.0.1 for a while; on PostgreSQL an
operator's `pg_terminate_backend` cuts the server's connections every couple of seconds.

Judged on: 0 server errors (5xx), 0 broken keep-alive connections, every acknowledged
mention stored, every stored key stored once and nothing stored that was never sent.

    python -m escapevelocity.bench.load sqlite 60
    python -m escapevelocity.bench.load postgres 60
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

PG_BASE = "postgresql://postgres@127.0.0.1:5432"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pool(n: int, seed: int) -> list[dict]:
    """Generated mentions (threads, follow-ups, the generator's own re-deliveries) dated in
    the last hour, as the wire shape."""
    import msgspec

    from escapevelocity.demo.generator import generate

    start = datetime.now(UTC) - timedelta(hours=1)
    return [msgspec.to_builtins(m) for m in
            generate(n, seed=seed, start=start, mean_gap_seconds=3000 / n)]


def _client(port: int, token: str, batches: list[list[dict]], stop: threading.Event,
            tally: dict, acked: set, lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for batch in batches:
        if stop.is_set():
            break
        body = json.dumps(batch)
        try:
            conn.request("POST", "/api/mentions", body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            status = r.status
            closed = (r.getheader("connection") or "").lower() == "close"
        except (http.client.HTTPException, OSError):
            status, closed = 0, True
        with lock:
            tally[status] = tally.get(status, 0) + 1
            if status == 202:
                acked.update(f"{m['channel']}:{m['source_id']}" for m in batch)
            if closed:
                tally["connections_broken"] = tally.get("connections_broken", 0) + 1
        if closed:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.close()


def _plan(pool: list[dict], clients: int, per_client: int, rnd: random.Random
          ) -> list[list[list[dict]]]:
    """Each client walks the stream in its own stride (interleaved with the others), batches
    of 10-80; a fifth of its batches are resent whole (a client retry) or mixed with items
    another client sends too (a channel redelivery)."""
    out = []
    for c in range(clients):
        mine = pool[c::clients]
        batches, i = [], 0
        while len(batches) < per_client:
            size = rnd.randint(10, 80)
            chunk = mine[i:i + size] or rnd.sample(pool, size)
            i += size
            roll = rnd.random()
            if roll < 0.1 and batches:
                chunk = list(rnd.choice(batches))
            elif roll < 0.2:
                chunk = chunk + rnd.sample(pool, min(len(pool), size // 2))
            batches.append(chunk)
        out.append(batches)
    return out


def _killer(url: str, stop: threading.Event, every: float, tally: dict) -> None:
    name = url.rsplit("/", 1)[1]
    engine = sa.create_engine(f"{PG_BASE.replace('postgresql', 'postgresql+psycopg')}/postgres",
                              isolation_level="AUTOCOMMIT")
    try:
        while not stop.wait(every):
            with engine.connect() as conn:
                n = conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": name}).scalar()
            tally["terminated"] = tally.get("terminated", 0) + (n or 0)
    finally:
        engine.dispose()


def run(db: str = "sqlite", seconds: float = 60.0, clients: int = 8, url: str | None = None,
        kill_every: float = 4.0, seed: int = 15) -> dict:
    """Run the load test; `url` an existing workspace (else a fresh one is made)."""
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    tmp = tempfile.TemporaryDirectory()
    folder = Path(tmp.name)
    if url is None:
        if db == "sqlite":
            url = f"sqlite:///{folder / 'load.db'}"
        else:
            url = f"{PG_BASE}/ev_load_{os.getpid()}"
            engine = sa.create_engine(f"{PG_BASE.replace('postgresql', 'postgresql+psycopg')}"
                                      "/postgres", isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')
                conn.exec_driver_sql(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"')
            engine.dispose()
        ws = Workspace.open(url, SystemClock())
        seed_demo(ws, password="load-test-password")
    else:
        ws = Workspace.open(url, SystemClock())
    token = ws.new_api_token("load")
    with ws.store.begin() as tx:
        before = tx.mentions.keys()
    ws.store.close()
    port = _free_port()
    env = dict(os.environ, EV_DATABASE_URL=url, EV_VAR_DIR=str(folder),
               EV_SECRET_KEY="load-test-secret-key-0123456789")
    ev = Path(sys.executable).with_name("ev")
    log_path = folder / "serve.log"
    log_file = log_path.open("wb")  # a file, not a pipe: a chatty server never blocks on it
    server = subprocess.Popen([str(ev), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=log_file)
    stop = threading.Event()
    tally: dict = {}
    acked: set[str] = set()
    lock = threading.Lock()
    try:
        # the clients' plans are made while the server starts (its imports take seconds)
        rnd = random.Random(seed)
        per_client = max(20, int(seconds * 6))
        pool = _pool(per_client * clients * 25, seed)
        plans = _plan(pool, clients, per_client, rnd)
        _wait_up(port, server)
        threads = [threading.Thread(target=_client, args=(port, token, plans[c], stop, tally,
                                                         acked, lock)) for c in range(clients)]
        if db != "sqlite" and kill_every:
            threads.append(threading.Thread(target=_killer, args=(url, stop, kill_every, tally)))
        began = time.perf_counter()
        for t in threads:
            t.start()
        # the clients post for `seconds`, or until each has sent its plan: a server left idle
        # for the rest would add nothing but the wait (and understate the request rate)
        for t in threads[:clients]:
            t.join(max(began + seconds - time.perf_counter(), 0.0))
        stop.set()
        for t in threads:
            t.join(300)
        elapsed = time.perf_counter() - began
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log_file.close()
        err = log_path.read_bytes()
        Path(tempfile.gettempdir(), f"ev-load-{db}.log").write_bytes(err)  # for a post-mortem
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT channel, source_id FROM mentions").all()
    engine.dispose()
    stored = Counter(f"{c}:{s}" for c, s in rows)
    sent = {f"{m['channel']}:{m['source_id']}" for plan in plans for b in plan for m in b}
    errors = sum(n for k, n in tally.items() if isinstance(k, int) and (k >= 500 or k == 0))
    result = {
        "db": db, "seconds": round(elapsed, 1), "clients": clients,
        "requests": sum(n for k, n in tally.items() if isinstance(k, int)),
        "statuses": {str(k): v for k, v in tally.items() if isinstance(k, int)},
        "server_errors": errors, "connections_broken": tally.get("connections_broken", 0),
        "pg_connections_terminated": tally.get("terminated", 0),
        "acknowledged": len(acked), "stored": len(set(stored) - before),
        "acknowledged_not_stored": len(acked - set(stored)),
        "stored_twice": sum(1 for n in stored.values() if n > 1),
        "stored_never_sent": len(set(stored) - sent - before),
        "server_tracebacks": err.decode(errors="replace").count("Traceback"),
    }
    result["ok"] = (errors == 0 and result["acknowledged_not_stored"] == 0
                    and result["stored_twice"] == 0 and result["connections_broken"] == 0
                    and result["stored_never_sent"] == 0)
    if not result["ok"]:
        result["server_log_tail"] = err.decode(errors="replace")[-3000:]
    if db != "sqlite" and url.rsplit("/", 1)[1].startswith("ev_load_"):
        engine = sa.create_engine(f"{PG_BASE.replace('postgresql', 'postgresql+psycopg')}"
                                  "/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" '
                                 "WITH (FORCE)")
        engine.dispose()
    tmp.cleanup()
    result["lines"] = [{"figure": f"{db}: {result['requests']} requests in {result['seconds']} s"
                        f" by {clients} clients, {result['acknowledged']} keys acknowledged, "
                        f"{result['stored']} stored, {errors} server errors, "
                        f"{result['connections_broken']} connections broken, "
                        f"{result['pg_connections_terminated']} PG connections terminated",
                        "target": "0 errors, acknowledged = stored, each key once",
                        "met": result["ok"]}]
    return result


def _wait_up(port: int, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("ev serve exited while starting")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                c.close()
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("ev serve did not come up")


def both(seconds: float = 60.0) -> dict:
    """`make bench`: the load test on SQLite, then on PostgreSQL with terminations."""
    out = {db: run(db, seconds) for db in ("sqlite", "postgres")}
    out["lines"] = [line for r in out.values() for line in r["lines"]]
    return out


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 60.0),
                     indent=1))
