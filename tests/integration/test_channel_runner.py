"""The runner's promise under random trouble: whatever the sequence of timeouts, rate limits,
malformed pages, outages, expired credentials and crashes between ingest and the cursor save,
once the network behaves again every post is stored exactly once."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from channel_kit import add_connection, runner_for, stored

from escapevelocity.channels.base import (
    CredentialsExpired,
    Malformed,
    Page,
    RateLimited,
    Transient,
)
from escapevelocity.domain.records import Author, Mention


class FlakyFeed:
    """An in-memory network: pages of 7 after an integer cursor, failing at random."""

    def __init__(self, rng: random.Random, now) -> None:
        self.rng, self.now = rng, now
        self.posts: list[Mention] = []
        self.trouble = 0.0
        self.expired = False

    def publish(self, n: int) -> None:
        for _ in range(n):
            i = len(self.posts)
            self.posts.append(Mention(
                source_id=f"p{i:04d}", channel="web", text=f"acme refund please {i}",
                author=Author(handle=f"u{i % 11}"), created_at=self.now - timedelta(minutes=1)))

    def fetch(self, cursor: str | None) -> Page:
        if self.expired:
            raise CredentialsExpired("token revoked")
        if self.rng.random() < self.trouble:
            raise self.rng.choice([Transient("timeout"), RateLimited("429", 2.0),
                                   Malformed("half a body"), Transient("503")])
        start = int(cursor or 0)
        page = self.posts[start:start + 7]
        return Page(page, str(start + len(page)), len(page), more=start + 7 < len(self.posts))

    def close(self) -> None:
        pass


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_trouble_loses_nothing_and_duplicates_nothing(workspace, seed):

    rng = random.Random(seed)
    runner, _, sealer = runner_for(workspace, attempts=3)
    feed = FlakyFeed(rng, workspace.clock.now())
    add_connection(workspace, sealer, "flaky", "rss", {"urls": ["http://127.0.0.1:9/x"]})
    accepted = 0
    seen_health = set()
    for _ in range(25):
        feed.publish(rng.randint(0, 12))
        feed.trouble = rng.choice([0.0, 0.3, 0.7, 1.0])
        feed.expired = rng.random() < 0.1
        if rng.random() < 0.2:  # a crash after ingest, before the cursor was saved
            with workspace.store.begin() as tx:
                cursor = tx.connections.get("flaky").cursor
                if cursor:
                    back = max(0, int(cursor) - rng.randint(1, 9))
                    tx.connections.update("flaky", cursor=str(back))
        r = runner.poll("flaky", connector=feed)
        accepted += r.accepted
        seen_health.add(r.health)
        assert r.health in ("connected", "degraded", "failing", "credentials_expired")
    feed.trouble, feed.expired = 0.0, False
    r = runner.poll("flaky", connector=feed)  # the network behaves: catch up
    accepted += r.accepted
    assert r.health == "connected"
    ids = [p.source_id for p in feed.posts]
    assert stored(workspace, "web") == ids  # every post, once
    assert accepted == len(ids)  # and no poll counted one twice
    assert len(seen_health) >= 3  # the trouble really happened
