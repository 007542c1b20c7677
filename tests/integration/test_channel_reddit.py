"""Reddit end to end: PRAW against a fake Reddit on 127.0.0.1 serving the recorded listing
shapes (channels/reddit/fixtures) and misbehaving on purpose."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from channel_kit import FakeHttp, add_connection, connection, json_response, runner_for, stored

pytest.importorskip("praw")

FIXTURES = Path(__file__).resolve().parents[2] / "src/escapevelocity/channels/reddit/fixtures"


class FakeReddit:
    def __init__(self, now) -> None:
        self.post = json.loads((FIXTURES / "new.json").read_text())["data"]["children"][0]
        self.comment = json.loads((FIXTURES / "comments.json").read_text())["data"]["children"][0]
        self.posts: list[dict] = []
        self.comments: list[dict] = []
        self.t = now.timestamp() - 3600
        self.n = 0
        self.secret = "s3cret"

    def add(self, posts: int, comments: int = 0, text: str = "acme checkout broken") -> list[str]:
        names = []
        for _ in range(posts):
            self.n += 1
            self.t += 5
            p = copy.deepcopy(self.post)
            d = p["data"]
            d["id"] = f"p{self.n:05d}"
            d["name"] = f"t3_{d['id']}"
            d["title"] = f"{text} #{self.n}"
            d["created_utc"] = d["created"] = self.t
            d["permalink"] = f"/r/acme/comments/{d['id']}/x/"
            self.posts.append(p)
            names.append(d["name"])
        for _ in range(comments):
            self.n += 1
            self.t += 5
            c = copy.deepcopy(self.comment)
            d = c["data"]
            d["id"] = f"c{self.n:05d}"
            d["name"] = f"t1_{d['id']}"
            d["body"] = f"{text} here too #{self.n}"
            d["created_utc"] = self.t
            d["parent_id"] = self.posts[-1]["data"]["name"] if self.posts else "t3_x"
            self.comments.append(c)
            names.append(d["name"])
        return names

    def app(self, method, path, query, headers, body):
        if path.rstrip("/") == "/api/v1/access_token":
            import base64

            _user, _, secret = base64.b64decode(headers["Authorization"].split()[1]).decode(
                ).partition(":")
            if secret != self.secret:
                return json_response({"error": "invalid_client"}, 401)
            return json_response({"access_token": "app-token", "token_type": "bearer",
                                  "expires_in": 86400, "scope": "*"})
        path = path.removesuffix(".json").rstrip("/")
        if path.endswith("/new"):
            items = self.posts
        elif path.endswith("/comments"):
            items = self.comments
        elif path.endswith("/search"):
            q = (query.get("q") or [""])[0].casefold()
            items = [p for p in self.posts + self.comments
                     if q in (p["data"].get("title") or p["data"].get("body", "")).casefold()]
        else:
            return json_response({"message": "Not Found", "error": 404}, 404)
        newest = sorted(items, key=lambda i: -i["data"]["created_utc"])
        after = (query.get("after") or [None])[0]
        if after:
            names = [i["data"]["name"] for i in newest]
            newest = newest[names.index(after) + 1:] if after in names else []
        limit = int((query.get("limit") or ["25"])[0])
        page = newest[:limit]
        nxt = page[-1]["data"]["name"] if len(newest) > limit else None
        return json_response({"kind": "Listing", "data": {
            "after": nxt, "dist": len(page), "before": None, "children": page}})


@pytest.fixture
def fake(workspace):
    f = FakeReddit(workspace.clock.now())
    server = FakeHttp(f.app)
    f.server = server
    yield f
    server.stop()


def test_reddit_backs_off_backfills_and_duplicates_nothing(workspace, fake):
    runner, sleeps, sealer = runner_for(workspace, attempts=5)
    first = fake.add(40, comments=10)
    fake.add(3, text="sunset photos")  # not about us: the query drops them
    add_connection(workspace, sealer, "acme-reddit", "reddit",
                   {"subreddits": "acme", "oauth_url": fake.server.url,
                    "reddit_url": fake.server.url, "timeout": 1},
                   {"client_id": "app", "client_secret": "s3cret"}, query="acme")
    fake.server.faults.extend(["429", "500", "malformed"])
    r = runner.poll("acme-reddit")
    assert r.error == "" and r.health == "degraded" and r.retries == 3
    assert 7 in sleeps.waits
    assert (r.kept, r.accepted, r.duplicates) == (50, 50, 0)
    assert stored(workspace, "reddit") == sorted(first)

    # Down, while 150 posts arrive (more than one listing page of 100): failing, then backfill.
    fake.server.stop()
    later = fake.add(150, comments=5)
    r = runner.poll("acme-reddit")
    assert r.health == "failing" and connection(workspace, "acme-reddit").failures == 1
    fake.server.start()
    r = runner.poll("acme-reddit")
    assert r.health == "connected" and r.error == ""
    assert r.accepted == 155
    assert r.duplicates <= 2  # the boundary second is read again and dropped by ingest
    assert stored(workspace, "reddit") == sorted(first + later)

    # Reddit-wide search finds a post elsewhere; what the subreddits already gave is dropped.

    with workspace.store.begin() as tx:
        c = connection(workspace, "acme-reddit")
        tx.connections.update("acme-reddit", settings={**c.settings, "search": "sunset"})
    r = runner.poll("acme-reddit")
    assert r.health == "connected" and r.accepted == 0  # the sunset posts: the query drops them
    assert r.duplicates == r.kept  # only the boundary second of /new and /comments, again
    found = fake.add(1, text="acme sunset refund")
    r = runner.poll("acme-reddit")
    assert r.accepted == 1  # found by /new and by search: stored once
    assert stored(workspace, "reddit") == sorted(first + later + found)

    # A timeout is retried like the rest.
    fake.server.faults.append("timeout")
    r = runner.poll("acme-reddit")
    assert r.health == "degraded" and r.accepted == 0

    # The app's secret is revoked: credentials expired, no retries.
    fake.secret = "rotated"
    runner.sleep.waits.clear()
    r = runner.poll("acme-reddit")
    assert r.health == "credentials_expired" and r.retries == 0 and not runner.sleep.waits
