"""Bluesky replies end to end: XRPC against a fake PDS on 127.0.0.1 that answers with the
shapes of the real one (createSession, resolveHandle, getPosts' PostView, createRecord,
getRecord, chat.bsky.convo) and misbehaves on purpose: a write whose answer comes after the
client gave up, 429 with ratelimit-reset, 502, an expired access token. One post per reply."""

from __future__ import annotations

import json
import time
from collections import deque

import pytest
from channel_kit import FakeHttp, Sleeps, json_response
from reply_kit import deliver, go_live, header, ingest, reply, sealer

from escapevelocity.channels.bluesky.send import BlueskySender, record_key
from escapevelocity.domain import events as ev

ME = "did:plc:acmesupport00000000000"
ROSA = "did:plc:rosa000000000000000000"
ROOT = f"at://{ROSA}/app.bsky.feed.post/3kroot000000a"
PARENT = f"at://{ROSA}/app.bsky.feed.post/3kparent00000"


def post_view(uri: str, cid: str, text: str, reply: dict | None = None) -> dict:
    record = {"$type": "app.bsky.feed.post", "text": text, "langs": ["en"],
              "createdAt": "2026-11-20T13:58:00.000Z"}
    if reply:
        record["reply"] = reply
    return {"uri": uri, "cid": cid,
            "author": {"did": ROSA, "handle": "rosa.bsky.social", "displayName": "Rosa",
                       "avatar": "https://cdn.bsky.app/img/avatar/plain/x", "labels": [],
                       "createdAt": "2023-05-01T10:00:00.000Z"},
            "record": record, "replyCount": 0, "repostCount": 0, "likeCount": 1,
            "quoteCount": 0, "indexedAt": "2026-11-20T13:58:01.000Z", "viewer": {},
            "labels": []}


class FakePds:
    def __init__(self) -> None:
        self.posts = {
            ROOT: post_view(ROOT, "bafyroot", "anyone else without internet?"),
            PARENT: post_view(PARENT, "bafyparent", "@acme.support still down, refund me",
                              reply={"root": {"uri": ROOT, "cid": "bafyroot"},
                                     "parent": {"uri": ROOT, "cid": "bafyroot"}})}
        self.records: dict[str, dict] = {}  # rkey -> record we wrote: the count that matters
        self.messages: list[dict] = []
        self.faults: deque[str] = deque()
        self.sessions = 0
        self.token = "jwt-1"
        self.resolved: list[str] = []

    def app(self, method, path, query, headers, body):
        nsid = path.removeprefix("/xrpc/")
        q = {k: v[0] for k, v in query.items()}
        if nsid == "com.atproto.server.createSession":
            creds = json.loads(body)
            if creds != {"identifier": "acme.support", "password": "app-pass-1234"}:
                return json_response({"error": "AuthenticationRequired",
                                      "message": "Invalid identifier or password"}, 401)
            self.sessions += 1
            self.token = f"jwt-{self.sessions}"
            return json_response({"did": ME, "handle": "acme.support", "active": True,
                                  "accessJwt": self.token, "refreshJwt": "refresh",
                                  "email": "support@acme.example", "emailConfirmed": True})
        if nsid == "com.atproto.identity.resolveHandle":
            self.resolved.append(q["handle"])
            if q["handle"] == "rosa.bsky.social":
                return json_response({"did": ROSA})
            return json_response({"error": "InvalidRequest",
                                  "message": "Unable to resolve handle"}, 400)
        if header(headers, "Authorization") != f"Bearer {self.token}":
            return json_response({"error": "ExpiredToken", "message": "Token has expired"}, 400)
        fault = self.faults.popleft() if self.faults and nsid.endswith(
            ("createRecord", "sendMessage")) else None
        if fault == "429":
            return json_response({"error": "RateLimitExceeded", "message": "Rate Limit "
                                  "Exceeded"}, 429, {"ratelimit-limit": "5000",
                                                     "ratelimit-remaining": "0",
                                                     "ratelimit-reset": str(int(time.time()) + 7)})
        if fault == "502":
            return 502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"
        if fault == "expired":
            self.token = "rotated-by-server"
            return json_response({"error": "ExpiredToken", "message": "Token has expired"}, 400)
        if nsid == "app.bsky.feed.getPosts":
            uris = query.get("uris") or []
            return json_response({"posts": [self.posts[u] for u in uris if u in self.posts]})
        if nsid == "com.atproto.repo.createRecord":
            out = self.create(json.loads(body))
        elif nsid == "com.atproto.repo.getRecord":
            rec = self.records.get(q["rkey"])
            if rec is None or q["repo"] != ME:
                return json_response({"error": "RecordNotFound",
                                      "message": "Could not locate record"}, 400)
            return json_response({"uri": rec["uri"], "cid": rec["cid"], "value": rec["value"]})
        elif nsid == "chat.bsky.convo.getConvoForMembers":
            assert header(headers, "atproto-proxy") == "did:web:api.bsky.chat#bsky_chat"
            return json_response({"convo": {"id": f"convo-{q['members']}", "rev": "1",
                                            "members": [], "muted": False, "unreadCount": 0}})
        elif nsid == "chat.bsky.convo.sendMessage":
            msg = json.loads(body)
            out = {"id": f"msg{len(self.messages)}", "rev": "2", "text": msg["message"]["text"],
                   "sender": {"did": ME}, "sentAt": "2026-11-20T14:00:00.000Z"}
            self.messages.append({**out, "convoId": msg["convoId"]})
        elif nsid == "chat.bsky.convo.getMessages":
            return json_response({"messages": [m for m in reversed(self.messages)
                                               if m["convoId"] == q["convoId"]]})
        else:
            return json_response({"error": "MethodNotImplemented"}, 501)
        if fault == "timeout-after":
            time.sleep(2.5)  # written, but the answer comes after the client gave up
        return json_response(out, 400 if "error" in out else 200)

    def create(self, req: dict) -> dict:
        rkey = req["rkey"]
        if rkey in self.records:  # a record key is taken once
            return {"error": "InvalidRequest", "message": "Record already exists"}
        uri = f"at://{req['repo']}/{req['collection']}/{rkey}"
        self.records[rkey] = {"uri": uri, "cid": f"bafy{rkey}", "value": req["record"]}
        return {"uri": uri, "cid": f"bafy{rkey}", "commit": {"cid": "bafycommit", "rev": rkey},
                "validationStatus": "valid"}


@pytest.fixture
def pds():
    fake = FakePds()
    fake.server = FakeHttp(fake.app)
    yield fake
    fake.server.stop()


def _connection(workspace, pds) -> None:
    from escapevelocity.adapters.store import connections as repo

    with workspace.store.begin() as tx:
        tx.connections.add(repo.StoredConnection(
            name="acme-sky", channel="bluesky",
            settings={"pds_url": pds.server.url, "send_timeout": 1.5},
            sealed=sealer().seal({"identifier": "acme.support", "app_password": "app-pass-1234"})),
            workspace.clock.now())


def test_bluesky_reply_threads_and_posts_once(workspace, pds):
    _connection(workspace, pds)
    case_id = ingest(workspace, channel="bluesky", source_id=PARENT, handle="rosa.bsky.social",
                     via="acme-sky", in_reply_to=ROOT, thread_id=ROOT)
    go_live(workspace, "acme-sky")

    pds.faults.extend(["timeout-after"])
    live = reply(workspace, case_id, "Sorry Rosa, an engineer is on the way.")
    sent = deliver(workspace, live)
    assert sent.kind == ev.REPLY_SENT and len(pds.records) == 1
    (rkey, rec), = pds.records.items()
    assert sent.data["network_id"] == rec["uri"] and sent.data["attempts"] == 1
    paths = [p for _, p in pds.server.requests]
    assert paths.count("/xrpc/com.atproto.repo.createRecord") == 1  # timed out, then found:
    assert paths.count("/xrpc/com.atproto.repo.getRecord") == 1  # not written again
    assert rkey == record_key(sent.data["key"], live.at)  # the idempotency key's record key
    record = rec["value"]
    assert record["reply"] == {"root": {"uri": ROOT, "cid": "bafyroot"},
                               "parent": {"uri": PARENT, "cid": "bafyparent"}}
    assert record["text"] == "Sorry Rosa, an engineer is on the way."

    # 429 (ratelimit-reset in 7 s), an expired access token (one new session), a 502.
    pds.faults.extend(["429", "expired", "502"])
    sleeps = Sleeps()
    sessions = pds.sessions
    sent = deliver(workspace, reply(workspace, case_id, "Fixed now?"), sleeps)
    assert sent.kind == ev.REPLY_SENT and sent.data["attempts"] == 3
    assert 6 <= sleeps.waits[0] <= 8 and pds.sessions == sessions + 2
    assert len(pds.records) == 2
    assert deliver(workspace, reply(workspace, case_id, "Fixed now?")).kind == ev.REPLY_SENT
    assert len(pds.records) == 3  # the same words twice are two replies, each posted once

    # The app password is revoked: the failure is on the case, nothing posted.
    with workspace.store.begin() as tx:
        tx.connections.update("acme-sky", sealed=sealer().seal(
            {"identifier": "acme.support", "app_password": "revoked"}))
    failed = deliver(workspace, reply(workspace, case_id, "Hello?"))
    assert failed.kind == ev.SEND_FAILED and "credentials" in failed.data["error"]
    assert len(pds.records) == 3


def test_bluesky_resolves_handles_and_writes_privately(pds):
    sender = BlueskySender({"pds_url": pds.server.url, "send_timeout": 1.5},
                           {"identifier": "acme.support", "app_password": "app-pass-1234"})
    assert sender.resolve("@rosa.bsky.social") == ROSA and sender.resolve(ROSA) == ROSA
    assert pds.resolved == ["rosa.bsky.social"]  # a DID is not looked up

    # A post known by its handle-form at:// uri is answered under the author's DID.
    by_handle = PARENT.replace(ROSA, "rosa.bsky.social")
    result = sender.send_reply({"source_id": by_handle, "key": "ev-c9-3",
                                "at": "2026-11-20T14:00:00+00:00"}, "On it.", "public")
    assert result.ok and len(pds.records) == 1
    assert next(iter(pds.records.values()))["value"]["reply"]["parent"]["uri"] == PARENT

    # Private: a chat message to the customer's DID; a try that timed out is found, not resent.
    pds.faults.extend(["timeout-after"])
    from escapevelocity.adapters.outbound import send_with_retries

    case = {"author_handle": "rosa.bsky.social", "key": "ev-c9-4"}
    result, tries = send_with_retries(sender, case, "Could you DM your account number?",
                                      "private", sleep=Sleeps())
    assert result.ok and tries == 1 and len(pds.messages) == 1
    assert [p for _, p in pds.server.requests].count("/xrpc/chat.bsky.convo.getMessages") == 1
    assert pds.messages[0]["convoId"] == f"convo-{ROSA}"

    unknown = sender.send_reply({"author_handle": "nobody.invalid", "key": "k"}, "x", "private")
    assert not unknown.ok and not unknown.transient and "resolve handle" in unknown.error
