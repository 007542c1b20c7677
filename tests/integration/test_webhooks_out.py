"""Signed CRM / contact-center webhooks on SQLite and PostgreSQL, against a local HTTP server:
topics from the log, a signature the receiver can check, retries with backoff, dead letters
an admin replays in the web app, and the customer lookup hook that fills "who is asking"."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from engage_kit import case, events, open_case, with_admin
from fastapi.testclient import TestClient
from notify_kit import Receiver

from escapevelocity.config import Settings
from escapevelocity.domain import events as ev
from escapevelocity.domain import webhooks as wh
from escapevelocity.services import annotate, cases, followup
from escapevelocity.services.webhooks import MAX_ATTEMPTS, Webhooks
from escapevelocity.web.app import create_app

SECRET = "s" * 32
PASSWORD = "correct horse battery"


@pytest.fixture
def ws(workspace):
    with_admin(workspace)
    return workspace


def topics(hook: Receiver) -> list[str]:
    return [hook.json(i)["topic"] for i in range(len(hook.requests))]


def test_case_lifecycle_is_posted_signed_once_each(ws, clock):
    with Receiver() as hook:
        hooks = Webhooks(ws.store, clock, hook.url, SECRET)
        hooks.tick()
        cid = open_case(ws, clock)
        annotate.tag(ws.store, clock, cid, "ana", add=["lead"])
        cases.claim(ws.store, clock, cid, "ana")
        cases.reply(ws.store, clock, cid, "ana", "Fixed, sorry.")
        cases.resolve(ws.store, clock, cid, "ana")
        clock.advance(hours=24)
        followup.tick(ws.store, clock)
        followup.answer(ws.store, clock, cid, ev.SYSTEM, text="5")
        hooks.tick()
        hooks.tick()  # nothing twice
    got = topics(hook)
    assert got == [wh.CASE_CREATED, wh.LEAD_TO_SALES, wh.CASE_RESOLVED, wh.CSAT_RECEIVED]
    headers, raw = hook.requests[0]
    assert wh.verify(SECRET, headers[wh.TIMESTAMP], raw, headers[wh.SIGNATURE])
    assert not wh.verify("x" * 32, headers[wh.TIMESTAMP], raw, headers[wh.SIGNATURE])
    body = json.loads(raw)
    assert body["delivery_id"] == headers[wh.DELIVERY] and body["case"]["id"] == cid
    csat = hook.json(got.index(wh.CSAT_RECEIVED))
    assert csat["event"]["data"]["csat"] == 5


def test_failing_receiver_gets_retries_then_a_dead_letter_an_admin_replays(ws, clock):
    with Receiver(statuses=[500] * MAX_ATTEMPTS) as hook:
        hooks = Webhooks(ws.store, clock, hook.url, SECRET)
        hooks.tick()
        hook.requests.clear()
        hook.statuses = [500] * MAX_ATTEMPTS
        cid = open_case(ws, clock)
        now = clock.now()
        hooks.tick(now)
        hooks.deliver(now + timedelta(seconds=5))  # backing off: not yet
        assert len(hook.requests) == 1
        for _ in range(MAX_ATTEMPTS + 2):
            now += timedelta(hours=1)
            hooks.deliver(now)
        assert len(hook.requests) == MAX_ATTEMPTS
        ids = {h[wh.DELIVERY] for h, _ in hook.requests}
        assert len(ids) == 1  # the same delivery each time: the receiver can de-duplicate

        ws.set_password("ada", PASSWORD)
        ws.set_password("priya", PASSWORD)
        app = create_app(ws, Settings(database_url="unused", secret_key="t" * 32),
                         tick_seconds=None)
        with TestClient(app) as client:
            login(client, "priya")
            assert client.get("/admin/webhooks").status_code == 404  # not an admin: no page
            client.cookies.clear()
            login(client, "ada")
            page = client.get("/admin/webhooks")
            assert page.status_code == 200 and "dead" in page.text and cid in page.text
            row = re.search(r'action="/admin/webhooks/(\d+)/replay"', page.text).group(1)
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            assert client.post(f"/admin/webhooks/{row}/replay", data={"csrf": "forged"}
                               ).status_code == 403
            r = client.post(f"/admin/webhooks/{row}/replay", data={"csrf": csrf},
                            follow_redirects=False)
            assert r.status_code == 303
        hooks.deliver(now)
    assert len(hook.requests) == MAX_ATTEMPTS + 1
    assert hook.requests[-1][0][wh.DELIVERY] in ids


def login(client: TestClient, member: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post("/login", data={"member": member, "password": PASSWORD, "csrf": csrf,
                                    "next": "/inbox"}, follow_redirects=False)
    assert r.status_code == 303


def test_customer_lookup_fills_who_is_asking_and_a_slow_crm_costs_nothing(ws, clock):
    with Receiver() as crm, Receiver() as hook:
        crm.reply = json.dumps({"crm_id": "C-42", "name": "Kim Doe",
                                "email": "kim@customer.test"}).encode()
        hooks = Webhooks(ws.store, clock, hook.url, SECRET, lookup_url=crm.url, timeout=2)
        hooks.tick()
        cid = open_case(ws, clock, handle="kimdoe")
        hooks.tick()
        assert json.loads(crm.requests[-1][1])["handle"] == "kimdoe"
        assert case(ws, cid).crm_id == "C-42"
        [linked] = [e for e in events(ws, cid) if e.kind == ev.CRM_LINKED]
        assert (linked.data["name"], linked.data["source"]) == ("Kim Doe", "lookup hook")
        crm.statuses = [500]
        other = open_case(ws, clock, handle="nobody")
        hooks.tick()
        assert case(ws, other).crm_id is None  # the CRM failed: the case is still there
