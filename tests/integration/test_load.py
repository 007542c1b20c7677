"""Issue 15 must-show, in the suite (short): 8 clients post interleaved batches with
duplicates to a real `ev serve`, PostgreSQL backends terminated mid-run; `make bench` runs the
same for 60 s on both databases."""

from __future__ import annotations

import pytest

from escapevelocity.bench.load import run


@pytest.mark.slow
@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_eight_clients_with_duplicates_and_cut_connections_lose_and_double_nothing(db, request):
    if db == "postgres":
        request.getfixturevalue("pg_url")  # PostgreSQL must be there (fails in CI if not)
    # 6 s of load, PostgreSQL's connections cut every 2 s: three cuts mid-run, as 10 s with
    # cuts every 3 s made (the clients never finish their plans this soon: the load is
    # continuous; `make bench` runs it for 60 s)
    r = run(db, seconds=6, clients=8, kill_every=2.0)
    assert r["requests"] > 8
    assert r["server_errors"] == 0, r.get("server_log_tail")
    assert r["connections_broken"] == 0
    assert r["acknowledged_not_stored"] == 0 and r["stored_twice"] == 0
    assert r["stored_never_sent"] == 0 and r["acknowledged"] == r["stored"]
    if db == "postgres":
        assert r["pg_connections_terminated"] > 0
