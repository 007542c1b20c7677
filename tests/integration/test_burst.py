"""The burst of `make bench-scale` (bench/burst.py), scaled down: 5,000 mentions posted over
HTTP to `ev serve` with a nats-server of our own, the workers started only once all are
accepted (so the backlog certainly waits in the stream), then drained. Counts mentions in
against rows out, and reads the queue lag from /metrics: above 0 during, 0 after.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import pytest
from needs import require

from escapevelocity.bench import natsd

pytestmark = pytest.mark.postgres


def test_a_burst_is_accepted_drained_and_counted():
    from escapevelocity.bench.burst import burst

    require(natsd.available(), f"nats-server at {natsd.NATS_SERVER}")
    require(importlib.util.find_spec("nats") is not None, "the scale extra (nats-py)")
    from escapevelocity.bench.scale import Databases

    try:
        dbs = Databases()
    except Exception as exc:
        require(False, f"PostgreSQL at 127.0.0.1:5432 ({exc.__class__.__name__})")
        return
    nats = natsd.NatsServer().start()
    try:
        b = burst(dbs, nats, Path(tempfile.mkdtemp(prefix="ev-test-burst-")), 5000,
                  workers=2, workers_after=True, timeout_s=60)
    finally:
        nats.close()
        dbs.drop()
    assert b["statuses"] == {202: 50}
    assert b["stored"] == b["unique"], "lost mentions"
    assert b["brought"] == b["brought_distinct"] == b["unique"], "a mention brought in twice"
    assert 0 < b["cases"] <= b["unique"]
    assert b["lag_max"] > 0, f"the backlog never showed on /metrics: {b['lag_samples']}"
    assert b["lag_last"] == 0, f"the lag did not come back to 0: {b['lag_samples'][-5:]}"
