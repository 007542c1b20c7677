"""Where the JetStream API answers (issue 20): `$JS.API` by default, `$JS.<domain>.API` under
a JetStream domain (a leaf node reaching its hub's streams), or an account's imported prefix.
nats-py is told through `jetstream(**js_options)`; `_pull` sends its pull requests itself and
the KV writes need the prefix too, so both are checked here without a server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from escapevelocity.adapters.bus.jetstream import JetStream, api_from_env, kv_under_api


@pytest.mark.parametrize(("kwargs", "api", "options"), [
    ({}, "$JS.API", {}),
    ({"domain": "hub"}, "$JS.hub.API", {"domain": "hub"}),
    ({"api_prefix": "JS.acme.API"}, "JS.acme.API", {"prefix": "JS.acme.API"}),
    ({"api_prefix": "JS.acme.API."}, "JS.acme.API", {"prefix": "JS.acme.API"}),
])
def test_the_pull_subject_goes_under_the_configured_api(kwargs, api, options):
    js = JetStream("nats://x:4222", "evt", **kwargs)
    assert js.pull_subject(3) == f"{api}.CONSUMER.MSG.NEXT.EVT_MENTIONS.triage-3"
    assert js.js_options == options


@pytest.mark.parametrize(("env", "expected"), [
    ({}, {}),
    ({"EV_NATS_JS_DOMAIN": "hub"}, {"domain": "hub"}),
    ({"EV_NATS_API_PREFIX": "JS.acme.API."}, {"api_prefix": "JS.acme.API"}),
    ({"EV_NATS_JS_DOMAIN": " ", "EV_NATS_API_PREFIX": ""}, {}),
])
def test_the_api_comes_from_the_environment(env, expected):
    assert api_from_env(env) == expected


@pytest.mark.parametrize("env", [
    {"EV_NATS_JS_DOMAIN": "hub", "EV_NATS_API_PREFIX": "JS.acme.API"},  # which one?
    {"EV_NATS_JS_DOMAIN": "hub.east"},  # a domain is one token
    {"EV_NATS_JS_DOMAIN": "h*b"},
    {"EV_NATS_API_PREFIX": "JS.>.API"},
    {"EV_NATS_API_PREFIX": "JS..API"},
])
def test_a_bad_api_setting_is_refused_loudly(env):
    with pytest.raises(ValueError, match="EV_NATS"):
        api_from_env(env)


class _Msg:
    def __init__(self, status: str) -> None:
        self.headers = {"Status": status}


class _Nc:
    """Just enough of a NATS connection for `_pull`: the request's subject is noted and the
    server's answer is "nothing waiting" (a 404 status that ends it)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self._cb: Any = None

    def new_inbox(self) -> str:
        return "_INBOX.t"

    async def subscribe(self, subject: str, cb: Any) -> Any:
        self._cb = cb
        nc = self

        class Sub:
            async def unsubscribe(self) -> None:
                nc._cb = None
        return Sub()

    async def publish(self, subject: str, data: bytes, reply: str = "") -> None:
        self.sent.append(subject)
        await self._cb(_Msg("404"))


@pytest.mark.parametrize(("kwargs", "api"), [({}, "$JS.API"), ({"domain": "hub"}, "$JS.hub.API"),
                                             ({"api_prefix": "JS.acme.API"}, "JS.acme.API")])
def test_pull_sends_its_request_under_the_configured_api(kwargs, api):
    js = JetStream("nats://x:4222", "evt", **kwargs)
    js.nc = _Nc()
    js._subs[5] = object()  # the durable consumer exists
    assert asyncio.run(js._pull(5, 10)) == []
    assert js.nc.sent == [f"{api}.CONSUMER.MSG.NEXT.EVT_MENTIONS.triage-5"]


class _Js:
    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, subject: str, *args: Any, **kwargs: Any) -> str:
        self.published.append(subject)
        return "ack"

    async def get_msg(self, *args: Any, **kwargs: Any) -> str:
        return "read"


class _Kv:
    def __init__(self) -> None:
        self._js = _Js()


def test_kv_writes_go_under_a_domain_and_reads_are_left_alone():
    plain, domain = _Kv(), _Kv()
    asyncio.run(kv_under_api(plain, {})._js.publish("$KV.B.k", b""))
    assert plain._js.published == ["$KV.B.k"]
    inner = domain._js
    kv_under_api(domain, {"domain": "hub"})
    assert asyncio.run(domain._js.publish("$KV.B.k", b"")) == "ack"
    assert asyncio.run(domain._js.get_msg("KV_B")) == "read"
    assert inner.published == ["$JS.hub.API.$KV.B.k"]
