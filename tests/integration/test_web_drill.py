"""Incident pages (declare, timeline, stand down, banner) and the drill director page."""

from __future__ import annotations

import msgspec
import pytest
from fastapi.testclient import TestClient
from test_web import csrf_of, login

from escapevelocity.drill import load
from escapevelocity.services import drill as drills


def test_declare_banner_timeline_and_stand_down(app):
    with TestClient(app) as client:
        assert client.get("/incidents", follow_redirects=False).status_code == 303
        login(client, "priya")  # a liaison may look, not declare
        page = client.get("/incidents")
        assert page.status_code == 200 and "no incidents yet" in page.text
        r = client.post("/incidents/declare", data={"level": "crisis2", "reason": "x",
                                                    "csrf": csrf_of(page.text)})
        assert r.status_code == 403
        client.post("/logout", data={"csrf": csrf_of(page.text)})

        login(client, "sam")
        page = client.get("/incidents")
        csrf = csrf_of(page.text)
        assert client.post("/incidents/declare", data={"level": "crisis2", "reason": "x",
                                                       "csrf": "forged"}).status_code == 403
        r = client.post("/incidents/declare",
                        data={"level": "crisis2", "reason": "<script>alert(1)</script> CEO",
                              "csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/incidents/incident:")
        incident = client.get(r.headers["location"])
        assert "<script>alert(1)" not in incident.text and "&lt;script&gt;" in incident.text
        assert "paged" in incident.text and "nina" in incident.text
        inbox = client.get("/inbox")
        assert 'id="crisis-banner"' in inbox.text and "level 2" in inbox.text
        assert "<script>alert(1)" not in inbox.text
        r = client.post("/incidents/note", data={"text": "Holding statement approved",
                                                 "kind": "statement", "csrf": csrf},
                        follow_redirects=False)
        assert r.status_code == 303
        r = client.post("/incidents/stand-down", data={"note": "over", "csrf": csrf},
                        follow_redirects=False)
        assert r.status_code == 303
        assert 'id="crisis-banner"' not in client.get("/inbox").text
        closed = client.get(r.headers["location"]).text
        assert "stood down" in closed and "Holding statement approved" in closed
        assert "Since onset" in closed and "Who is working it" in closed
        assert client.post("/incidents/stand-down", data={"csrf": csrf}).status_code == 409


@pytest.fixture
def small_drill(tmp_path):
    # its first hour (the outage starts at 0:30): a finished drill with its scorecard is what
    # this needs, ~1.4 CPU-s of simulation where three hours took ~4 (test_drill_run.py
    # plays eight hours and asserts the simulation's figures)
    s = msgspec.structs.replace(load("service-outage"), duration_hours=1)
    drill = drills.Drill.prepare(s, tmp_path / "sandbox.db", fast=True)
    drills.RUNNING[s.name] = drill
    yield drill
    drills.RUNNING.pop(s.name, None)


def test_director_page_controls_and_scorecard(app, small_drill):
    with TestClient(app) as client:
        login(client, "sam")
        listing = client.get("/drills")
        assert listing.status_code == 200
        assert "Network outage with piling on" in listing.text
        page = client.get("/drills/service-outage")
        assert page.status_code == 200 and 'id="drill-level"' in page.text
        csrf = csrf_of(page.text)
        for data in ({"action": "pause"}, {"action": "resume"},
                     {"action": "speed", "speed": "96"},
                     {"action": "inject", "inject": "status page goes down"}):
            r = client.post("/drills/service-outage/control", data={**data, "csrf": csrf},
                            follow_redirects=False)
            assert r.status_code == 303, data
        assert [c for c, _ in small_drill.control.take()] == ["pause", "resume", "speed",
                                                              "inject"]
        bad = client.post("/drills/service-outage/control",
                          data={"action": "inject", "inject": "<b>nope</b>", "csrf": csrf})
        assert bad.status_code == 400
        assert client.post("/drills/service-outage/control",
                           data={"action": "speed", "speed": "7", "csrf": csrf}
                           ).status_code == 400
        assert client.get("/drills/service-outage/status").json()["done"] is False
        assert client.get("/drills/service-outage/report").status_code == 409
        small_drill.control.fire("status page goes down")
        small_drill.run()
        done = client.get("/drills/service-outage")
        assert "Scorecard" in done.text and "routing accuracy" in done.text
        report = client.get("/drills/service-outage/report")
        assert report.status_code == 200 and "<svg" in report.text
        assert "status page goes down" in client.get("/drills/service-outage/panel").text
        assert client.get("/drills/no-such").status_code == 404


def test_only_leads_start_drills(app):
    with TestClient(app) as client:
        login(client, "priya")
        page = client.get("/drills")
        assert "Start drill" not in page.text
        r = client.post("/drills", data={"scenario": "service-outage", "speed": "24",
                                         "csrf": csrf_of(page.text)})
        assert r.status_code == 403
