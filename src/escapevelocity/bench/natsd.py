"""A private nats-server with JetStream for benchmarks and fault tests: its own port and store
directory, started and stopped (or killed) by whoever owns it, never the machine's shared one.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

NATS_SERVER = os.environ.get("EV_NATS_SERVER",
                             shutil.which("nats-server") or "/usr/sbin/nats-server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available() -> bool:
    return os.access(NATS_SERVER, os.X_OK)


class NatsServer:
    """`start()` / `stop()` / `restart()`; the store directory outlives restarts (JetStream
    keeps its streams there), and is removed by `close()`."""

    def __init__(self, port: int | None = None, store_dir: str | None = None,
                 conf: str = "") -> None:
        """`conf`: nats-server configuration beside the command line's (a JetStream domain,
        leaf node links); the port, address and store directory stay the command line's."""
        self.port = port or free_port()
        self._own_dir = store_dir is None
        self.store_dir = store_dir or tempfile.mkdtemp(prefix="ev-nats-")
        self.conf = conf
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, wait_s: float = 10.0) -> NatsServer:
        log = Path(self.store_dir) / "server.log"
        conf = []
        if self.conf:
            path = Path(self.store_dir) / "server.conf"
            path.write_text(self.conf)
            conf = ["-c", str(path)]
        self.proc = subprocess.Popen(
            [NATS_SERVER, *conf, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd",
             self.store_dir, "-l", str(log)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    if s.recv(4).startswith(b"INFO"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not start on {self.port}")

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()
