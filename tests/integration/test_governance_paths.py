"""Governance on both databases: an untrained member's public reply is held for approval by the
service call, the CLI and the page route alike; no case can be handed to a spoke in shadow
mode until the hub approves it; the projection rebuilds from the log; the maturity review
counts the demo workspace's facts; live incidents get an after-action report; the director
starts a people drill from the page."""

from __future__ import annotations

import pytest
from engage_kit import case, open_case
from typer.testing import CliRunner
from web_kit import login

from escapevelocity.cli.main import app as ev_app
from escapevelocity.config import Settings
from escapevelocity.domain import events as ev
from escapevelocity.domain import governance
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.services import cases, maturity
from escapevelocity.services import governance as gov
from escapevelocity.services.casetx import CaseError
from escapevelocity.web.app import create_app


def _publish(ws, clock) -> None:
    gov.publish_policy(ws.store, clock, "sam", "social", "Social media policy", "Be kind.")


def _replies(ws, case_id: str) -> list:
    with ws.store.begin() as tx:
        return [e for e in tx.events.stream(case_id) if e.kind == ev.REPLIED]


def test_untrained_public_replies_wait_for_approval_on_every_path(workspace, clock):
    ws = workspace
    # before any policy is published nothing is gated
    first = open_case(ws, clock)
    cases.claim(ws.store, clock, first, "priya")
    assert cases.reply(ws.store, clock, first, "priya", "On it").kind == ev.REPLIED

    _publish(ws, clock)
    # the service call
    c1 = open_case(ws, clock)
    cases.claim(ws.store, clock, c1, "priya")
    held = cases.reply(ws.store, clock, c1, "priya", "Sorry, we are on it")
    assert held.kind == ev.APPROVAL_REQUESTED
    assert "priya has not completed training" in held.reasons[0]
    assert not _replies(ws, c1)

    # the CLI
    c2 = open_case(ws, clock)
    out = CliRunner().invoke(ev_app, ["case", "reply", c2, "Sorry, we are on it", "--as", "tom",
                                      "--database", ws.store.url], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "held for approval" in out.stdout and "tom has not completed training" in out.stdout
    assert case(ws, c2).approval_state == "pending" and not _replies(ws, c2)

    # the page route (what the API and htmx post)
    c3 = open_case(ws, clock)
    app = create_app(ws, Settings(database_url="unused", secret_key="s" * 32),
                     tick_seconds=None)
    client, csrf = login(app, "mei")
    assert client.post(f"/cases/{c3}/claim", data={"csrf": csrf}).status_code in (200, 303)
    r = client.post(f"/cases/{c3}/reply", data={"csrf": csrf, "text": "Sorry, we are on it"})
    assert r.status_code in (200, 303)
    assert case(ws, c3).approval_state == "pending" and not _replies(ws, c3)

    # trained: acknowledged and a passed drill, and the same reply goes out
    gov.acknowledge(ws.store, clock, "priya", "social")
    assert gov.record_drill_score(ws.store, clock, "priya", "warm-up", 55) is False
    assert gov.training_gaps(ws.store, "priya") == [
        "pass a drill with a score of 70 or more (best so far 55)"]
    assert gov.record_drill_score(ws.store, clock, "priya", "warm-up", 90) is True
    c4 = open_case(ws, clock)
    cases.claim(ws.store, clock, c4, "priya")
    assert cases.reply(ws.store, clock, c4, "priya", "Sorry, we are on it").kind == ev.REPLIED

    # the projection is the log's: rebuilding it gives the same program
    before = gov.program(ws.store)
    after = gov.rebuild(ws.store, clock)
    assert governance.encode(after) == governance.encode(before)


def test_a_shadow_spoke_gets_no_case_until_the_hub_approves_it(workspace, clock):
    ws = workspace
    gov.request_spoke(ws.store, clock, "ana", team="hr", name="People", hub="hub",
                      members=["raj"])
    # no case can be handed to a team in shadow mode (its hub answers them)
    c1 = open_case(ws, clock)
    with pytest.raises(CaseError, match="shadow mode"):
        cases.assign(ws.store, clock, c1, "sam", None, team="hr")
    with ws.store.begin() as tx:
        assert tx.org.load().team("hr").mode == "shadow"
        assert "hr" in tx.org.member("raj").teams
    with pytest.raises(gov.GovernanceError, match="not complete"):
        gov.approve_spoke(ws.store, clock, "sam", "hr")
    for item, _ in governance.DEFAULT_CHECKLIST:
        gov.complete_item(ws.store, clock, "raj", "hr", item, "done")
    with pytest.raises(PermissionDenied):
        gov.approve_spoke(ws.store, clock, "raj", "hr")  # a liaison may not configure
    gov.approve_spoke(ws.store, clock, "sam", "hr")
    cases.assign(ws.store, clock, c1, "sam", "raj", team="hr")
    cases.claim(ws.store, clock, c1, "raj")
    assert cases.reply(ws.store, clock, c1, "raj", "Hello from HR").kind == ev.REPLIED


def test_a_spoke_with_the_longest_team_id_goes_live_on_every_backend(workspace, clock):
    """A team id may have 32 characters, and its spoke's stream is "governance:spoke:" and
    the id: PostgreSQL refused that stream at 32 characters (SQLite took it), so the same
    request failed on one backend only."""
    ws, team = workspace, "customer-experience-emea-north-1"
    assert len(team) == 32
    gov.request_spoke(ws.store, clock, "ana", team=team, name="CX North", hub="hub",
                      members=["raj"])
    for item, _ in governance.DEFAULT_CHECKLIST:
        gov.complete_item(ws.store, clock, "raj", team, item, "done")
    gov.approve_spoke(ws.store, clock, "sam", team)
    with ws.store.begin() as tx:
        assert tx.org.load().team(team).mode == "live"
        assert len(tx.events.stream(ev.GOVERNANCE_PREFIX + "spoke:" + team)) >= 3
    with pytest.raises(ValueError, match="at most"):  # the event says so before any backend
        ev.ShadowDrafted(stream="x" * (ev.MAX_STREAM + 1), at=clock.now(), actor="sam",
                         team=team, case="c1")


def test_the_maturity_review_counts_the_demo_workspace(workspace, clock):
    ws = workspace
    for _ in range(3):
        open_case(ws, clock)
    review = maturity.review(ws.store, clock.now())
    a = review["assessment"]
    f = a.facts
    assert f["hubs"].value == 1 and f["spokes"].value == 5 and f["spokes_live"].value == 5
    assert f["cases"].value == 3
    for s in [*a.statements, a.next_step]:
        assert s.facts and all(x in f for x in s.facts)
    assert review["previous"].facts["cases"].value == 0


def test_a_live_incident_gets_an_after_action_report(workspace, clock):
    ws = workspace
    app = create_app(ws, Settings(database_url="unused", secret_key="s" * 32),
                     tick_seconds=None)
    client, csrf = login(app, "sam")
    r = client.post("/incidents/declare", data={"level": "crisis2", "reason": "outage",
                                                "csrf": csrf}, follow_redirects=False)
    incident = r.headers["location"].removeprefix("/incidents/")
    answered = open_case(ws, clock)
    open_case(ws, clock)  # nobody answers this one
    clock.advance(minutes=5)
    cases.claim(ws.store, clock, answered, "priya")
    cases.reply(ws.store, clock, answered, "priya", "We are on it")
    clock.advance(minutes=20)
    client.post("/incidents/note", data={"text": "Holding statement", "kind": "statement",
                                         "csrf": csrf})
    clock.advance(hours=3)
    client.post("/incidents/stand-down", data={"note": "over", "csrf": csrf})
    page = client.get(f"/incidents/{incident}")
    assert f'href="/incidents/{incident}/report"' in page.text
    # the incident page too names it by its onset, not by its id
    assert "<title>Incident of Fri 20 Nov 14:00 · Escape Velocity</title>" in page.text
    assert "<h1>Incident of Fri 20 Nov 14:00</h1>" in page.text
    report = client.get(f"/incidents/{incident}/report")
    assert report.status_code == 200
    text = report.text
    assert 'id="cases">2<' in text and 'id="answered">1 of 2<' in text
    assert "1 of 2 cases that needed an answer got none" in text
    assert "first statement after 25.0 min" in text and "crisis2" in text
    # the browser tab names the incident as people do, not by its id
    title = text.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title == ("After-action report: Crisis level 2 incident of Fri 20 Nov 14:00"
                     " · Escape Velocity")
    assert 'id="peak"><span class="level crisis2">Crisis level 2<' in text
    assert client.get("/incidents/incident:nope/report").status_code == 404


def test_the_governance_cli_takes_a_spoke_from_request_to_live(workspace, clock, tmp_path):
    def ev_cli(*args: str):
        out = CliRunner().invoke(ev_app, ["governance", *args, "--database", workspace.store.url],
                                 env={"COLUMNS": "200"})
        return out.exit_code, out.stdout + out.stderr

    assert ev_cli("request", "hr", "--name", "People", "--as", "lucy") == (
        0, "hr: requested, shadow mode\n")
    code, out = ev_cli("approve", "hr", "--as", "sam")
    assert code == 1 and "not complete" in out
    first, *rest = [item for item, _ in governance.DEFAULT_CHECKLIST]
    assert ev_cli("done", "hr", first, "--as", "lucy") == (0, f"hr: {first} done\n")
    for item in rest:
        gov.complete_item(workspace.store, clock, "lucy", "hr", item)
    assert ev_cli("spokes") == (0, "hr\tshadow\tcomplete\n")
    assert ev_cli("approve", "hr", "--as", "sam") == (0, "hr: live\n")
    policy = tmp_path / "policy.txt"
    policy.write_text("Be kind.")
    assert ev_cli("policy", "social", str(policy), "--title", "Social", "--as", "sam")[0] == 0
    assert ev_cli("ack", "social", "--as", "lucy") == (0, "lucy acknowledged social v1\n")
    code, out = ev_cli("training", "lucy")
    assert code == 0 and out.startswith("pass a drill")


def test_the_hub_edits_its_checklist_as_a_new_version(workspace, clock):
    app = create_app(workspace, Settings(database_url="unused", secret_key="s" * 32),
                     tick_seconds=None)
    client, csrf = login(app, "priya", page="/governance")
    lines = "plan: A business plan\nkpis: The KPIs and their targets"
    r = client.post("/governance/checklist", data={"csrf": csrf, "items": lines})
    assert r.status_code == 403  # a liaison may not edit the hub's checklist
    client, csrf = login(app, "sam", page="/governance")
    r = client.post("/governance/checklist", data={"csrf": csrf, "items": lines,
                                                   "note": "shorter"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/governance").text
    assert "(version 1)" in page and "The KPIs and their targets" in page
    bad = client.post("/governance/checklist", data={"csrf": csrf, "items": "no colon here"})
    assert bad.status_code == 422 and "id: what is required" in bad.text
    p = gov.program(workspace.store)
    assert p.checklist_version == 1 and [i.id for i in p.items()] == ["plan", "kpis"]
    with workspace.store.begin() as tx:
        saved = tx.events.stream("governance:checklist")
    assert [(e.kind, e.actor, e.note) for e in saved] == [(ev.CHECKLIST_SAVED, "sam", "shorter")]


def test_the_director_starts_a_people_drill_from_the_page_and_only_players_join(
        workspace, clock, monkeypatch, tmp_path):
    import time

    from drill_kit import SCENARIO

    from escapevelocity.drill import load
    from escapevelocity.services import drill as drills
    from escapevelocity.web import routes_drill

    monkeypatch.setattr(routes_drill, "shipped_names", lambda: ["warm-up"])
    monkeypatch.setattr(routes_drill, "load", lambda name: load(SCENARIO))
    monkeypatch.setattr(routes_drill, "SANDBOXES", tmp_path)
    app = create_app(workspace, Settings(database_url="unused", secret_key="s" * 32),
                     tick_seconds=None)
    director, csrf = login(app, "sam", page="/drills")
    r = director.post("/drills", data={"csrf": csrf, "scenario": "warm-up", "speed": "1440",
                                       "players": "ana, leo"}, follow_redirects=False)
    assert r.status_code == 303
    drill = drills.RUNNING["warm-up"]
    try:
        assert drill.players == ("ana", "leo") and drill.simulated is False
        outsider, csrf_p = login(app, "priya", page="/drills/warm-up")
        assert outsider.post("/drills/warm-up/join", data={"csrf": csrf_p}).status_code == 403
        player, csrf_a = login(app, "ana", page="/drills/warm-up")
        r = player.post("/drills/warm-up/join", data={"csrf": csrf_a}, follow_redirects=False)
        assert r.status_code == 303 and "ev_drill=warm-up" in r.headers["set-cookie"]
        inbox = player.get("/inbox").text
        assert 'id="drill-banner"' in inbox  # the sandbox's inbox
        assert 'id="drill-banner"' not in director.get("/inbox").text  # the director's: live
        director.post("/drills/warm-up/control", data={"csrf": csrf, "action": "stop"})
        deadline = time.monotonic() + 20
        while not drill.done and time.monotonic() < deadline:
            time.sleep(0.1)
        assert drill.done and drill.people is not None
        assert 'id="drill-banner"' not in player.get("/inbox").text  # scored: back to live
    finally:
        drill.control.stop()
        drills.RUNNING.pop("warm-up", None)
