"""Bluesky accounts named by handle: resolved to DIDs with com.atproto.identity.resolveHandle
against a fake XRPC server on 127.0.0.1 (which fails once on purpose), then Jetstream is asked
for those DIDs only and their posts carry the handle."""

from __future__ import annotations

import pytest
from channel_kit import FakeHttp, add_connection, connection, json_response, runner_for
from test_channel_bluesky import FakeJetstream

pytest.importorskip("websockets")


def test_handles_become_dids_and_name_their_authors(workspace):
    resolved: list[str] = []

    def xrpc(method, path, query, headers, body):
        handle = (query.get("handle") or [""])[0]
        resolved.append(handle)
        if path != "/xrpc/com.atproto.identity.resolveHandle":
            return json_response({"error": "MethodNotImplemented"}, 501)
        if handle == "rosa.bsky.social":
            return json_response({"did": "did:plc:user0"})
        return json_response({"error": "InvalidRequest",
                              "message": "Unable to resolve handle"}, 400)

    resolver = FakeHttp(xrpc)
    jet = FakeJetstream(workspace.clock.now())
    jet.start()
    try:
        jet.add(8)
        runner, _, sealer = runner_for(workspace, attempts=3)
        add_connection(workspace, sealer, "sky", "bluesky", {
            "jetstream_url": f"ws://127.0.0.1:{jet.port}/subscribe", "idle_seconds": 0.3,
            "timeout": 2, "accounts": ["@rosa.bsky.social", "did:plc:user1"],
            "resolver_url": resolver.url}, query="parcel")
        resolver.faults.append("500")  # the first try fails: retried
        r = runner.poll("sky")
        assert r.error == "" and r.retries == 1 and r.accepted == 8
        assert resolved == ["rosa.bsky.social"]  # a DID is not looked up
        assert "wantedDids=did%3Aplc%3Auser0&wantedDids=did%3Aplc%3Auser1" in jet.handshakes[-1]
        with workspace.store.begin() as tx:
            authors = {tx.cases.get(cid).author_handle for cid in tx.mentions.case_ids(
                [("bluesky", f"at://{e['did']}/app.bsky.feed.post/{e['commit']['rkey']}")
                 for e in jet.events if e.get("commit", {}).get("operation") == "create"]
            ).values()}
        assert "rosa.bsky.social" in authors  # the handle names did:plc:user0's posts

        add_connection(workspace, sealer, "nobody", "bluesky", {
            "jetstream_url": f"ws://127.0.0.1:{jet.port}/subscribe", "timeout": 2,
            "accounts": "nobody.invalid", "resolver_url": resolver.url})
        r = runner.poll("nobody")
        assert r.accepted == 0 and "no account with the handle 'nobody.invalid'" in r.error
        assert connection(workspace, "nobody").health in ("failing", "misconfigured")
    finally:
        jet.stop()
        resolver.stop()
