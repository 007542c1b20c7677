"""RSS/Atom end to end: httpx + feedparser against a fake forum feed on 127.0.0.1 in the
recorded Atom shape (channels/rss/fixtures), misbehaving on purpose."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from xml.sax.saxutils import escape

import pytest
from channel_kit import FakeHttp, add_connection, connection, runner_for, stored

pytest.importorskip("feedparser")

ENTRY = """  <entry>
    <title>{title}</title>
    <link href="https://forum.example.org/t/{n}"/>
    <id>tag:forum.example.org,2026:topic-{n}</id>
    <published>{at}</published>
    <author><name>member{m}</name></author>
    <content type="html">{body}</content>
  </entry>
"""


class FakeForum:
    """A Discourse-like latest.atom: the 20 newest topics, with an ETag."""

    def __init__(self, now) -> None:
        self.now = now
        self.topics: list[tuple[int, str]] = []

    def add(self, n: int, title: str = "Refund for a double charge") -> None:
        for _ in range(n):
            self.topics.append((len(self.topics) + 1, title))

    def body(self) -> bytes:
        latest = self.topics[-20:]
        entries = "".join(ENTRY.format(
            n=n, m=n % 5, title=escape(f"{t} #{n}"),
            at=(self.now - timedelta(minutes=60 - n % 60)).isoformat(),
            body=escape(f"<p>{t}: see topic {n}</p>"))
            for n, t in reversed(latest))
        return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/'
                f'Atom"><title>Acme forum</title><id>urn:forum</id><updated>'
                f'{self.now.isoformat()}</updated>\n{entries}</feed>').encode()

    def app(self, method, path, query, headers, body):
        if path != "/latest.atom":
            return 404, {}, b"not found"
        out = self.body()
        etag = '"' + hashlib.sha256(out).hexdigest()[:16] + '"'
        if headers.get("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"Content-Type": "application/atom+xml", "ETag": etag}, out


@pytest.fixture
def fake(workspace):
    f = FakeForum(workspace.clock.now())
    f.server = FakeHttp(f.app)
    yield f
    f.server.stop()


def test_rss_backs_off_uses_etags_and_duplicates_nothing(workspace, fake):
    runner, sleeps, sealer = runner_for(workspace, attempts=5)
    fake.add(12)
    fake.add(3, title="Meetup in Lyon")  # not about a refund: dropped by the query
    add_connection(workspace, sealer, "forum", "rss",
                   {"urls": [fake.server.url + "/latest.atom"], "as_channel": "forum",
                    "timeout": 0.5}, query="refund OR charged")
    fake.server.faults.extend(["timeout", "429", "503", "garbage"])
    r = runner.poll("forum")
    assert r.error == "" and r.health == "degraded" and r.retries == 4
    assert 7 in sleeps.waits
    assert (r.read, r.kept, r.accepted) == (15, 12, 12)

    r = runner.poll("forum")  # unchanged feed: a 304, nothing read
    assert (r.read, r.accepted, r.health) == (0, 0, "connected")
    assert fake.server.requests[-1] == ("ok", "/latest.atom")

    fake.server.stop()  # down while 8 topics are posted
    fake.add(8)
    assert runner.poll("forum").health == "failing"
    fake.server.start()
    r = runner.poll("forum")
    assert r.health == "connected" and r.accepted == 8 and r.duplicates == 12 - 3
    assert len(stored(workspace, "forum")) == 20
    assert connection(workspace, "forum").failures == 0

    # Throttled for an hour: the poll does not sit in the worker for an hour; it ends
    # degraded, the failure count is untouched, and the next poll waits out the hour.
    waited = len(sleeps.waits)
    fake.server.faults.append("429-long")
    r = runner.poll("forum")
    assert r.health == "degraded" and len(sleeps.waits) == waited and "RateLimited" in r.error
    c = connection(workspace, "forum")
    assert c.failures == 0 and c.next_poll >= workspace.clock.now() + timedelta(hours=1)

    fake.server.faults.extend(["401"])
    assert runner.poll("forum").health == "credentials_expired"


def test_due_connections_are_polled_in_the_background(workspace, fake):
    import threading

    from escapevelocity.channels.runner import run_in_background

    runner, _, sealer = runner_for(workspace)
    fake.add(3)
    add_connection(workspace, sealer, "forum", "rss", {"urls": [fake.server.url + "/latest.atom"]})
    add_connection(workspace, sealer, "hook", "webhook", {}, {"signing_secret": "x"})
    stop = threading.Event()
    thread = threading.Thread(target=run_in_background, args=(runner, stop, 0.05))
    thread.start()
    try:
        for _ in range(200):
            if connection(workspace, "forum").health != "new":
                break
            stop.wait(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert connection(workspace, "forum").health == "connected"
    assert len(stored(workspace, "web")) == 3
    assert connection(workspace, "hook").health == "new"  # pushed to, never polled
    # Polled once: the next poll is a minute away on the (fixed) clock, so nothing is due.
    with workspace.store.begin() as tx:
        assert [c.name for c in tx.connections.due(workspace.clock.now())] == ["hook"]
    assert runner.run_due() == []


def test_a_broken_connection_fails_alone(workspace, fake):
    runner, _, sealer = runner_for(workspace)
    fake.add(2)
    add_connection(workspace, sealer, "a-broken", "rss", {"urls": [], "timeout": "soon"})
    add_connection(workspace, sealer, "b-forum", "rss",
                   {"urls": [fake.server.url + "/latest.atom"]})
    reports = {r.name: r for r in runner.run_due()}
    assert reports["a-broken"].health == "failing" and reports["a-broken"].error
    assert reports["b-forum"].health == "connected" and reports["b-forum"].accepted == 2


def test_admins_hear_when_a_connection_breaks_and_recovers(workspace, fake):
    from escapevelocity.adapters.notify.pager import RecordingPager
    from escapevelocity.channels.alerts import HealthAlerts
    from escapevelocity.channels.runner import Runner

    pager = RecordingPager()
    base, _, sealer = runner_for(workspace, attempts=2)
    runner = Runner(base.intake, sealer, sleep=base.sleep, attempts=2,
                    on_health=HealthAlerts(workspace.store, pager, "https://ev.example"))
    fake.add(2)
    add_connection(workspace, sealer, "forum", "rss", {"urls": [fake.server.url + "/latest.atom"],
                                                        "timeout": 0.5})
    assert runner.poll("forum").health == "connected" and pager.pages == []  # new → connected
    fake.server.faults.append("503")
    assert runner.poll("forum").health == "degraded" and pager.pages == []  # not worth a page
    fake.server.stop()
    assert runner.poll("forum").health == "failing"
    assert runner.poll("forum").health == "failing"  # still failing: told once
    broke = list(pager.pages)
    assert broke and {p.level for p in broke} == {"failing"}
    assert {p.member for p in broke} == {"sam"}  # who may configure the demo workspace
    assert "connection forum is failing" in broke[0].summary
    assert broke[0].url == "https://ev.example/admin/channels"
    fake.server.start()
    assert runner.poll("forum").health == "connected"
    assert [p.level for p in pager.pages[len(broke):]] == ["connected"] * len(broke)
    assert "again (was failing)" in pager.pages[-1].summary
