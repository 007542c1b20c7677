"""Issue 15.3 and 15.4: concurrent duplicates and values that used to crash the write. Every
good item of a request is stored exactly once, whatever runs beside it, on both databases."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from escapevelocity.config import load_settings
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services.ingest import ingest_batch
from escapevelocity.web.app import create_app

T0 = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)


def m(sid: str, handle: str, minutes: int = 0, reply_to: str | None = None) -> Mention:
    return Mention(source_id=sid, channel="twitter", text=f"my router {sid} is down, help",
                   author=Author(handle=handle), created_at=T0 + timedelta(minutes=minutes),
                   kind="reply" if reply_to else "post", in_reply_to=reply_to)


def _stored(ws) -> dict[str, int]:
    with ws.store.begin() as tx:
        rows = tx.conn.exec_driver_sql("SELECT channel, source_id FROM mentions").all()
        cases = tx.count("cases")
        opened = tx.conn.exec_driver_sql("SELECT count(*) FROM events WHERE kind = 'opened'"
                                      ).scalar_one()
    keys: dict[str, int] = {}
    for c, s in rows:
        keys[f"{c}:{s}"] = keys.get(f"{c}:{s}", 0) + 1
    assert cases == opened  # one case per opened event: no case was opened twice
    return keys


def _race(ws, clock, batches: list[list[Mention]]) -> list:
    """Run the batches at once, one thread each, released together."""
    triager = ws.triager()
    gate = threading.Barrier(len(batches))
    out: list = [None] * len(batches)

    def run(i: int) -> None:
        gate.wait()
        try:
            out[i] = ingest_batch(ws.store, triager, clock.now(), batches[i])
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def test_the_same_batch_twice_at_once_stores_each_mention_once(workspace, clock):
    batch = [m(str(i), f"user{i % 7}", i) for i in range(40)]
    for _ in range(3):
        results = _race(workspace, clock, [batch, batch])
        assert not [r for r in results if isinstance(r, Exception)], results
    keys = _stored(workspace)
    assert len(keys) == 40 and set(keys.values()) == {1}
    first = results  # the last round: everything was there already
    assert all(r.duplicates == 40 for r in first)


def test_eight_interleaved_writers_with_duplicates_store_every_key_once(workspace, clock):
    rnd = random.Random(15)
    pool = [m(str(i), f"author{rnd.randrange(30)}", i,
              reply_to=str(rnd.randrange(i)) if i > 5 and rnd.random() < 0.2 else None)
            for i in range(400)]
    batches = [rnd.sample(pool, 120) for _ in range(8)]
    results = _race(workspace, clock, batches)
    assert not [r for r in results if isinstance(r, Exception)], results
    keys = _stored(workspace)
    expected = {x.key for b in batches for x in b}
    assert set(keys) == expected and set(keys.values()) == {1}
    assert sum(r.accepted for r in results) == len(expected)  # acknowledged = stored


def test_the_same_keys_under_other_authors_at_once_are_stored_once(workspace, clock):
    """Ingest queues writers on their authors' locks; hostile input can send a mention key
    again under another author, which those locks do not see. The unique index refuses the
    later writer's copy and its batch is planned again: each key once, one case per key."""
    keys = [str(i) for i in range(30)]
    batches = [[m(k, f"{who}{i % 5}", i) for i, k in enumerate(keys)] for who in ("a", "b", "c")]
    accepted = opened = 0
    for _ in range(2):
        results = _race(workspace, clock, batches)
        assert not [r for r in results if isinstance(r, Exception)], results
        accepted += sum(r.accepted for r in results)
        opened += sum(r.opened for r in results)
    stored = _stored(workspace)  # also: one case per opened event
    assert len(stored) == 30 and set(stored.values()) == {1}
    assert accepted == 30  # acknowledged = stored, the second round all duplicates
    with workspace.store.begin() as tx:
        assert tx.count("cases") == opened


BAD_VALUES = {
    "NUL in the text": {"text": "fine until \u0000 here"},
    "NUL in the handle": {"author": "kim\u0000"},
    "NUL in the source id": {"source_id": "x\u0000y"},
    "UTC conversion overflows": {"created_at": "9999-12-31T23:59:59-01:00"},
    "far future": {"created_at": "9999-12-30T00:00:00Z"},
    "before the social web": {"created_at": "1970-01-01T00:00:00Z"},
    "a million-character lang": {"lang": "x" * 1_000_000},
    "a long url": {"url": "https://e.x/" + "a" * 5000},
    "deep JSON in an unknown field": {"extra": json.loads("[" * 200 + "]" * 200)},
}


def _item(i: int, **override) -> dict:
    return {"source_id": f"g{i}", "channel": "twitter", "text": f"my router {i} is down",
            "author": f"user{i}", "created_at": "2026-11-20T13:00:00Z"} | override


def test_bad_values_are_refused_with_their_reason_and_good_items_kept(workspace, clock):
    settings = load_settings({"EV_DATABASE_URL": workspace.store.url,
                              "EV_SECRET_KEY": "s" * 32, "EV_MAX_BODY_BYTES": "50000000"})
    app = create_app(workspace, settings, tick_seconds=None)
    token = workspace.new_api_token("probe")
    with TestClient(app, raise_server_exceptions=False) as client:
        for n, (name, bad) in enumerate(BAD_VALUES.items()):
            body = [_item(3 * n), _item(3 * n + 1, **bad), _item(3 * n + 2)]
            r = client.post("/api/mentions", content=json.dumps(body),
                            headers={"Authorization": f"Bearer {token}",
                                     "Content-Type": "application/json"})
            assert r.status_code == 202, (name, r.status_code, r.text[:300])
            got = r.json()
            if name == "deep JSON in an unknown field":  # an unknown field is ignored
                assert got["accepted"] == 3, name
                continue
            assert got["accepted"] == 2, (name, got)
            [refused] = got["refused"]
            assert refused["item"] == 2 and refused["reason"], name
        r = client.post("/api/mentions", content=b"[" * 100_000 + b"]" * 100_000,
                        headers={"Authorization": f"Bearer {token}",
                                 "Content-Type": "application/json"})
        assert r.status_code == 400 and "deep" in r.json()["detail"]
    keys = _stored(workspace)
    assert len(keys) == 3 * len(BAD_VALUES) - (len(BAD_VALUES) - 1)


def test_ev_ingest_keeps_the_good_lines_around_a_bad_one(db_url, tmp_path):
    from typer.testing import CliRunner

    from escapevelocity.cli.main import app

    env = {"EV_DATABASE_URL": db_url, "EV_VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    ev = [sys.executable, "-m", "escapevelocity.cli.main"]
    # the workspace is made here (a process start less); the two runs of the file are processes
    made = CliRunner().invoke(app, ["workspace", "init"], env=env)
    assert made.exit_code == 0, made.output
    now = datetime.now(UTC).replace(microsecond=0)
    lines = [_item(1, created_at=now.isoformat()),
             _item(2, created_at="9999-12-31T23:59:59-01:00"),
             _item(3, text="nul \u0000", created_at=now.isoformat()),
             _item(4, lang="en" * 100, created_at=now.isoformat()),
             _item(5, created_at=now.isoformat())]
    path = tmp_path / "m.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    runs = [subprocess.Popen([*ev, "ingest", str(path), "--no-crisis"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]  # two runs of the same file at once
    outs = [r.communicate(timeout=180) for r in runs]
    for r, (_out, err) in zip(runs, outs, strict=True):
        assert r.returncode == 0 and "Traceback" not in err, err[-2000:]
    accepted = [int(out.split("accepted ")[1].split(",")[0]) for out, _ in outs]
    assert sum(accepted) == 2  # g1 and g5, each stored by exactly one of the runs
    assert all(err.count(":2:") + err.count(":3:") + err.count(":4:") >= 3 for _, err in outs)
