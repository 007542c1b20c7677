"""Mastodon end to end: Mastodon.py against a fake instance on 127.0.0.1 that serves the
recorded payload shapes (channels/mastodon/fixtures) and misbehaves on purpose."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
from channel_kit import FakeHttp, add_connection, connection, json_response, runner_for, stored

pytest.importorskip("mastodon")

FIXTURES = Path(__file__).resolve().parents[2] / "src/escapevelocity/channels/mastodon/fixtures"
TOKEN = "tok-good"


class FakeMastodon:
    def __init__(self, now) -> None:
        self.template = json.loads((FIXTURES / "notifications.json").read_text())
        self.tag_template = json.loads((FIXTURES / "hashtag.json").read_text())[0]
        self.notifications: list[dict] = []
        self.tagged: list[dict] = []
        self.now = now
        self.next_id = 1000
        self.token = TOKEN

    def add(self, n: int, *, text: str = "my order never arrived, I want a refund",
            age: timedelta = timedelta(minutes=1)) -> list[str]:
        uris = []
        for _ in range(n):
            self.next_id += 1
            i = self.next_id
            note = copy.deepcopy(self.template[0])
            note["id"] = str(i)
            s = note["status"]
            s["id"] = str(10**17 + i)
            s["uri"] = f"https://fosstodon.org/users/rosa{i % 7}/statuses/{10**17 + i}"
            s["account"]["acct"] = f"rosa{i % 7}@fosstodon.org"
            s["content"] = f"<p>@acme {text} #{i}</p>"
            s["created_at"] = note["created_at"] = (self.now - age).isoformat()
            self.notifications.append(note)
            uris.append(s["uri"])
            if i % 9 == 0:  # other notification types are interleaved and must be ignored
                self.next_id += 1
                fav = copy.deepcopy(self.template[1])
                fav["id"] = str(self.next_id)
                self.notifications.append(fav)
        return uris

    def app(self, method, path, query, headers, body):
        if headers.get("Authorization") != f"Bearer {self.token}":
            return json_response({"error": "The access token is invalid"}, 401)
        limit = int((query.get("limit") or ["20"])[0])
        min_id = int((query.get("min_id") or ["0"])[0])
        if path == "/api/v1/notifications":
            types = set(query.get("types[]") or [])
            items = [n for n in self.notifications if not types or n["type"] in types]
        elif path == "/api/v1/timelines/tag/acme":
            items = self.tagged
        elif path == "/api/v2/search":
            q = (query.get("q") or [""])[0].casefold()
            found = [t for t in self.tagged if q in t["content"].casefold()]
            page = sorted((i for i in found if int(i["id"]) > min_id), key=lambda i: int(i["id"]))
            return json_response({"accounts": [], "hashtags": [], "statuses": page[:20]})
        else:
            return json_response({"error": "Record not found"}, 404)
        page = sorted((i for i in items if int(i["id"]) > min_id), key=lambda i: int(i["id"]))
        return json_response(list(reversed(page[:limit])))  # Mastodon answers newest first


@pytest.fixture
def fake(workspace):
    f = FakeMastodon(workspace.clock.now())
    server = FakeHttp(f.app)
    f.server = server
    yield f
    server.stop()


def test_mastodon_backs_off_reports_health_and_loses_nothing(workspace, fake):
    runner, sleeps, sealer = runner_for(workspace, attempts=5)
    first = fake.add(95)
    fake.add(5, text="win a free phone in our giveaway, no refund needed")  # excluded by query
    add_connection(workspace, sealer, "acme-masto", "mastodon",
                   {"base_url": fake.server.url, "timeout": 0.5}, {"token": TOKEN},
                   query='(refund OR "never arrived") -giveaway')

    # Each misbehaviour once, in the first poll: a timeout, a 429 with Retry-After, a 500 and
    # a truncated JSON body. The fifth attempt gets through.
    fake.server.faults.extend(["timeout", "429", "500", "malformed"])
    r = runner.poll("acme-masto")
    assert r.error == "" and r.retries == 4
    assert 7 in sleeps.waits  # Retry-After honoured
    assert sleeps.waits[0] < sleeps.waits[1]  # and backoff grows
    assert r.health == "degraded"
    assert r.pages == 3  # 100 mentions + interleaved favourites, 40 a page
    assert (r.kept, r.accepted, r.duplicates) == (95, 95, 0)
    assert stored(workspace, "mastodon") == sorted(first)
    with workspace.store.begin() as tx:  # each mention knows the connection it came by
        import sqlalchemy as sa

        body = tx.conn.execute(sa.text("SELECT body FROM mentions LIMIT 1")).scalar_one()
    assert json.loads(body)["via"] == "acme-masto"
    c = connection(workspace, "acme-masto")
    assert c.health == "degraded" and c.failures == 0 and c.last_success is not None

    # An outage: the instance goes away while 30 new mentions are posted.
    fake.server.stop()
    later = fake.add(30)
    r = runner.poll("acme-masto")
    assert r.health == "failing" and r.accepted == 0 and "unreachable" in r.error
    c = connection(workspace, "acme-masto")
    assert c.health == "failing" and c.failures == 1 and c.last_error
    assert c.next_poll > workspace.clock.now() + timedelta(minutes=1)  # polled less often

    # Back up (a restart on the same port): the backfill from the stored cursor.
    fake.server.start()
    r = runner.poll("acme-masto")
    assert r.health == "connected" and (r.accepted, r.duplicates) == (30, 0)
    assert stored(workspace, "mastodon") == sorted(first + later)
    assert connection(workspace, "acme-masto").failures == 0

    # A crash between ingest and storing the cursor re-reads everything: all duplicates.

    with workspace.store.begin() as tx:
        tx.connections.update("acme-masto", cursor=None)
    r = runner.poll("acme-masto")
    assert (r.accepted, r.duplicates) == (0, 125)
    assert len(stored(workspace, "mastodon")) == 125

    # The token is revoked: credentials expired at once, no retries hammering the instance.
    fake.token = "rotated"
    waits = len(sleeps.waits)
    r = runner.poll("acme-masto")
    assert r.health == "credentials_expired" and r.retries == 0 and len(sleeps.waits) == waits
    assert connection(workspace, "acme-masto").health == "credentials_expired"


def test_mastodon_hashtag_and_historical_backfill(workspace, fake):
    runner, _, sealer = runner_for(workspace, crisis=True)
    old = fake.add(20, age=timedelta(days=400))  # last year's posts, read on the first poll
    tag = copy.deepcopy(fake.tag_template)
    tag["id"] = "5000"
    tag["created_at"] = (workspace.clock.now() - timedelta(minutes=2)).isoformat()
    fake.tagged.append(tag)
    add_connection(workspace, sealer, "acme-tags", "mastodon",
                   {"base_url": fake.server.url, "hashtags": ["#acme"], "search": "bezahlen",
                    "timeout": 2}, {"token": TOKEN})
    r = runner.poll("acme-tags")
    # 20 mentions, the tagged post, and the same post again through search: one mention.
    assert r.health == "connected" and r.read == 22 and r.accepted == 21
    assert r.historical == 20
    assert tag["uri"] in stored(workspace, "mastodon")
    assert set(old) <= set(stored(workspace, "mastodon"))
    assert runner.intake.crisis.level == "normal"
    assert not runner.intake.crisis.alerts
