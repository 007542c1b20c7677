"""Presence across web replicas (issue 20), on real PostgreSQL and a nats-server of our own:
who views or types on a case is kept in the NATS key-value bucket `<PREFIX>_presence`, so a
member whose heartbeat lands on one replica is told of a colleague whose page beats on
another. In the embedded mode it stays in memory (tests/integration/test_search.py).

Two app instances over one database and one NATS play the two replicas behind a load
balancer. Claims need nothing of the kind: they are columns of the case (`claimed_by`,
`claim_until`) in the database every replica writes, checked here too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import timedelta

import pytest
from test_scale_out import _app, nats_server, pg  # noqa: F401
from web_kit import login

from escapevelocity.bench import natsd

pytestmark = pytest.mark.postgres
PASSWORD = "scale-test-password"
TTL_S = 1.0  # the heartbeat expiry in these tests (15 s in a deployment)


@pytest.fixture(autouse=True)
def short_ttl(monkeypatch) -> str:
    """A short expiry and a bucket of the test's own (the bucket's max age is set when made)."""
    prefix = f"p{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EV_NATS_PREFIX", prefix)
    monkeypatch.setattr("escapevelocity.adapters.presence.TTL", timedelta(seconds=TTL_S))
    return prefix


def _case(ws) -> str:
    from escapevelocity.domain import cases as projection
    from escapevelocity.domain.records import Author, Mention
    from escapevelocity.services.ingest import ingest

    tag = uuid.uuid4().hex[:10]  # a new author: a new case, not a follow-up of another test's
    m = Mention(source_id=f"presence-{tag}", channel="twitter",
                text="my bill is wrong, please help", author=Author(handle=f"p_{tag}"),
                created_at=ws.clock.now())
    ingest(ws.store, ws.triager(), ws.clock, [m])
    return projection.case_id_for(m.key)


def _beat(client, csrf: str, case: str, state: str = "viewing"):
    return client.post(f"/cases/{case}/presence", data={"state": state},
                       headers={"X-CSRF-Token": csrf, "Accept": "application/json"})


def test_a_viewer_on_one_replica_is_seen_from_the_other_and_fades_out(
        nats_server, pg, short_ttl):  # noqa: F811
    from fastapi.testclient import TestClient

    from escapevelocity.domain.case_errors import ClaimTaken
    from escapevelocity.services import cases

    one, ws1 = _app(pg, nats_server.url)
    two, ws2 = _app(pg, nats_server.url)
    case = _case(ws1)
    with TestClient(one) as c1, TestClient(two) as c2:
        assert type(one.state.presence).__name__ == "NatsPresence"
        sam, sc = login(c1, "sam", PASSWORD)  # the load balancer sent sam to replica 1
        ana, ac = login(c2, "ana", PASSWORD)  # and ana to replica 2
        assert _beat(sam, sc, case).json() == {"others": []}
        r = _beat(ana, ac, case)
        assert r.json() == {"others": [{"member": "sam", "state": "viewing"}]}
        r = _beat(sam, sc, case, "typing")
        assert r.json() == {"others": [{"member": "ana", "state": "viewing"}]}
        assert _beat(ana, ac, case).json() == {"others": [{"member": "sam",
                                                           "state": "typing"}]}
        # sam's tab closes without a word: after the expiry ana's beats no longer name him
        time.sleep(TTL_S + 0.3)
        assert _beat(ana, ac, case).json() == {"others": []}
        _beat(sam, sc, case)
        assert _beat(ana, ac, case).json()["others"] == [{"member": "sam", "state": "viewing"}]
        r = sam.post(f"/cases/{case}/presence", data={"state": "gone"},
                     headers={"X-CSRF-Token": sc})  # pagehide: gone at once, not after TTL
        assert r.json() == {"others": [{"member": "ana", "state": "viewing"}]}
        assert _beat(ana, ac, case).json() == {"others": []}

        # The bucket itself forgets a case nobody beat on for the expiry (its max age).
        async def bucket() -> tuple[float, bool]:
            import nats
            from nats.js.errors import KeyNotFoundError

            from escapevelocity.adapters.presence import _key

            nc = await nats.connect(nats_server.url)
            kv = await nc.jetstream().key_value(f"{short_ttl.upper()}_presence")
            ttl = (await kv.status()).ttl
            deadline = time.monotonic() + TTL_S + 5
            gone = False
            while not gone and time.monotonic() < deadline:
                try:
                    await kv.get(_key(case))
                    await asyncio.sleep(0.2)
                except KeyNotFoundError:
                    gone = True
            await nc.close()
            return ttl, gone

        ttl, gone = asyncio.run(bucket())
        assert ttl == pytest.approx(TTL_S) and gone

        # Claims are global already: the claim is the case's row in PostgreSQL.
        cases.claim(ws1.store, ws1.clock, case, "sam")
        with ws2.store.begin() as tx:
            assert tx.cases.get(case).claimed_by == "sam"
        with pytest.raises(ClaimTaken):
            cases.claim(ws2.store, ws2.clock, case, "ana")
    ws1.store.close()
    ws2.store.close()


def test_nats_down_answers_503_with_the_reason_logged_once_and_recovers(pg, caplog):  # noqa: F811
    """Not a 500 at every heartbeat: a 503 saying why (JSON for the page's script, the error
    page for a person), one warning in the log, and presence again once NATS is back."""
    from fastapi.testclient import TestClient

    server = natsd.NatsServer().start()  # our own: this test stops it
    try:
        app, ws = _app(pg, server.url)
        case = _case(ws)
        with TestClient(app) as client:
            sam, sc = login(client, "sam", PASSWORD)
            assert _beat(sam, sc, case).status_code == 200
            server.stop()
            deadline = time.monotonic() + 5
            while app.state.publisher.nc.is_connected and time.monotonic() < deadline:
                time.sleep(0.05)
            caplog.set_level(logging.INFO, logger="escapevelocity.adapters.presence")
            caplog.clear()
            for _ in range(3):
                t0 = time.monotonic()
                r = _beat(sam, sc, case)
                assert r.status_code == 503 and time.monotonic() - t0 < 1.5
                assert "unknown for now" in r.json()["detail"]
                assert r.headers["retry-after"] == "5"
            page = sam.post(f"/cases/{case}/presence", data={"state": "viewing"},
                            headers={"X-CSRF-Token": sc, "Accept": "text/html"})
            assert page.status_code == 503 and "unknown for now" in page.text
            assert "<html" in page.text.lower()
            warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
            assert len(warnings) == 1 and "presence unavailable" in warnings[0].getMessage()
            assert client.get("/inbox").status_code == 200  # the rest of the app carries on

            server.start()
            deadline = time.monotonic() + 10
            while not app.state.publisher.nc.is_connected and time.monotonic() < deadline:
                time.sleep(0.05)
            deadline = time.monotonic() + 10
            r = _beat(sam, sc, case)
            while r.status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)
                r = _beat(sam, sc, case)
            assert r.status_code == 200 and r.json() == {"others": []}
            assert any("presence is back" in x.getMessage() for x in caplog.records)

            # A NATS that comes back without its store (a new server on the same address):
            # the bucket is made again, presence resumes.
            server.stop()
            fresh = natsd.NatsServer(port=server.port).start()
            try:
                deadline = time.monotonic() + 20
                r = _beat(sam, sc, case)
                while r.status_code != 200 and time.monotonic() < deadline:
                    time.sleep(0.2)
                    r = _beat(sam, sc, case)
                assert r.status_code == 200 and r.json() == {"others": []}
            finally:
                fresh.close()
        ws.store.close()
    finally:
        server.close()
