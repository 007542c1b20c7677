"""Crisis mode on an injected clock: detection opens an incident, raises the level, pages the
on-call people, changes decisions through the playbook's crisis overlay; a person stands down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from channel_kit import POLL_S

from escapevelocity.adapters.notify.pager import RecordingPager, WebhookPager
from escapevelocity.domain import events as ev
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services.crisis import CrisisMode, incidents, timeline
from escapevelocity.services.ingest import ingest_batch
from escapevelocity.services.seed import _text

OVERLAY = {"crisis": {"rules": [
    {"id": "crisis-topic", "when": {"keywords": ["battery", "recall"]},
     "then": {"track": "crisis", "template": "safety", "tags": ["crisis-topic"]}}]}}


def _mention(i: int, at, text: str = "my broadband is slow today") -> Mention:
    return Mention(source_id=f"m{i}", channel="twitter", text=text,
                   author=Author(handle=f"user{i % 997}"), created_at=at)


def _history(mode: CrisisMode, triager, clock, days: int = 14, per_hour: int = 6) -> None:
    start = clock.now() - timedelta(days=days)
    items = []
    for h in range(days * 24):
        for k in range(per_hour):
            m = _mention(h * 100 + k, start + timedelta(hours=h, minutes=k * 7))
            items.append((m, triager.signals(m)))
    mode.learn(items)


@pytest.fixture
def overlay_workspace(workspace):
    spec = yaml.safe_load(_text("playbooks", "default.yaml"))
    spec["overlays"] = OVERLAY
    workspace.save_playbook(yaml.safe_dump(spec, sort_keys=False), author="test")
    return workspace


def test_a_spike_opens_an_incident_raises_the_level_and_pages(overlay_workspace, clock):
    ws = overlay_workspace
    triager = ws.triager()
    pager = RecordingPager()
    mode = CrisisMode(ws.store, clock, pager)
    _history(mode, triager, clock)
    assert mode.level == "normal"
    assert mode.context().crisis_level == "normal"

    spike = [_mention(900_000 + i, clock.now() + timedelta(seconds=5 * i),
                      "my Orbit One battery caught fire, is there a recall?") for i in range(300)]
    clock.advance(minutes=30)
    alerts = mode.observe(spike, [triager.signals(m) for m in spike])
    assert alerts, "a 50x spike must alert within the hour"
    clock.advance(hours=1)
    mode.tick()  # the hour closes: the full count escalates
    assert mode.level.startswith("crisis")
    incident = mode.state.incident
    assert incident and incident.startswith("incident:")
    kinds = [e.kind for e in timeline(ws.store, incident)]
    assert kinds[0] == ev.INCIDENT_OPENED
    assert ev.INCIDENT_DETECTED in kinds and ev.INCIDENT_LEVEL in kinds
    assert ev.INCIDENT_PAGED in kinds
    assert {p.role for p in pager.pages} >= {"pr-oncall"}
    assert pager.pages[0].member == "nina"  # first PR member in the demo org

    # the overlay decides while the level is active; regular posts keep their tracks
    report = ingest_batch(ws.store, triager, clock.now(), spike[:5], context=mode.context())
    regular = _mention(999_999, clock.now(), "how do I change my direct debit date?")
    ingest_batch(ws.store, triager, clock.now(), [regular], context=mode.context())
    with ws.store.begin() as tx:
        cases = tx.cases.get_many(report.case_ids)
        assert {c.rule_id for c in cases.values()} == {"crisis-topic"}
        assert {c.track for c in cases.values()} == {"crisis"}
        other = tx.cases.inbox(teams=["care"])
        assert any(c.author_handle == regular.author.handle for c in other)

    # the state survives a restart, a person stands down, the projection ignores incidents
    again = CrisisMode(ws.store, clock, pager)
    assert again.level == mode.level and again.state.incident == incident
    again.note("Holding statement approved by Legal", by="omar", kind="statement")
    assert again.stand_down(by="sam", note="recall handled") == incident
    assert again.level == "normal" and again.state.incident is None
    assert CrisisMode(ws.store, clock, pager).level == "normal"
    listed = incidents(ws.store)
    assert listed[0]["id"] == incident and listed[0]["closed_at"] is not None
    from escapevelocity.services.cases import rebuild_projection
    with ws.store.begin() as tx:
        before = tx.count("cases")
    assert rebuild_projection(ws.store) == before


def test_a_person_declares_and_detectors_never_lower(workspace, clock):
    pager = RecordingPager()
    mode = CrisisMode(workspace.store, clock, pager)
    mode.declare("crisis2", by="sam", reason="executive arrested, press calling")
    assert mode.level == "crisis2"
    assert {p.role for p in pager.pages} == {"pr-oncall", "legal-oncall"}
    mode.declare("crisis1", by="sam", reason="calmer")  # a person may lower; nobody is paged
    assert mode.level == "crisis1" and len(pager.pages) == 2
    with pytest.raises(ValueError):
        mode.declare("normal", by="sam")
    mode.stand_down(by="sam")
    assert mode.level == "normal"


def test_failed_pages_are_recorded(workspace, clock):
    mode = CrisisMode(workspace.store, clock, RecordingPager(fail=True))
    mode.declare("crisis1", by="sam")
    paged = [e for e in timeline(workspace.store, mode.state.incident)
             if e.kind == ev.INCIDENT_PAGED]
    assert paged and not paged[0].data["ok"]


def test_webhook_pager_slack_shape_and_failure():
    sent = {}

    def post(url, body, timeout):
        sent["body"] = body
        return 200

    from datetime import UTC, datetime

    from escapevelocity.adapters.notify.pager import Page
    page = Page(incident="incident:x", role="pr-oncall", member="nina", level="crisis2",
                summary="volume x9", at=datetime(2026, 1, 1, tzinfo=UTC))
    assert WebhookPager("https://hooks.example/x", slack=True, post=post).page(page).ok
    assert b'"text"' in sent["body"] and b"CRISIS2" in sent["body"]

    def down(url, body, timeout):
        raise ConnectionRefusedError("refused")

    result = WebhookPager("http://127.0.0.1:9/x", post=down).page(page)
    assert not result.ok and "refused" in result.detail


def test_pager_from_env_and_a_local_fake_receiver():
    import http.server
    import json
    import threading
    from datetime import UTC, datetime

    from escapevelocity.adapters.notify.pager import FanoutPager, Page, pager_from_env

    assert isinstance(pager_from_env({}), RecordingPager)
    received = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_S},
                     daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        pager = pager_from_env({"EV_PAGE_WEBHOOK": url, "EV_PAGE_SLACK": url})
        assert isinstance(pager, FanoutPager)
        page = Page(incident="incident:x", role="legal-oncall", member="omar", level="crisis2",
                    summary="volume x5", at=datetime(2026, 1, 1, tzinfo=UTC))
        result = pager.page(page)
        assert result.ok and result.channel == "webhook+slack"
        assert received[0]["member"] == "omar" and "CRISIS2" in received[1]["text"]
    finally:
        server.shutdown()


def test_redeliveries_and_far_future_dates_do_not_move_the_detectors(workspace, clock):
    """Issue 15.5: the same mentions taken three times count once (in flight or stored), and
    a mention dated 9999 neither counts nor moves the open hour."""
    triager = workspace.triager()
    mode = CrisisMode(workspace.store, clock, RecordingPager())
    batch = [_mention(i, clock.now() - timedelta(minutes=1)) for i in range(100)]
    sig = [triager.signals(m) for m in batch]
    mode.observe(batch, sig)  # counted, not stored yet (a concurrent request in flight)
    ingest_batch(workspace.store, triager, clock.now(), batch)
    mode.observe(batch, sig)  # stored: a redelivery
    fresh = CrisisMode(workspace.store, clock, RecordingPager())  # after a restart
    fresh.observe(batch, sig)
    assert mode.monitor._overall.n == 100 and fresh.monitor._overall.n == 0
    hour = mode.monitor._hour
    far = Mention("far", "twitter", "hello", Author("x"), datetime(9999, 12, 31, tzinfo=UTC))
    mode.observe([far], [triager.signals(far)])
    assert mode.monitor._hour == hour and mode.monitor._overall.n == 100
