"""Each channel's pure parser over its recorded payload shapes, the registry, and the health
rules (domain/channel_health.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from escapevelocity.channels import get, registry
from escapevelocity.domain import channel_health as health

CH = Path(__file__).resolve().parents[2] / "src/escapevelocity/channels"


def test_every_channel_folder_registers_itself_with_the_same_shape():
    channels = registry()
    assert set(channels) >= {"mastodon", "bluesky", "reddit", "rss", "imap", "webhook", "twcs"}
    for name, spec in channels.items():
        folder = CH / name
        assert (folder / "parse.py").is_file() and any((folder / "fixtures").iterdir()), name
        assert spec.pull == (folder / "client.py").is_file(), name
        assert spec.capabilities.max_chars >= 0
    with pytest.raises(ValueError, match="unknown channel 'myspace'"):
        get("myspace")


def test_mastodon():
    from escapevelocity.channels.mastodon import parse

    notes = json.loads((CH / "mastodon/fixtures/notifications.json").read_text())
    m = parse.notification(notes[0])
    assert m.source_id == "https://fosstodon.org/users/rosa/statuses/113600000000000001"
    assert m.text == "@acme my order 4411 never arrived and support is silent & I want a refund"
    assert (m.author.handle, m.author.followers, m.lang) == ("rosa@fosstodon.org", 412, "en")
    assert m.to == "@acme"  # addressed to our account: brand relevance reads it
    assert parse.notification(notes[1]) is None  # a follow is not a mention (and has no status)
    s = json.loads((CH / "mastodon/fixtures/hashtag.json").read_text())[0]
    m = parse.status(s)
    assert m.kind == "reply" and "Schon wieder." in m.text and "<" not in m.text
    s["content"] = "<p>" + "x" * 20_000 + "</p>"
    with pytest.raises(ValueError, match="limit is 10000"):
        parse.status(s)


def test_bluesky():
    from escapevelocity.channels.bluesky import parse

    events = [json.loads(x) for x in (CH / "bluesky/fixtures/jetstream.jsonl").read_text()
              .splitlines()]
    handles = dict([parse.identity(events[0])])
    got = [parse.event(e, handles) for e in events]
    post, reply = got[1], got[3]
    assert [g is None for g in got] == [True, False, True, False, True, True]
    assert post.author.handle == "rosa.bsky.social" and post.lang == "en"
    assert post.source_id == "at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/" \
        "3lcqo2vutsw2b"
    assert reply.in_reply_to == post.source_id and reply.kind == "reply"
    assert reply.author.handle == "did:plc:ragtjsm2j2vknwkz3zp4oxrd"  # no identity seen yet


def test_reddit():
    from escapevelocity.channels.reddit import parse

    listing = json.loads((CH / "reddit/fixtures/new.json").read_text())
    m = parse.thing(listing["data"]["children"][0])
    assert m.source_id == "t3_1h6xq2b" and m.text.startswith("Acme app payment broken\n\n")
    assert m.author.handle == "u/gearhead_77"
    c = parse.thing(json.loads((CH / "reddit/fixtures/comments.json").read_text())
                    ["data"]["children"][0])
    assert (c.kind, c.in_reply_to, c.thread_id) == ("comment", "t3_1h6xq2b", "t3_1h6xq2b")
    gone = {"kind": "t1", "data": {"name": "t1_x", "body": "[removed]", "author": None,
                                   "created_utc": 1.0}}
    assert parse.thing(gone) is None


def test_rss_and_atom():
    pytest.importorskip("feedparser")
    from escapevelocity.channels.rss import parse

    atom = parse.parse_feed((CH / "rss/fixtures/forum.atom").read_bytes())
    m = parse.entry(atom.entries[0], "https://forum.example.org/latest.atom", channel="forum")
    assert m.channel == "forum" and m.author.handle == "marta_k"
    assert m.created_at == datetime(2026, 12, 5, 10, 8, tzinfo=UTC)
    rss = parse.parse_feed((CH / "rss/fixtures/blog.rss").read_bytes())
    m = parse.entry(rss.entries[0], "https://reviews.example.net/feed")
    assert m.source_id == "https://reviews.example.net/feed#reviews-2026-4411"
    assert "<p>" not in m.text


def test_email():
    from escapevelocity.channels.imap import parse

    m = parse.message((CH / "imap/fixtures/complaint.eml").read_bytes())
    assert m.author.handle == "jana.k@example.com" and "costing me money" in m.text
    r = parse.message((CH / "imap/fixtures/reply.eml").read_bytes())
    assert r.in_reply_to == "acme-case-1187@acme.example" and "looking into it" not in r.text
    with pytest.raises(ValueError, match="From"):
        parse.message(b"Subject: hi\r\n\r\nbody")


def test_webhook_signature():
    from escapevelocity.channels.webhook.parse import Refused, sign, verify

    now = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    body = (CH / "webhook/fixtures/delivery.json").read_bytes()
    stamp = str(int(now.timestamp()))
    headers = {"X-EV-Timestamp": stamp, "X-EV-Delivery": "d1",
               "X-EV-Signature": sign("k", stamp, body)}
    assert verify("k", headers, body, now).delivery_id == "d1"
    for bad_headers, bad_body, at in (
            ({**headers, "X-EV-Signature": sign("other", stamp, body)}, body, now),
            (headers, body + b" ", now),
            (headers, body, now + timedelta(minutes=6)),
            ({k: v for k, v in headers.items() if k != "X-EV-Delivery"}, body, now)):
        with pytest.raises(Refused) as exc:
            verify("k", bad_headers, bad_body, at)
        assert exc.value.status == 401


def test_twcs_schedule():
    from escapevelocity.channels.twcs import parse
    from escapevelocity.services import twcs

    rows = parse.schedule(m for m in twcs.read(CH / "twcs/fixtures/twcs.csv"))
    assert [r.source_id for r in rows] == ["102", "103", "105"]  # brands' tweets skipped
    assert rows[2].to == "@acmecare"  # a reply to the brand's tweet is addressed to it
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse.due(rows, 0, start, start, 60, 100) == 1
    assert parse.due(rows, 1, start, start + timedelta(seconds=2), 60, 100) == 1
    assert parse.due(rows, 0, start, start + timedelta(hours=1), 60, 2) == 2


def test_health_rules():
    ok, retried = health.Outcome(ok=True), health.Outcome(ok=True, retries=2)
    assert health.assess(ok) == "connected" and health.assess(retried) == "degraded"
    assert health.assess(health.Outcome(ok=False, kind="transient")) == "failing"
    assert health.assess(health.Outcome(ok=False, kind="credentials")) == "credentials_expired"
    now = datetime(2026, 12, 5, tzinfo=UTC)
    waits = [health.next_poll(now, f) - now for f in range(0, 12)]
    assert waits[0] == health.POLL_EVERY and waits == sorted(waits)
    assert waits[-1] == health.MAX_POLL_BACKOFF
    assert health.retry_delay(0) < health.retry_delay(3) <= 30
    assert health.retry_delay(0, retry_after=7) == 7
    assert health.wait_inline(7) and not health.wait_inline(3600)
    limited = health.Outcome(ok=False, kind="rate_limited")
    assert health.assess(limited) == "degraded" and health.failures_after(2, limited) == 2
    assert health.next_poll(now, 0, retry_after=3600) - now == timedelta(hours=1)
    assert health.is_historical(now - timedelta(days=2), now, None)
    assert not health.is_historical(now - timedelta(hours=1), now, None)
    live = now - timedelta(hours=1)
    assert health.is_historical(now - timedelta(hours=2), now, live)  # before it went live
    assert not health.is_historical(live - timedelta(minutes=5), now, live)  # grace
