"""Mastodon replies end to end: Mastodon.py against a fake instance on 127.0.0.1 that answers
with the recorded status shape (channels/mastodon/fixtures), honours Idempotency-Key as
Mastodon does, and misbehaves on purpose: an answer that comes after the client gave up (the
status was posted), 429 with Retry-After, 5xx, a revoked token. One post per reply."""

from __future__ import annotations

import copy
import json
import time
from collections import deque
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from channel_kit import FakeHttp, Sleeps, json_response
from reply_kit import AGENT, deliver, go_live, header, ingest, outcomes, reply, sealer

from escapevelocity.domain import events as ev

pytest.importorskip("mastodon")

FIXTURES = Path(__file__).resolve().parents[2] / "src/escapevelocity/channels/mastodon/fixtures"
URI = "https://fosstodon.org/users/rosa/statuses/113400000000000001"


class FakeInstance:
    """Our instance: knows the customer's status (a resolving search finds it by its uri) and
    takes the statuses we post."""

    def __init__(self) -> None:
        template = json.loads((FIXTURES / "notifications.json").read_text())[0]["status"]
        self.known = copy.deepcopy(template)
        self.known.update(id="4242", uri=URI, url=URI)
        self.known["account"]["acct"] = "rosa@fosstodon.org"
        self.template = template
        self.posted: list[dict] = []  # every status created: the count that must stay one a reply
        self.by_key: dict[str, dict] = {}
        self.keys_seen: list[str] = []
        self.faults: deque[str] = deque()
        self.token = "tok-good"

    def app(self, method, path, query, headers, body):
        if header(headers, "Authorization") != f"Bearer {self.token}":
            return json_response({"error": "The access token is invalid"}, 401)
        if path == "/api/v2/search":
            q = (query.get("q") or [""])[0]
            hit = q == URI and (query.get("resolve") or [""])[0] in ("true", "1", "True")
            return json_response({"accounts": [], "hashtags": [],
                                  "statuses": [self.known] if hit else []})
        if path == "/api/v1/statuses" and method == "POST":
            return self.post(headers, body)
        return json_response({"error": "Record not found"}, 404)

    def post(self, headers, body):
        fault = self.faults.popleft() if self.faults else None
        if fault == "429":
            return json_response({"error": "Too many requests"}, 429, {"Retry-After": "7"})
        if fault in ("500", "503"):
            return int(fault), {"Content-Type": "text/html"}, b"<html>upstream sad</html>"
        if (header(headers, "Content-Type") or "").startswith("application/json"):
            params = json.loads(body)
        else:
            params = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        key = header(headers, "Idempotency-Key") or ""
        self.keys_seen.append(key)
        status = self.by_key.get(key)
        if status is None:  # Mastodon keeps the key an hour: the same key, the same status
            status = copy.deepcopy(self.template)
            n = 9000 + len(self.posted)
            status.update(id=str(n), uri=f"https://acme.social/users/acme/statuses/{n}",
                          url=f"https://acme.social/@acme/{n}", content=params["status"],
                          in_reply_to_id=params.get("in_reply_to_id"),
                          visibility=params.get("visibility", "public"))
            self.posted.append(status)
            if key:
                self.by_key[key] = status
        if fault == "timeout-after":
            time.sleep(2.5)  # posted, but the answer comes after the client gave up
        return json_response(status)


@pytest.fixture
def instance():
    fake = FakeInstance()
    fake.server = FakeHttp(fake.app)
    yield fake
    fake.server.stop()


def test_mastodon_reply_posts_once_through_faults(workspace, instance):
    from escapevelocity.services.replies import route

    with workspace.store.begin() as tx:
        from escapevelocity.adapters.store import connections as repo

        tx.connections.add(repo.StoredConnection(
            name="acme-masto", channel="mastodon",
            settings={"base_url": instance.server.url, "send_timeout": 1.5},
            sealed=sealer().seal({"token": "tok-good"})), workspace.clock.now())
    case_id = ingest(workspace, channel="mastodon", source_id=URI, handle="rosa@fosstodon.org",
                     via="acme-masto")

    # Dry run (the default): recorded, nothing leaves.
    with workspace.store.begin() as tx:
        way = route(tx, tx.cases.get(case_id))
    assert way.label("public") == "Send public reply (dry run)"
    first = reply(workspace, case_id, "Sorry Rosa, looking now.")
    assert first.data["dry_run"] is True
    assert deliver(workspace, first) is None and instance.posted == []

    go_live(workspace, "acme-masto")
    with workspace.store.begin() as tx:
        way = route(tx, tx.cases.get(case_id))
    assert way.label("public") == "Send public reply — sends to Mastodon"

    # The answer comes too late: the retry carries the same key and gets the same status.
    instance.faults.extend(["timeout-after"])
    live = reply(workspace, case_id, "We found your parcel; it arrives tomorrow.")
    assert live.data["dry_run"] is False and live.data["connection"] == "acme-masto"
    sent = deliver(workspace, live)
    assert sent.kind == ev.REPLY_SENT and sent.data["attempts"] == 2
    assert len(instance.posted) == 1
    status = instance.posted[0]
    assert sent.data["network_id"] == status["id"] and sent.data["via"] == "mastodon"
    assert status["in_reply_to_id"] == "4242" and status["visibility"] == "public"
    assert status["content"] == "@rosa@fosstodon.org We found your parcel; it arrives tomorrow."
    assert len(set(instance.keys_seen)) == 1 and len(instance.keys_seen) == 2

    # Delivered again (a second worker, a crash before the outcome was read): nothing posts.
    assert deliver(workspace, live) is None and len(instance.posted) == 1

    # 429 with Retry-After, then 503 and 500: waits as told, then one post.
    instance.faults.extend(["429", "503", "500"])
    sleeps = Sleeps()
    again = reply(workspace, case_id, "And a voucher for the wait.")
    sent = deliver(workspace, again, sleeps)
    assert sent.kind == ev.REPLY_SENT and sent.data["attempts"] == 4
    assert sleeps.waits[0] >= 7 and len(instance.posted) == 2

    # The token is revoked: no retries, the failure is on the case and in the agent's bell.
    from escapevelocity.services.notify import Notifier

    notifier = Notifier(workspace.store, workspace.clock)
    notifier.sweep()  # the bell reads the log from here on
    instance.token = "rotated"
    sleeps = Sleeps()
    failed = deliver(workspace, reply(workspace, case_id, "Anything else?"), sleeps)
    assert failed.kind == ev.SEND_FAILED and failed.data["attempts"] == 1
    assert "token" in failed.data["error"] and failed.data["by"] == AGENT
    assert sleeps.waits == [] and len(instance.posted) == 2
    assert [e.kind for e in outcomes(workspace, case_id)] == [
        ev.REPLY_SENT, ev.REPLY_SENT, ev.SEND_FAILED]

    from escapevelocity.services.annotate import audit_trail

    trail = audit_trail(workspace.store, case_id, "sam")
    assert any(e.summary.startswith("SEND FAILED (reply by mastodon") for e in trail)
    notifier.sweep()
    with workspace.store.begin() as tx:
        bell = tx.notifications.latest(AGENT)
    assert [n["kind"] for n in bell].count("send_failed") == 1


def test_mastodon_private_reply_is_a_direct_status(instance):
    from escapevelocity.channels.mastodon.send import MastodonSender

    sender = MastodonSender({"base_url": instance.server.url}, {"token": "tok-good"})
    result = sender.send_reply({"source_id": URI, "author_handle": "rosa@fosstodon.org",
                                "key": "ev-c1-7"}, "Could you send us your order number?",
                               "private")
    assert result.ok and len(instance.posted) == 1
    assert instance.posted[0]["visibility"] == "direct"
    assert instance.posted[0]["content"].startswith("@rosa@fosstodon.org ")


def test_reply_button_says_dry_run_or_live_and_sends_once(app, workspace, instance):
    """The case page's button says where the words go; an admin's switch (an audited event)
    turns it live, and the same button then posts one status."""
    from web_kit import csrf_of, login

    from escapevelocity.adapters.secrets import Sealer
    from escapevelocity.adapters.store import connections as repo

    with workspace.store.begin() as tx:  # sealed with the app's key (settings.secret_key)
        tx.connections.add(repo.StoredConnection(
            name="acme-masto", channel="mastodon", settings={"base_url": instance.server.url},
            sealed=Sealer("s" * 32).seal({"token": "tok-good"})), workspace.clock.now())
    case_id = ingest(workspace, channel="mastodon", source_id=URI, handle="rosa@fosstodon.org",
                     via="acme-masto")
    app.state.send_sleep = Sleeps()  # backoff recorded, not waited
    ana, _ = login(app, AGENT)
    page = ana.get(f"/cases/{case_id}").text
    ana.post(f"/cases/{case_id}/claim", data={"csrf": csrf_of(page)})
    page = ana.get(f"/cases/{case_id}").text
    assert 'data-outbound="dry_run">Send public reply (dry run)</button>' in page

    sam, csrf = login(app, "sam", page="/admin/webhooks")
    r = sam.post("/admin/outbound", data={"csrf": csrf, "mode": "live",
                                          "connection": "acme-masto"}, follow_redirects=False)
    assert r.status_code == 303
    r = ana.post("/admin/outbound", data={"csrf": csrf_of(page), "mode": "dry_run"})
    assert r.status_code in (403, 404)  # agents cannot switch
    with workspace.store.begin() as tx:
        audit = tx.events.stream("config:outbound_mode")
    assert [(e.actor, e.data["after"]["connections"]) for e in audit] == [
        ("sam", {"acme-masto": "live"})]

    page = ana.get(f"/cases/{case_id}").text
    assert 'data-outbound="live">Send public reply — sends to Mastodon</button>' in page
    assert 'maxlength="500"' in page  # the composer takes the network's limit
    r = ana.post(f"/cases/{case_id}/reply", data={"csrf": csrf_of(page), "text": "x" * 501},
                 headers={"HX-Request": "1"})
    assert "Mastodon takes 500" in r.text and instance.posted == []
    r = ana.post(f"/cases/{case_id}/reply", data={"csrf": csrf_of(page),
                                                   "text": "On its way, sorry!"},
                 headers={"HX-Request": "1"})
    assert "Reply sent." in r.text and "sent to mastodon" in r.text
    assert len(instance.posted) == 1

    # Still failing after the request's tries: left to the worker's tick, which sends it once.
    instance.faults.extend(["503"] * 3)
    ana.post(f"/cases/{case_id}/claim", data={"csrf": csrf_of(r.text)})
    r = ana.post(f"/cases/{case_id}/reply", data={"csrf": csrf_of(r.text), "text": "Hello?"},
                 headers={"HX-Request": "1"})
    assert "it will be sent by the next pass" in r.text and "sending…" in r.text
    assert len(instance.posted) == 1
    from escapevelocity.services import replies

    workspace.clock.advance(minutes=11)
    [sent] = replies.tick(workspace.store, workspace.clock, sealer=Sealer("s" * 32),
                          sleep=Sleeps())
    assert sent.kind == ev.REPLY_SENT and len(instance.posted) == 2

    instance.token = "revoked"  # a permanent failure: said at once, on the case
    ana.post(f"/cases/{case_id}/claim", data={"csrf": csrf_of(r.text)})
    r = ana.post(f"/cases/{case_id}/reply", data={"csrf": csrf_of(r.text), "text": "Hi?"},
                 headers={"HX-Request": "1"})
    assert "Reply recorded but NOT sent" in r.text and "NOT SENT" in r.text
    assert "A reply was NOT sent (mastodon" in r.text and len(instance.posted) == 2


def test_satisfaction_question_goes_privately_the_way_the_customer_came(workspace, instance):
    """A CSAT question on a Mastodon case is a direct status through the same connection,
    live by its switch, posted once."""
    from escapevelocity.adapters.store import connections as repo
    from escapevelocity.services import cases, followup

    with workspace.store.begin() as tx:
        tx.connections.add(repo.StoredConnection(
            name="acme-masto", channel="mastodon", settings={"base_url": instance.server.url},
            sealed=sealer().seal({"token": "tok-good"})), workspace.clock.now())
    case_id = ingest(workspace, channel="mastodon", source_id=URI, handle="rosa@fosstodon.org",
                     via="acme-masto", text="my bill is wrong, please help")
    go_live(workspace, "acme-masto")
    assert deliver(workspace, reply(workspace, case_id, "Fixed, sorry!")).kind == ev.REPLY_SENT
    cases.resolve(workspace.store, workspace.clock, case_id, AGENT)
    workspace.clock.advance(hours=24)
    instance.faults.extend(["503"])
    [asked] = followup.tick(workspace.store, workspace.clock, sealer=sealer())
    assert asked.kind == ev.FOLLOWUP_SENT and asked.data["dry_run"] is False
    assert asked.data["via"] == "mastodon" and asked.data["attempts"] == 2
    question = instance.posted[-1]
    assert len(instance.posted) == 2 and asked.data["network_id"] == question["id"]
    assert question["visibility"] == "direct"
    assert question["content"].startswith("@rosa@fosstodon.org ")
