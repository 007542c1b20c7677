"""The report's rows that are not case counts drill down to the items behind them: approval
waits by kind (reply drafts, playbook versions, what waits now), incidents and the cases they
affected, people's drill scores and drill runs' scorecards; each list's length is the row's
figure, each exports as CSV and JSON, and the figures equal the raw event log's."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import msgspec
import pytest
from report_kit import beyond_cases, decided_legal_drafts, legal_draft, synthetic_scorecard
from web_kit import login

from escapevelocity.domain import kpis
from escapevelocity.services import reports


def _csv(client, url: str) -> list[list[str]]:
    r = client.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), url
    return list(csv.reader(io.StringIO(r.text)))


def _approvals(workspace, clock) -> tuple[list[str], str, int]:
    """Two reply drafts decided (45 and 200 minutes), one waiting 17 minutes, a playbook
    version decided after 95 minutes: (decided cases, waiting case, version)."""
    from engage_kit import with_admin
    from test_playbook_workflow import variant

    from escapevelocity.services import playbooks

    with_admin(workspace)
    done = decided_legal_drafts(workspace, clock)
    out = playbooks.save(workspace.store, clock, variant("Legal checked", "legal"),
                         member="sam", note="legal signs off", activate=True)
    clock.advance(minutes=95)
    playbooks.approve(workspace.store, clock, out.version, member="omar", note="fine")
    waiting = legal_draft(workspace, clock)
    clock.advance(minutes=17)
    return done, waiting, out.version


def test_approval_rows_drill_down_to_the_waits_behind_them(app, workspace, clock):
    done, waiting, version = _approvals(workspace, clock)
    now = clock.now()
    want = beyond_cases(workspace.store, now.date(), now.date() + timedelta(days=1), now)
    assert sorted(c for c, _ in want["decided"]["reply_playbook"]) == sorted(done)
    client, _ = login(app, "sam")
    html = client.get("/reports?period=1d").text
    f = reports.report(workspace.store, kpis.Period.last(1, now), now).current
    for kind, hist in f.approval_kinds.items():  # every row's figure is its list's length
        link = f'/reports/approvals?period=1d&amp;kind={kind}&amp;state=decided'
        assert link in html, kind
        rows = client.get(link.replace("&amp;", "&").replace("approvals?", "approvals.json?"))
        got = sorted((r["ref"], r["minutes"]) for r in rows.json())
        assert len(got) == sum(hist.values()) == len(want["decided"][kind]), kind
        assert got == sorted((s, round(m, 2)) for s, m in want["decided"][kind]), kind
    [(ref, minutes)] = want["decided"]["playbook_version"]
    [row] = client.get("/reports/approvals.json?period=1d&kind=playbook_version").json()
    assert (row["ref"], row["minutes"]) == (ref, minutes) == (f"playbook:{version}", 95.0)
    assert row["link"] == f"/playbook?version={version}#editor"
    table = _csv(client, "/reports/approvals.csv?period=1d&kind=reply_playbook&state=decided")
    assert table[0][0] == "ref" and sorted(r[0] for r in table[1:]) == sorted(done)
    page = client.get("/reports/approvals?period=1d&kind=reply_playbook&state=decided").text
    assert all(f'href="/cases/{c}"' in page for c in done)
    assert "approvals.csv?" in page and "approvals.json?" in page
    # what waits now: the draft, from its submission to now
    assert '/reports/approvals?period=1d&amp;kind=reply_playbook&amp;state=waiting' in html
    [row] = client.get("/reports/approvals.json?period=1d&state=waiting").json()
    [(ref, draft)] = want["waiting"]
    assert (row["ref"], row["minutes"]) == (waiting, 17.0) == (
        ref, round(want["waiting"][(ref, draft)], 1))
    assert client.get("/reports/approvals?period=1d&kind=nope").status_code == 400
    assert client.get("/reports/approvals?period=1d&state=nope").status_code == 400
    other, _ = login(app, "priya")  # the figures of her teams only: not these
    page = other.get("/reports/approvals?period=1d")  # in the layout, no rows, and why
    assert page.status_code == 200 and "whole workspace" in page.text
    assert 'class="topbar"' in page.text and "data-ref=" not in page.text
    assert "<caption>" not in page.text and "approvals.csv" not in page.text  # no "0 waits"
    assert other.get("/reports/approvals.json?period=1d").json() == []


def test_crisis_rows_drill_down_to_incidents_and_their_cases(app, workspace, clock):
    from escapevelocity.demo.generator import generate
    from escapevelocity.services.crisis import CrisisMode
    from escapevelocity.services.ingest import batches, ingest_batch

    crisis = CrisisMode(workspace.store, clock)
    crisis.declare("watch", "sam", "a rumour")
    clock.advance(minutes=20)
    crisis.declare("crisis2", "sam", "fires reported")
    triager = workspace.triager()
    for batch in batches(iter(generate(300, seed=3, start=clock.now())), 100):
        ingest_batch(workspace.store, triager, clock.now(), batch)
    clock.advance(minutes=45)
    now = clock.now()
    want = beyond_cases(workspace.store, now.date(), now.date() + timedelta(days=1), now)
    [(incident, expect)] = want["incidents"].items()
    assert expect["crisis_minutes"] == 45.0 and len(expect["affected"]) >= 5
    client, _ = login(app, "sam")
    html = client.get("/reports?period=1d").text
    assert 'href="/reports/incidents?period=1d"' in html
    assert f'href="/reports/incidents/{incident}/cases?period=1d"' in html
    [row] = client.get("/reports/incidents.json?period=1d").json()
    assert (row["id"], row["crisis_minutes"], row["affected"]) == (
        incident, expect["crisis_minutes"], len(expect["affected"]))
    page = client.get("/reports/incidents?period=1d").text
    assert f'href="/incidents/{incident}"' in page
    cases = client.get(f"/reports/incidents/{incident}/cases.json").json()
    assert sorted(c["id"] for c in cases) == expect["affected"]
    table = _csv(client, f"/reports/incidents/{incident}/cases.csv")
    assert table[0] == list(reports.EXPORT_COLUMNS) and len(table) - 1 == len(cases)
    assert f'href="/cases/{cases[0]["id"]}"' in client.get(
        f"/reports/incidents/{incident}/cases").text
    assert client.get("/reports/incidents/incident:nope/cases").status_code == 404
    assert len(_csv(client, "/reports/incidents.csv?period=1d")) == 2


def test_drill_scores_drill_down_to_players_and_the_cases_they_handled(app, workspace, clock):
    from escapevelocity.services import governance

    governance.record_drill_score(workspace.store, clock, "ana", "outage@2026-11-20", 82.0,
                                  {"answers": 3, "run": "outage-1", "cases": ["c1", "c2"]})
    governance.record_drill_score(workspace.store, clock, "omar", "outage@2026-11-20", 40.0)
    with workspace.store.begin() as tx:
        tx.events.append([synthetic_scorecard(clock.now(), "outage-1")])
    now = clock.now()
    want = beyond_cases(workspace.store, now.date(), now.date() + timedelta(days=1), now)
    client, _ = login(app, "sam")
    html = client.get("/reports?period=1d").text
    link = "/reports/drill-scores?period=1d&amp;drill=outage%402026-11-20"
    assert link in html
    rows = client.get(link.replace("&amp;", "&").replace("scores?", "scores.json?")).json()
    assert sorted((r["member"], r["score"]) for r in rows) == sorted(
        want["scores"]["outage@2026-11-20"])
    [ana] = [r for r in rows if r["member"] == "ana"]
    assert ana["cases"] == ["c1", "c2"] and ana["run"] == "outage-1"
    page = client.get(link.replace("&amp;", "&")).text
    assert "c1, c2" in page and "not kept in the log" in page  # omar's: an older record
    [run] = want["runs"]
    assert f'href="/reports/drill-runs/{run["seq"]}"' in page  # the run's report
    assert len(_csv(client, "/reports/drill-scores.csv?period=1d")) == 3


def test_drill_run_scorecards_are_listed_from_the_log(app, workspace, clock):
    with workspace.store.begin() as tx:
        tx.events.append([synthetic_scorecard(clock.now(), "outage-1"),
                          synthetic_scorecard(clock.now(), "outage-2", delay=None,
                                              routing=None, met=(True, True, True))])
    now = clock.now()
    want = beyond_cases(workspace.store, now.date(), now.date() + timedelta(days=1), now)
    client, _ = login(app, "sam")
    rows = client.get("/reports/drill-runs.json?period=1d").json()
    assert sorted((r["run"], r["score"], r["detection_delay_min"], r["routing_accuracy"])
                  for r in rows) == sorted((w["run"], w["score"], w["detection_delay_min"],
                                            w["routing_accuracy"]) for w in want["runs"])
    assert {r["run"]: r["score"] for r in rows} == {"outage-1": 50.0, "outage-2": 100.0}
    data = client.get("/reports/data.json?period=1d").json()["drill_runs"]
    assert [(d["run"], d["score"]) for d in data] == [(r["run"], r["score"]) for r in rows]
    html = client.get("/reports?period=1d").text
    for w in want["runs"]:
        assert f'href="/reports/drill-runs/{w["seq"]}"' in html
    report = client.get(f"/reports/drill-runs/{want['runs'][0]['seq']}")
    assert report.status_code == 200 and "Drill report: Network outage" in report.text
    assert "script-src" not in report.headers["content-security-policy"]
    assert client.get("/reports/drill-runs/999999").status_code == 404
    assert len(_csv(client, "/reports/drill-runs.csv?period=1d")) == 3
    other, _ = login(app, "priya")
    page = other.get("/reports/drill-runs?period=1d")
    assert page.status_code == 200 and "whole workspace" in page.text
    assert other.get("/reports/drill-runs.json?period=1d").json() == []
    assert other.get("/reports/drill-scores.json?period=1d").json() == []
    assert other.get(f"/reports/drill-runs/{want['runs'][0]['seq']}").status_code == 403


@pytest.fixture
def short_drill(tmp_path):
    from escapevelocity.drill import load
    from escapevelocity.services import drill as drills

    # its first hour (the outage starts at 0:30): a finished drill with its scorecard is what
    # this needs, ~1.4 CPU-s of simulation where three hours took ~4 (test_drill_run.py
    # plays eight hours and asserts the simulation's figures)
    s = msgspec.structs.replace(load("service-outage"), duration_hours=1)
    drill = drills.Drill.prepare(s, tmp_path / "service-outage-run.db", fast=True)
    yield drill
    drills.RUNNING.pop(s.name, None)


def test_a_finished_drill_appends_its_scorecard_to_the_live_log(app, workspace, clock,
                                                                short_drill):
    """The web director's drills (simulated team alone here) record their scorecard when they
    finish; the report's run page is the director's report, rendered from the event."""
    from escapevelocity.domain import events as ev
    from escapevelocity.web.routes_drill import start_with_people

    start_with_people(app, short_drill).join(timeout=240)  # ends after on_finish recorded
    assert short_drill.done
    card = short_drill.scorecard
    with workspace.store.begin() as tx:
        [e] = tx.events.of_kind(ev.DRILL_SCORECARD)
    assert e.run == "service-outage-run" and e.scenario == "service-outage"
    assert e.detection_delay_min == card.detection_delay_min
    assert e.checks == len(card.checks) and e.checks_met == sum(1 for c in card.checks if c[3])
    client, _ = login(app, "sam")
    [row] = client.get("/reports/drill-runs.json?period=1d").json()
    assert (row["run"], row["score"]) == (e.run, round(100 * e.checks_met / e.checks, 1))
    page = client.get(f"/reports/drill-runs/{e.seq}").text
    assert page == short_drill.report_html()  # the same report, from the log alone


def test_ev_drill_run_records_the_scorecard_where_a_workspace_is_set_up(
        workspace, clock, monkeypatch, tmp_path):
    from pathlib import Path
    from types import SimpleNamespace

    from report_kit import synthetic_card

    from escapevelocity.cli.drill import _record
    from escapevelocity.domain import events as ev

    done = SimpleNamespace(scorecard=synthetic_card(clock.now()), players=(),
                           path=Path("var/drills/service-outage-20261120-140000.db"),
                           scenario=SimpleNamespace(timezone="Europe/London"),
                           incident_events=[])
    monkeypatch.setenv("EV_DATABASE_URL", workspace.store.url)
    _record(done)
    with workspace.store.begin() as tx:
        [e] = tx.events.of_kind(ev.DRILL_SCORECARD)
    assert (e.run, e.score, e.timezone) == ("service-outage-20261120-140000", 50.0,
                                            "Europe/London")
    nowhere = tmp_path / "none.db"
    monkeypatch.setenv("EV_DATABASE_URL", f"sqlite:///{nowhere}")
    _record(done)  # no workspace here: said, and no empty database left behind
    assert not nowhere.exists()


def test_a_spoke_s_wait_drills_down_to_its_page(app, workspace, clock):
    from escapevelocity.domain import governance
    from escapevelocity.services import governance as gov

    gov.request_spoke(workspace.store, clock, "ana", team="hr", name="People", hub="hub",
                      members=["raj"])
    client, _ = login(app, "sam")
    [row] = client.get("/reports/approvals.json?period=1d&state=waiting").json()
    assert (row["kind"], row["ref"], row["link"]) == (
        "spoke", "governance:spoke:hr", "/governance/spokes/hr")
    for item, _ in governance.DEFAULT_CHECKLIST:
        gov.complete_item(workspace.store, clock, "raj", "hr", item, "done")
    clock.advance(minutes=80)
    gov.approve_spoke(workspace.store, clock, "sam", "hr")
    now = clock.now()
    want = beyond_cases(workspace.store, now.date(), now.date() + timedelta(days=1), now)
    assert client.get("/reports/approvals.json?period=1d&state=waiting").json() == []
    [row] = client.get("/reports/approvals.json?period=1d&kind=spoke").json()
    assert (row["ref"], row["minutes"]) == ("governance:spoke:hr", 80.0) == want["decided"][
        "spoke"][0]
    assert 'href="/reports/approvals?period=1d&amp;kind=spoke&amp;state=decided"' in \
        client.get("/reports?period=1d").text
    assert 'href="/governance/spokes/hr"' in client.get(
        "/reports/approvals?period=1d&kind=spoke").text
