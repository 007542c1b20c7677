"""The scale-out intake through a JetStream domain or an imported API prefix (issue 20), on
real nats-servers of our own.

Domain: a hub with domain `hub` holding the streams and buckets, and a leaf node (with its own
JetStream, domain `leaf`) that the workers connect to, as a site or an edge deployment would.
On the leaf `$JS.API` is the leaf's own JetStream, so every API call, pull request and KV
write must go under `$JS.hub.API` (EV_NATS_JS_DOMAIN=hub) to reach the hub's streams.

API prefix: one server, the streams in account JS, the workers in account APP, which has no
JetStream of its own and imports JS's API as `JS.acme.API` (EV_NATS_API_PREFIX), with the
acknowledgements, the KV writes and the intake's subjects: the configuration docs/deploy.md
gives operators."""

from __future__ import annotations

import asyncio
import importlib.util
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from needs import require

from escapevelocity.bench import natsd


@pytest.fixture(scope="module")
def hub_and_leaf() -> Iterator[tuple[natsd.NatsServer, natsd.NatsServer]]:
    require(natsd.available(), f"nats-server at {natsd.NATS_SERVER}")
    require(importlib.util.find_spec("nats") is not None, "the scale extra (nats-py)")
    link = natsd.free_port()
    hub = natsd.NatsServer(conf="jetstream { domain: hub }\n"
                                f'leafnodes {{ listen: "127.0.0.1:{link}" }}\n').start()
    leaf = natsd.NatsServer(conf="jetstream { domain: leaf }\n"
                                 "leafnodes { remotes: [ { url: "
                                 f'"nats-leaf://127.0.0.1:{link}" }} ] }}\n')
    try:
        leaf.start()
        asyncio.run(_until_linked(leaf.url))
        yield hub, leaf
    finally:
        leaf.close()
        hub.close()


async def _until_linked(url: str) -> None:
    """The leaf's link to the hub is up: the hub's JetStream answers through it."""
    import nats

    nc = await nats.connect(url)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                await nc.request("$JS.hub.API.INFO", b"", timeout=0.5)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
    finally:
        await nc.close()


# docs/deploy.md shows this configuration: keep the two in step
ACCOUNTS = """
accounts {
  JS {
    jetstream: enabled
    users: [ {user: js, password: js} ]
    exports: [
      {service: "$JS.API.>", response_type: stream}
      {service: "$JS.ACK.>"}
      {service: "$KV.>"}
      {service: "eva.>"}
    ]
  }
  APP {
    users: [ {user: app, password: app} ]
    imports: [
      {service: {account: JS, subject: "$JS.API.>"}, to: "JS.acme.API.>"}
      {service: {account: JS, subject: "$JS.ACK.>"}}
      {service: {account: JS, subject: "$KV.>"}, to: "JS.acme.API.$KV.>"}
      {service: {account: JS, subject: "eva.>"}}
    ]
  }
}
"""


@pytest.fixture(scope="module")
def accounts() -> Iterator[natsd.NatsServer]:
    require(natsd.available(), f"nats-server at {natsd.NATS_SERVER}")
    require(importlib.util.find_spec("nats") is not None, "the scale extra (nats-py)")
    server = natsd.NatsServer(conf=ACCOUNTS).start()
    yield server
    server.close()


class _Recorder:
    def __init__(self, committed: list[str]) -> None:
        self.committed = committed

    def take(self, mentions: list) -> None:
        self.committed.extend(m.source_id for m in mentions)


def _posts(prefix: str, n: int, seed: int) -> list:
    """`n` generated posts, each its own conversation, with ids under `prefix`."""
    import msgspec

    from escapevelocity.demo.generator import generate

    return [msgspec.structs.replace(m, source_id=f"{prefix}-{i:03d}", in_reply_to=None,
                                    thread_id=None)
            for i, m in enumerate(generate(n, seed=seed, start=datetime.now(UTC)))]


async def _work_until_drained(js, posts: list, committed: list[str], poison_partition: int
                              ) -> None:
    """A worker takes `posts` and an undecodable message on `poison_partition` through `js`
    until nothing is left (20 s at most); a tick is taken once. The worker is stopped."""
    from escapevelocity.services.triage_worker import TriageWorker

    worker = TriageWorker(_Recorder(committed), js, tick_seconds=None)
    task = asyncio.create_task(worker.run())
    try:
        await js.publish(posts)
        await js.publish_raw(poison_partition, b"{not json")
        deadline = time.monotonic() + 20
        while (len(committed) < len(posts) or await js.lag()) and \
                time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await js.take_tick(7, "a", 5.0) and not await js.take_tick(7, "b", 5.0)
    finally:
        worker.stop.set()
        await task


def test_a_worker_on_a_leaf_node_works_the_hubs_stream(hub_and_leaf, monkeypatch):
    from escapevelocity.adapters.bus.jetstream import JetStream, api_from_env

    hub, leaf = hub_and_leaf
    prefix = f"dm{uuid.uuid4().hex[:6]}"
    monkeypatch.setenv("EV_NATS_JS_DOMAIN", "hub")
    api = api_from_env()
    posts = _posts(prefix, 60, seed=9)
    committed: list[str] = []

    async def go() -> None:
        js = await JetStream(leaf.url, prefix, **api).connect()
        on_hub = await JetStream(hub.url, prefix).connect()
        await _work_until_drained(js, posts, committed, poison_partition=1)
        try:
            assert await js.lag() == 0
            # the hub holds the streams and the dead letter; the leaf's own JetStream nothing
            assert (await on_hub.js.stream_info(js.stream)).config.name == js.stream
            assert [d.reason[:15] for d in await on_hub.dead()] == ["does not decode"]
            import nats

            leaf_own = await nats.connect(leaf.url)
            try:
                names = await leaf_own.jetstream().streams_info()
                assert not [s for s in names if prefix.upper() in s.config.name]
            finally:
                await leaf_own.close()
        finally:
            await js.close()
            await on_hub.close()

    asyncio.run(go())
    assert sorted(committed) == sorted(p.source_id for p in posts)


def test_presence_through_a_domain(hub_and_leaf):
    from escapevelocity.adapters import presence

    _, leaf = hub_and_leaf
    prefix = f"dp{uuid.uuid4().hex[:6]}"

    async def go() -> dict[str, str]:
        import nats

        nc = await nats.connect(leaf.url)
        try:
            here = presence.NatsPresence(nc, prefix, js_options={"domain": "hub"})
            now = datetime.now(UTC)
            await here.beat("case-1", "ana", "typing", now)
            return await here.on("case-1", now)
        finally:
            await nc.close()

    assert asyncio.run(go()) == {"ana": "typing"}


def test_a_worker_in_an_account_importing_jetstream(accounts, monkeypatch):
    from escapevelocity.adapters.bus.jetstream import JetStream, api_from_env

    monkeypatch.setenv("EV_NATS_API_PREFIX", "JS.acme.API")
    app_url = accounts.url.replace("nats://", "nats://app:app@")
    posts = _posts("acc", 40, seed=10)
    committed: list[str] = []

    async def go() -> None:
        js = await JetStream(app_url, "eva", **api_from_env()).connect()
        await _work_until_drained(js, posts, committed, poison_partition=2)
        try:
            assert await js.lag() == 0
            assert [d.reason[:15] for d in await js.dead()] == ["does not decode"]
        finally:
            await js.close()

    asyncio.run(go())
    assert sorted(committed) == sorted(p.source_id for p in posts)
