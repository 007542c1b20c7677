"""A business unit's own channel on both databases: requested by the unit, connected by the hub
in shadow mode (its mentions come in and show as "would get", nothing is posted through it by
any path: a reply, the workspace switch turned live, the connection's switch, the switch's
document written behind the service's back), approved after the readiness checklist (the
Mastodon fake then receives exactly one post, and the hub's cases from it go to the unit),
rejected with a reason, withdrawn; the projection rebuilds from the log."""

from __future__ import annotations

import msgspec
import pytest
from channel_kit import FakeHttp
from reply_kit import deliver, ingest, reply, sealer
from test_reply_mastodon import URI, FakeInstance

from escapevelocity.domain import events as ev
from escapevelocity.domain import governance, outbound
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services import channel_requests as cr
from escapevelocity.services import governance as gov
from escapevelocity.services import outbound as switch
from escapevelocity.services.governance import GovernanceError
from escapevelocity.services.replies import route

pytest.importorskip("mastodon")
PRAISE = "love the new Orbit app, great work"  # the demo playbook gives praise to the hub


@pytest.fixture
def instance():
    fake = FakeInstance()
    fake.server = FakeHttp(fake.app)
    yield fake
    fake.server.stop()


def _route(ws, case_id):
    with ws.store.begin() as tx:
        return route(tx, tx.cases.get(case_id))


def _request(ws):
    return cr.request_channel(ws.store, ws.clock, "tom", connection="care-masto",
                              channel="mastodon", team="care", account="@care@acme.social",
                              reason="customers ask care directly on Mastodon",
                              members=["priya"])


def test_a_units_channel_sends_nothing_until_the_hub_approves_it(workspace, instance):
    ws = workspace
    c = _request(ws)
    assert c.state == governance.REQUESTED and c.members == ["tom", "priya"]
    with pytest.raises(GovernanceError, match="exists already"):
        _request(ws)
    with pytest.raises(PermissionDenied):  # a member of another unit
        cr.request_channel(ws.store, ws.clock, "lucy", connection="x", channel="rss",
                           team="care")
    with pytest.raises(PermissionDenied):  # only the hub connects
        cr.connect(ws.store, ws.clock, sealer(), "tom", "care-masto",
                   settings={"base_url": instance.server.url}, secrets={"token": "tok-good"})
    c = cr.connect(ws.store, ws.clock, sealer(), "sam", "care-masto",
                   settings={"base_url": instance.server.url, "send_timeout": "1.5"},
                   secrets={"token": "tok-good"})
    assert c.state == governance.SHADOW

    # Shadow: the workspace goes live, the connection may not; its mention comes in.
    switch.set_mode(ws.store, ws.clock, "sam", outbound.LIVE)
    with pytest.raises(ValueError, match="shadow mode"):
        switch.set_mode(ws.store, ws.clock, "sam", outbound.LIVE, "care-masto")
    case_id = ingest(ws, channel="mastodon", source_id=URI, handle="rosa@fosstodon.org",
                     via="care-masto")
    other = ingest(ws, channel="mastodon", source_id="https://x.example/1", handle="kim",
                   via="")
    assert [q.id for q in cr.queue(ws.store, "care-masto")] == [case_id]
    assert other != case_id
    first = reply(ws, case_id, "Sorry Rosa, looking now.")
    assert first.data["dry_run"] is True and deliver(ws, first) is None
    # the switch's document written behind the service's back: the route still says no
    with ws.store.begin() as tx:
        tx.documents.put(outbound.MODE_DOCUMENT, msgspec.json.encode(outbound.Mode(
            outbound.LIVE, {"care-masto": outbound.LIVE})).decode(), ws.clock.now())
    assert _route(ws, case_id).dry_run
    second = reply(ws, case_id, "Still looking.")
    assert second.data["dry_run"] is True and deliver(ws, second) is None
    assert instance.posted == []
    switch.set_mode(ws.store, ws.clock, "sam", outbound.DRY_RUN, "care-masto")

    # The unit drafts; the hub's staff cannot draft for it; a case from elsewhere is refused.
    cr.draft(ws.store, ws.clock, "priya", "care-masto", case_id, "Hi Rosa, we are on it.")
    with pytest.raises(PermissionDenied):
        cr.draft(ws.store, ws.clock, "ana", "care-masto", case_id, "hub words")
    with pytest.raises(Exception, match="shadow queue"):
        cr.draft(ws.store, ws.clock, "priya", "care-masto", other, "not ours")
    assert cr.queue(ws.store, "care-masto")[0].drafts == [("priya", "Hi Rosa, we are on it.")]

    # Approval needs the whole checklist, and the hub (not the unit) approves.
    with pytest.raises(GovernanceError, match="not complete"):
        cr.approve(ws.store, ws.clock, "sam", "care-masto")
    for item, _ in governance.DEFAULT_CHECKLIST:
        cr.complete_item(ws.store, ws.clock, "tom", "care-masto", item, "see the plan")
    with pytest.raises(PermissionDenied):
        cr.approve(ws.store, ws.clock, "tom", "care-masto")
    cr.approve(ws.store, ws.clock, "sam", "care-masto", "ready")
    assert gov.program(ws.store).channels["care-masto"].state == governance.LIVE
    assert switch.mode(ws.store).live_for("care-masto")
    audit = switch.history(ws.store)[0]
    assert audit.actor == "sam" and audit.data["name"] == "care-masto"

    live = reply(ws, case_id, "We found your parcel; it arrives tomorrow.")
    assert live.data["dry_run"] is False
    assert deliver(ws, live).kind == ev.REPLY_SENT and len(instance.posted) == 1

    # Live routing: what the playbook gives the hub, from this connection, goes to care.
    praised = ingest(ws, channel="mastodon", source_id="https://x.example/2", handle="lee",
                     via="care-masto", text=PRAISE)
    elsewhere = ingest(ws, channel="mastodon", source_id="https://x.example/3", handle="max",
                       via="", text=PRAISE)
    with ws.store.begin() as tx:
        assert tx.cases.get(elsewhere).team == "hub"
        assert tx.cases.get(praised).team == "care"
    # a correction decides the case again, through the same rule: it stays with care
    from escapevelocity.services import corrections

    assert corrections.correct(ws, praised, "sam", "sentiment", "neutral").team == "care"

    # Withdrawn: the connection stops listening and sends nothing more, not even a reply
    # recorded live just before.
    late = reply(ws, case_id, "One more thing.")
    assert late.data["dry_run"] is False
    cr.withdraw(ws.store, ws.clock, "tom", "care-masto", "the account is closing")
    assert _route(ws, case_id).dry_run
    failed = deliver(ws, late)
    assert failed.kind == ev.SEND_FAILED and "may not send" in failed.data["error"]
    assert len(instance.posted) == 1
    with ws.store.begin() as tx:
        assert not tx.connections.get("care-masto").enabled
        kinds = [e.kind for e in tx.events.stream(ev.GOVERNANCE_PREFIX + "channel:care-masto")]
    assert kinds[:2] == [ev.CHANNEL_REQUESTED, ev.CHANNEL_CONNECTED]
    assert kinds[-2:] == [ev.CHANNEL_APPROVED, ev.CHANNEL_WITHDRAWN]
    assert kinds.count(ev.READINESS_ITEM_DONE) == len(governance.DEFAULT_CHECKLIST)
    assert gov.rebuild(ws.store, ws.clock) == gov.program(ws.store)


def _ev(ws, *args):
    from typer.testing import CliRunner

    from escapevelocity.cli.main import app

    return CliRunner().invoke(app, [*args, "--database", ws.store.url], env={"COLUMNS": "200"})


def test_the_hub_rejects_a_request_and_says_why(workspace):
    ws = workspace
    out = _ev(ws, "governance", "channel-request", "sales-news", "--channel", "rss",
              "--team", "sales", "--as", "lucy", "--reason", "competitor news")
    assert out.exit_code == 0 and "sales-news: requested" in out.stdout, out.output
    with pytest.raises(GovernanceError, match="say why"):
        cr.reject(ws.store, ws.clock, "sam", "sales-news", "  ")
    with pytest.raises(PermissionDenied):
        cr.reject(ws.store, ws.clock, "lucy", "sales-news", "no")
    out = _ev(ws, "governance", "channel-reject", "sales-news", "--as", "sam",
              "--reason", "no staff named for weekends")
    assert out.exit_code == 0, out.output
    assert "sales-news\trss\tsales\trejected" in _ev(ws, "governance", "channels").stdout
    c = gov.program(ws.store).channels["sales-news"]
    assert c.state == governance.REJECTED and c.why_closed == "no staff named for weekends"
    with pytest.raises(GovernanceError, match="rejected"):
        cr.connect(ws.store, ws.clock, sealer(), "sam", "sales-news",
                   settings={"urls": "http://127.0.0.1:9/feed"})
    with pytest.raises(GovernanceError, match="rejected"):
        cr.withdraw(ws.store, ws.clock, "lucy", "sales-news")
    # a rejected name may be asked for again, with better answers
    again = cr.request_channel(ws.store, ws.clock, "lucy", connection="sales-news",
                               channel="rss", team="sales", reason="with weekend cover")
    assert again.state == governance.REQUESTED and again.done == {}
