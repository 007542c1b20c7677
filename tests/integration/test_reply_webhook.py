"""Webhook channel replies end to end: the signed callback to a receiver on 127.0.0.1 that
checks the signature as /hooks/<name> does, keeps the delivery ids it has seen, and
misbehaves on purpose (an answer after the client gave up, 429 Retry-After, 503, a secret
that no longer matches). One reply reaches it once; RSS and twcs declare they cannot reply."""

from __future__ import annotations

import json
import time
from collections import deque
from datetime import UTC, datetime

import pytest
from channel_kit import FakeHttp, Sleeps, json_response
from reply_kit import deliver, go_live, ingest, reply, sealer

from escapevelocity.channels.webhook.parse import Refused, verify
from escapevelocity.domain import events as ev


class Receiver:
    def __init__(self) -> None:
        self.secret = "whsec-0123456789"
        self.replies: dict[str, dict] = {}  # delivery id -> body: what reached the customer
        self.faults: deque[str] = deque()

    def app(self, method, path, query, headers, body):
        try:
            d = verify(self.secret, headers, body, datetime.now(UTC))
        except Refused as exc:
            return json_response({"error": exc.reason if hasattr(exc, "reason") else str(exc)},
                                 401)
        fault = self.faults.popleft() if self.faults else None
        if fault == "429":
            return json_response({"error": "slow down"}, 429, {"Retry-After": "7"})
        if fault == "503":
            return 503, {}, b"maintenance"
        self.replies.setdefault(d.delivery_id, json.loads(body))
        if fault == "timeout-after":
            time.sleep(2.5)
        return json_response({"id": f"msg-{list(self.replies).index(d.delivery_id) + 1}"})


@pytest.fixture
def receiver():
    fake = Receiver()
    fake.server = FakeHttp(fake.app)
    yield fake
    fake.server.stop()


def test_webhook_callback_is_signed_and_reaches_once(workspace, receiver):
    from escapevelocity.adapters.store import connections as repo

    with workspace.store.begin() as tx:
        tx.connections.add(repo.StoredConnection(
            name="site-form", channel="webhook",
            settings={"callback_url": f"{receiver.server.url}/ev/replies", "send_timeout": 1.5},
            sealed=sealer().seal({"signing_secret": receiver.secret})), workspace.clock.now())
    case_id = ingest(workspace, channel="web", source_id="form-77", handle="kim@customer.test",
                     via="site-form")
    go_live(workspace, "site-form")

    receiver.faults.extend(["timeout-after", "429", "503"])
    sleeps = Sleeps()
    sent = deliver(workspace, reply(workspace, case_id, "Thanks Kim, fixed."), sleeps)
    assert sent.kind == ev.REPLY_SENT and sent.data["attempts"] == 4
    assert sent.data["network_id"] == "msg-1" and 7 in sleeps.waits
    [(delivery, body)] = receiver.replies.items()
    assert delivery == sent.data["key"] and body["in_reply_to"] == "form-77"
    assert body["text"] == "Thanks Kim, fixed." and body["to"] == "kim@customer.test"

    receiver.secret = "rotated"
    failed = deliver(workspace, reply(workspace, case_id, "Anything else?"), Sleeps())
    assert failed.kind == ev.SEND_FAILED and failed.data["attempts"] == 1
    assert "signature" in failed.data["error"] and len(receiver.replies) == 1


def test_channels_that_cannot_reply_say_so(workspace):
    from escapevelocity.adapters.store import connections as repo
    from escapevelocity.channels import registry
    from escapevelocity.services.replies import route

    channels = registry()
    assert channels["rss"].send is None and not channels["rss"].capabilities.reply
    assert channels["twcs"].send is None and not channels["twcs"].capabilities.reply
    assert not channels["webhook"].can_send({})  # no callback_url: inbound only
    with workspace.store.begin() as tx:
        tx.connections.add(repo.StoredConnection(name="blog", channel="rss",
                                                 settings={"urls": ["http://x"]}),
                           workspace.clock.now())
    case_id = ingest(workspace, channel="web", source_id="https://blog.test/p/1",
                     handle="blogger", via="blog")
    go_live(workspace, "blog")
    with workspace.store.begin() as tx:
        way = route(tx, tx.cases.get(case_id))
    assert way.dry_run and way.label("public") == (
        "Send public reply (recorded only: RSS / Atom feeds cannot send)")
    replied = reply(workspace, case_id, "Thanks for the write-up!")
    assert replied.data["dry_run"] is True and deliver(workspace, replied) is None


def test_a_reply_left_unsent_by_a_crash_is_sent_once_by_the_tick(workspace, receiver):

    from escapevelocity.adapters.store import connections as repo
    from escapevelocity.services import replies

    with workspace.store.begin() as tx:
        tx.connections.add(repo.StoredConnection(
            name="site-form", channel="webhook",
            settings={"callback_url": f"{receiver.server.url}/ev/replies"},
            sealed=sealer().seal({"signing_secret": receiver.secret})), workspace.clock.now())
    case_id = ingest(workspace, channel="web", source_id="form-78", handle="kim@customer.test",
                     via="site-form")
    go_live(workspace, "site-form")
    reply(workspace, case_id, "Sorry for the wait.")  # recorded; the process dies here
    assert replies.pending(workspace.store, workspace.clock.now()) == []  # still in grace
    workspace.clock.advance(minutes=11)
    [sent] = replies.tick(workspace.store, workspace.clock, sealer=sealer(), sleep=Sleeps())
    assert sent.kind == ev.REPLY_SENT and sent.stream == case_id
    assert replies.tick(workspace.store, workspace.clock, sealer=sealer()) == []
    assert len(receiver.replies) == 1

    # The receiver is down for good: each pass tries again (briefly), and after an hour the
    # failure is recorded on the case.
    reply(workspace, case_id, "Are you still there?")
    receiver.faults.extend(["503"] * 9)
    workspace.clock.advance(minutes=11)
    assert replies.tick(workspace.store, workspace.clock, sealer=sealer(), sleep=Sleeps()) == []
    workspace.clock.advance(minutes=50)
    [failed] = replies.tick(workspace.store, workspace.clock, sealer=sealer(), sleep=Sleeps())
    assert failed.kind == ev.SEND_FAILED and "HTTP 503" in failed.data["error"]
    assert len(receiver.replies) == 1 and receiver.server.count("ok") >= 7
