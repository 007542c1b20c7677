"""Reddit replies end to end: PRAW (a script app's password grant) against a fake Reddit on
127.0.0.1 answering with the recorded shapes (channels/reddit/fixtures; /api/comment's
{"json": {"errors", "data": {"things"}}}, message/sent listings) and misbehaving on purpose: a
comment posted whose answer comes after the client gave up, 429 with Retry-After, 500, a
RATELIMIT API error, a revoked password. Reddit has no idempotency key: the look before a
retry keeps it at one comment per reply."""

from __future__ import annotations

import copy
import json
import time
from collections import deque
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from channel_kit import FakeHttp, Sleeps, json_response
from reply_kit import deliver, go_live, ingest, reply, sealer

from escapevelocity.domain import events as ev

pytest.importorskip("praw")

FIXTURES = Path(__file__).resolve().parents[2] / "src/escapevelocity/channels/reddit/fixtures"
POST = "t3_1gz8k2q"
SECRETS = {"client_id": "app-id", "client_secret": "app-secret", "username": "acme_support",
           "password": "hunter2"}


def listing(children: list[dict]) -> dict:
    return {"kind": "Listing", "data": {"after": None, "before": None, "dist": len(children),
                                        "modhash": None, "geo_filter": "",
                                        "children": children}}


class FakeReddit:
    def __init__(self) -> None:
        self.template = json.loads((FIXTURES / "comments.json").read_text())["data"]["children"][0]
        self.comments: list[dict] = []  # what the account posted: one per reply
        self.sent: list[dict] = []
        self.faults: deque[str] = deque()
        self.password = "hunter2"

    def app(self, method, path, query, headers, body):
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()} if body else {}
        if path.rstrip("/") == "/api/v1/access_token":
            if form.get("grant_type") != "password" or form.get("password") != self.password:
                return json_response({"error": "invalid_grant"})  # Reddit says so with a 200
            return json_response({"access_token": "user-token", "token_type": "bearer",
                                  "expires_in": 86400, "scope": "*"})
        path = path.removesuffix(".json").rstrip("/")
        if path in ("/api/comment", "/api/compose"):
            fault = self.faults.popleft() if self.faults else None
            if fault == "429":
                return json_response({"message": "Too Many Requests", "error": 429}, 429,
                                     {"Retry-After": "7"})
            if fault == "500":
                return 500, {"Content-Type": "text/html"}, b"<html>all our servers are busy"
            if fault == "RATELIMIT":
                return json_response({"json": {"errors": [[
                    "RATELIMIT", "Looks like you've been doing that a lot. Take a break for "
                    "1 minute before trying again.", "ratelimit"]]}})
            out = self.comment(form) if path == "/api/comment" else self.compose(form)
            if fault == "timeout-after":
                time.sleep(2.5)  # posted, but the answer comes after the client gave up
            return json_response(out)
        if path == "/api/v1/me":
            return json_response({"name": "acme_support", "id": "1abc", "is_suspended": False})
        if path == "/user/acme_support/comments":
            return json_response(listing(list(reversed(self.comments))))
        if path == "/message/sent":
            return json_response(listing(list(reversed(self.sent))))
        return json_response({"message": "Not Found", "error": 404}, 404)

    def comment(self, form: dict) -> dict:
        c = copy.deepcopy(self.template)
        n = len(self.comments) + 1
        d = c["data"]
        d.update(id=f"kx{n:04d}", name=f"t1_kx{n:04d}", body=form["text"],
                 parent_id=form["thing_id"], author="acme_support",
                 permalink=f"/r/acme/comments/1gz8k2q/x/kx{n:04d}/",
                 created_utc=time.time())
        self.comments.append(c)
        return {"json": {"errors": [], "data": {"things": [c]}}}

    def compose(self, form: dict) -> dict:
        n = len(self.sent) + 1
        self.sent.append({"kind": "t4", "data": {
            "id": f"2m{n:03d}", "name": f"t4_2m{n:03d}", "dest": form["to"],
            "author": "acme_support", "subject": form["subject"], "body": form["text"],
            "created_utc": time.time(), "first_message": None, "first_message_name": None,
            "parent_id": None, "replies": "", "was_comment": False, "new": False,
            "context": "", "subreddit": None}})
        return {"json": {"errors": []}}


@pytest.fixture
def reddit():
    fake = FakeReddit()
    fake.server = FakeHttp(fake.app)
    yield fake
    fake.server.stop()


def _settings(fake) -> dict:
    return {"subreddits": ["acme"], "replies": True, "oauth_url": fake.server.url,
            "reddit_url": fake.server.url, "send_timeout": 1.5}


def test_reddit_comment_reply_posts_once(workspace, reddit):
    from escapevelocity.adapters.store import connections as repo

    with workspace.store.begin() as tx:
        tx.connections.add(repo.StoredConnection(
            name="acme-reddit", channel="reddit", settings=_settings(reddit),
            sealed=sealer().seal(SECRETS)), workspace.clock.now())
    case_id = ingest(workspace, channel="reddit", source_id=POST, handle="u/rosa_k",
                     via="acme-reddit")
    go_live(workspace, "acme-reddit")

    reddit.faults.extend(["timeout-after"])
    sent = deliver(workspace, reply(workspace, case_id, "Sorry! Sent you a message."))
    assert sent.kind == ev.REPLY_SENT and len(reddit.comments) == 1
    assert sent.data["network_id"] == "t1_kx0001" and sent.data["attempts"] == 1
    assert reddit.comments[0]["data"]["parent_id"] == POST
    looked = [p for _, p in reddit.server.requests if p.startswith("/user/acme_support")]
    assert len(looked) == 1, reddit.server.requests  # timed out; the look found it posted
    assert sent.data["url"].endswith("/r/acme/comments/1gz8k2q/x/kx0001/")

    reddit.faults.extend(["429", "500", "RATELIMIT"])
    sleeps = Sleeps()
    sent = deliver(workspace, reply(workspace, case_id, "Any news?"), sleeps)
    assert sent.kind == ev.REPLY_SENT and sent.data["attempts"] == 4
    assert sleeps.waits[0] >= 7 and sleeps.waits[-1] >= 60 and len(reddit.comments) == 2

    reddit.password = "changed"  # the account's password was changed: no retries
    sleeps = Sleeps()
    failed = deliver(workspace, reply(workspace, case_id, "Hello?"), sleeps)
    assert failed.kind == ev.SEND_FAILED and "credentials" in failed.data["error"]
    assert sleeps.waits == [] and len(reddit.comments) == 2


def test_reddit_private_message_is_sent_once(reddit):
    from escapevelocity.adapters.outbound import send_with_retries
    from escapevelocity.channels.reddit.send import RedditSender

    sender = RedditSender(_settings(reddit), SECRETS)
    reddit.faults.extend(["timeout-after"])
    result, tries = send_with_retries(sender, {"author_handle": "u/rosa_k", "key": "ev-c1-2",
                                               "title": "checkout broken"},
                                      "Could you send us your order number?", "private",
                                      sleep=Sleeps())
    assert result.ok and tries == 1 and len(reddit.sent) == 1
    assert [p for _, p in reddit.server.requests].count("/api/compose/") == 1
    assert result.network_id == "t4_2m001"
    assert reddit.sent[0]["data"]["dest"] == "rosa_k"
    assert reddit.sent[0]["data"]["subject"] == "About checkout broken"


def test_a_post_past_reddits_reply_window_is_recorded_not_answered(workspace, reddit):
    """Reddit archives a post after 180 days (Capabilities.reply_window): the button says so
    and the reply is recorded only; a post inside the window is answered as usual."""
    from datetime import timedelta

    from escapevelocity.adapters.store import connections as repo
    from escapevelocity.domain.records import Author, Mention
    from escapevelocity.services import replies
    from escapevelocity.services.intake import Intake

    now = workspace.clock.now()
    with workspace.store.begin() as tx:
        tx.connections.add(repo.StoredConnection(
            name="acme-reddit", channel="reddit", settings=_settings(reddit),
            sealed=sealer().seal(SECRETS)), now)
    Intake(workspace, None).take([Mention(
        source_id="t3_old", channel="reddit", via="acme-reddit", author=Author(handle="u/kim"),
        text="my order never arrived and nobody answers, I want a refund",
        created_at=now - timedelta(days=181))])
    with workspace.store.begin() as tx:
        old = tx.mentions.case_ids([("reddit", "t3_old")])["reddit:t3_old"]
    go_live(workspace, "acme-reddit")
    with workspace.store.begin() as tx:
        way = replies.route(tx, tx.cases.get(old), now)
    assert way.closed and way.dry_run
    assert "no longer takes replies" in way.label("public")
    event = reply(workspace, old, "Sorry for the wait!")
    assert event.data["dry_run"] is True and deliver(workspace, event) is None
    assert reddit.comments == []
    fresh = ingest(workspace, channel="reddit", source_id=POST, handle="u/rosa_k",
                   via="acme-reddit")
    sent = deliver(workspace, reply(workspace, fresh, "Sorry! Sent you a message."))
    assert sent.kind == ev.REPLY_SENT and len(reddit.comments) == 1
