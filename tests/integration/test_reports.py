"""Reports: the figures the rollups give equal an independent computation over the event log,
survive `ev workspace rebuild` and the migration, are identical on SQLite and PostgreSQL, and
every figure's cases can be listed and exported."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from needs import require
from report_kit import OFFICE_TRACK, fill, from_log, office_minutes, with_office_calendar
from web_kit import login

from escapevelocity.adapters.store import schema as t
from escapevelocity.domain import kpis
from escapevelocity.services import reports
from escapevelocity.services.cases import rebuild_projection

DAYS = 10
NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # conftest's NOW (the `clock` fixture)


def _period(clock) -> kpis.Period:
    return kpis.Period.last(DAYS, clock.now())


def _kept(store) -> tuple[list, list]:
    with store.begin() as tx:
        cells = sorted(tuple(r) for r in tx.conn.execute(sa.select(t.kpi_cells))
                       if r.cases or r.open or r.resolved)
        counts = sorted(tuple(r) for r in tx.conn.execute(sa.select(t.kpi_counts)) if r[3])
    return cells, counts


def test_figures_equal_the_log_and_rebuild_from_it(workspace, clock):
    fill(workspace, clock, days=DAYS)
    period = _period(clock)
    f = reports.figures(workspace.store, period)
    want = from_log(workspace.store, period.start, period.end, clock.now())
    for k in ("cases", "needs_reply", "no_reply", "responded", "missed", "private", "leads",
              "resolved", "open", "sla_met", "sla_late", "csat_n", "csat_sum"):
        assert f.totals.get(k, 0) == want["totals"].get(k, 0), k
    assert f.totals["cases"] > 50 and f.totals["responded"] > 20
    assert f.totals["no_reply"] > 0 and f.totals["missed"] > 0
    assert f.by["channel"] == want["channels"]
    assert f.no_reply == want["no_reply"]
    lo, hi = f.percentiles(kpis.TTFR)["p50"]
    assert lo <= want["ttfr_median"] < hi or want["ttfr_median"] == hi
    lo, hi = f.percentiles(kpis.TTFR)["p90"]
    assert lo <= want["ttfr_p90"] <= hi
    for team, outcomes in want["sla_team"].items():
        assert f.sla["team"][team] == outcomes, team
    r = reports.report(workspace.store, period, clock.now())
    assert r.at_risk == want["at_risk"]
    wall = reports.wall(workspace.store, workspace.triager().org, clock.now(),
                        {"level": "normal"})
    assert {x["team"]: x["queue"] for x in wall["teams"] if x["queue"]} == {
        k: v for k, v in want["queues"].items() if k}
    assert wall["at_risk"]["count"] == want["at_risk"]

    kept = _kept(workspace.store)
    with workspace.store.begin() as tx:  # a damaged rollup …
        tx.conn.execute(sa.update(t.kpi_cells).values(cases=0))
        tx.conn.execute(sa.delete(t.kpi_counts))
    rebuild_projection(workspace.store)  # … is recomputed from the log alone
    assert _kept(workspace.store) == kept


def test_the_migration_counts_cases_that_are_already_there(workspace, clock):
    from test_migration_typed_events import _alembic

    fill(workspace, clock, days=3, per_day=30)
    kept = _kept(workspace.store)
    _alembic(workspace.store, "downgrade", "0018_reports-1")
    assert not sa.inspect(workspace.store.engine).has_table("kpi_cells")
    workspace.store.migrate()
    assert _kept(workspace.store) == kept


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_identical_figures(tmp_path, request):
    from web_kit import NOW, PASSWORD

    from escapevelocity.domain.clock import FixedClock
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    pg = request.getfixturevalue("pg_url")
    require(bool(pg), "PostgreSQL at 127.0.0.1:5432")
    engine = sa.create_engine(pg)
    with engine.begin() as conn:  # the session's database, emptied (other tests used it)
        present = set(sa.inspect(conn).get_table_names())
        tables = [x.name for x in t.metadata.sorted_tables if x.name in present]
        if tables:
            conn.execute(sa.text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY"))
    engine.dispose()
    out = []
    for url in (f"sqlite:///{tmp_path / 'a.db'}", pg):
        clock = FixedClock(NOW)
        ws = Workspace.open(url, clock)
        try:
            seed_demo(ws, password=PASSWORD)
            with_office_calendar(ws)  # business time on a calendar, topics, on both
            fill(ws, clock, days=DAYS, per_day=30)
            beyond = _beyond_cases(ws, clock)  # approvals, an incident, drills
            period = _period(clock)
            r = reports.report(ws.store, period, clock.now())
            wall = reports.wall(ws.store, ws.triager().org, clock.now(), {"level": "normal"})
            out.append((r.current, r.previous, r.at_risk, r.backlog, wall, _kept(ws.store),
                        r.crisis, r.drills, r.scorecards, r.stream_waits, r.waiting,
                        _items(ws, period, clock.now(), beyond)))
        finally:
            ws.store.close()
    a, b = out
    assert a[0].totals["cases"] > 30
    assert "office" in a[0].calendars and len(a[0].topics) > 1
    assert a[6] and a[7] and a[8] and a[9] and a[10]  # every kind of row has figures
    for n, (x, y) in enumerate(zip(a, b, strict=True)):
        assert x == y, n


def _beyond_cases(ws, clock) -> str:
    """A reply draft decided and one waiting, a playbook version decided, an incident at a
    crisis level, people's drill scores and a drill run's scorecard; the incident's id."""
    from engage_kit import LEGAL
    from report_kit import synthetic_scorecard
    from test_playbook_workflow import variant

    from escapevelocity.domain.cases import case_id_for
    from escapevelocity.domain.records import Author, Mention
    from escapevelocity.services import approvals, cases, governance, playbooks
    from escapevelocity.services.crisis import CrisisMode
    from escapevelocity.services.ingest import ingest

    def open_case(ws, clock, text: str) -> str:  # the same case ids on both databases
        m = Mention(source_id=f"beyond{clock.now():%H%M}", channel="twitter", text=text,
                    author=Author(handle=f"beyond{clock.now():%H%M}"), created_at=clock.now())
        ingest(ws.store, ws.triager(), clock, [m])
        return case_id_for(m.key)

    for decide in (True, False):
        cid = open_case(ws, clock, LEGAL)
        cases.claim(ws.store, clock, cid, "ana")
        cases.reply(ws.store, clock, cid, "ana", "We're sorry. Please DM us.")
        clock.advance(minutes=40)
        if decide:
            [draft] = [d.id for d in approvals.drafts(ws.store, cid, "omar")]
            approvals.approve(ws.store, clock, cid, "omar", draft)
    out = playbooks.save(ws.store, clock, variant("Legal checked", "legal"), member="sam",
                         note="legal signs off", activate=True)
    clock.advance(minutes=95)
    playbooks.approve(ws.store, clock, out.version, member="omar", note="fine")
    mode = CrisisMode(ws.store, clock)
    incident = mode.declare("crisis2", "sam", "fires reported")
    open_case(ws, clock, "my phone caught fire while charging, my hand is burned")
    clock.advance(minutes=30)
    governance.record_drill_score(ws.store, clock, "ana", "outage@2026-11-20", 82.0,
                                  {"run": "outage-1", "cases": ["c1"]})
    with ws.store.begin() as tx:
        tx.events.append([synthetic_scorecard(clock.now(), "outage-1")])
    return incident or mode.state.incident


def _items(ws, period, now, incident: str) -> list:
    """The drill-downs' lists (services/report_items.py), as the pages read them."""
    from escapevelocity.services import report_items as items

    def bare(rows: list) -> list:  # without log positions (a sequence may skip numbers)
        def kept(k: str, v) -> bool:
            return k != "seq" and not str(v).startswith("/reports/drill-runs/")
        return [{k: v for k, v in r.items() if kept(k, v)} for r in rows]

    return [bare(items.approvals(ws.store, period, now, None, "decided")),
            bare(items.approvals(ws.store, period, now, None, "waiting")),
            bare(items.incidents(ws.store, period, now)),
            sorted(c.id for c in items.incident_cases(ws.store, incident) or ()),
            bare(items.drill_runs(ws.store, period)),
            bare(items.drill_players(ws.store, period, None))]


def test_every_figure_lists_and_exports_its_cases(app, workspace, clock):
    fill(workspace, clock, days=4, per_day=30)
    client, _ = login(app, "sam")
    data = client.get("/reports/data.json?period=7d").json()
    for measure in ("no_reply", "responded", "leads", "missed"):
        rows = list(csv.reader(io.StringIO(
            client.get(f"/reports/cases.csv?period=7d&measure={measure}").text)))
        assert rows[0][0] == "id" and len(rows) - 1 == data["totals"].get(measure, 0), measure
    channel, n = max(data["by"]["channel"].items(), key=lambda kv: kv[1])
    js = client.get(f"/reports/cases.json?period=7d&measure=cases&channel={channel}").json()
    assert len(js) == n and {c["channel"] for c in js} == {channel}
    for day, by_sentiment in data["daily"].items():  # a day of the volume chart's table
        js = client.get(f"/reports/cases.json?period={day}..{day}&measure=cases").json()
        assert len(js) == sum(by_sentiment.values()), day
    html = client.get("/reports?period=7d").text
    assert f'href="/reports/cases?period={day}..{day}&amp;measure=cases"' in html
    page = client.get("/reports/cases?period=7d&measure=no_reply")
    assert page.status_code == 200 and "/reports/cases.csv?" in page.text
    assert client.get("/reports/cases?period=7d&measure=nope").status_code == 400
    assert client.get("/reports?period=9999d").status_code == 400
    html = client.get("/reports?period=7d").text
    assert html.count('<img src="data:image/svg+xml;base64,') == 5  # topics: the fifth
    assert "<script" not in html.split("<main", 1)[1]


def test_goals_are_edited_on_the_web_and_audited(app, workspace, clock):
    from escapevelocity.domain import events as ev
    from escapevelocity.services import goals

    client, csrf = login(app, "sam", page="/reports/goals")
    text = "goals:\n  - name: Leads\n    kpis:\n      - {kpi: leads, target: 3}\n"
    r = client.post("/reports/goals", data={"text": text, "csrf": csrf},
                    follow_redirects=False)
    assert r.status_code == 303
    bad = client.post("/reports/goals", data={"text": "goals: [{name: x, kpis: [{kpi: nope,"
                                                       " target: 1}]}]", "csrf": csrf})
    assert bad.status_code == 400 and "no KPI" in bad.text
    with workspace.store.begin() as tx:
        log = tx.events.stream(goals.STREAM)
    assert [(e.kind, e.actor, e.text) for e in log] == [(ev.GOALS_SAVED, "sam", text)]
    fill(workspace, clock, days=2, per_day=30)
    page = client.get("/reports?period=7d").text
    assert "Leads" in page and ("met ✓" in page or "missed ✗" in page)
    analyst = next(m for m in workspace.triager().org.members if m.role == "analyst")
    other, csrf2 = login(app, analyst.id, page="/reports/goals")
    assert other.post("/reports/goals", data={"text": text, "csrf": csrf2}).status_code == 403


def test_sla_at_risk_counts_the_open_cases_counting_down(workspace, clock):
    """The bug of issue 19: "SLA met" read 100 % while eight P1 crisis cases counted down to
    breach (only finished outcomes counted). Every case but the crisis ones is answered in
    time: attainment is 100 %, and SLA at risk now lists every waiting crisis case."""
    from report_kit import _commit

    from escapevelocity.demo.generator import generate
    from escapevelocity.domain import events as ev
    from escapevelocity.services.ingest import batches, ingest_batch

    triager = workspace.triager()
    for batch in batches(iter(generate(500, seed=3, start=clock.now())), 100):
        ingest_batch(workspace.store, triager, clock.now(), batch)
    with workspace.store.begin() as tx:
        rows = tx.conn.execute(sa.select(t.cases.c.id, t.cases.c.track, t.cases.c.respond)
                               ).all()
    crisis = {i for i, track, _ in rows if track == "crisis"}
    assert len(crisis) >= 8
    _commit(workspace, {case_id: [ev.Replied(stream=case_id, at=clock.now(), actor="sam",
                                             text="hi")]
                        for case_id, track, respond in rows if track != "crisis" and respond})
    period = kpis.Period.last(1, clock.now())
    r = reports.report(workspace.store, period, clock.now())
    assert r.current.attainment("all")["all"] == 1.0
    assert r.at_risk == len(crisis)
    assert {c["id"] for c in r.at_risk_cases} == crisis
    later = reports.report(workspace.store, period, clock.now() + timedelta(hours=2))
    assert later.at_risk == len(crisis)  # past due: still counted until answered


def test_the_migration_makes_what_schema_py_declares(workspace):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    mine = {"kpi_cells", "kpi_counts", "ix_cases_team_opened", "ix_cases_opened",
            "ix_cases_state_due"}
    with workspace.store.engine.connect() as tx:
        diff = compare_metadata(MigrationContext.configure(tx), t.metadata)

    def names(d) -> set[str]:
        d = d[0] if isinstance(d, list) else d
        out = set()
        for part in d[1:]:
            for attr in ("name",):
                v = getattr(part, attr, None)
                if isinstance(v, str):
                    out.add(v)
            if isinstance(part, str):
                out.add(part)
        return out

    assert [d for d in diff if names(d) & mine] == []


def test_a_member_who_sees_some_teams_reads_their_figures_only(app, workspace, clock):
    fill(workspace, clock, days=3, per_day=30)
    full, _ = login(app, "sam")
    every = full.get("/reports/data.json?period=7d").json()
    care, _ = login(app, "priya")  # a liaison on care
    mine = care.get("/reports/data.json?period=7d").json()
    assert set(mine["by"]["team"]) == {"care"}
    assert mine["totals"]["cases"] == every["by"]["team"]["care"] < every["totals"]["cases"]
    assert set(mine["backlog"]) <= {"care"}
    assert care.get("/wall").status_code == 200
    wall = care.get("/wall/data").json()
    assert [x["team"] for x in wall["teams"]] == ["care"]
    assert all(c["team"] == "care" for c in wall["at_risk"]["cases"] + wall["notable"])
    assert "The figures of the teams you see: care" in care.get("/reports").text
    eva, _ = login(app, "eva")  # an analyst reads every team's
    assert eva.get("/reports/data.json?period=7d").json()["totals"] == every["totals"]



def test_approval_waiting_time_from_the_log(workspace, clock):
    from engage_kit import with_admin
    from report_kit import decided_legal_drafts, legal_draft

    with_admin(workspace)
    decided_legal_drafts(workspace, clock)  # waits of 45 and 200 minutes
    f = reports.figures(workspace.store, kpis.Period.last(1, clock.now()))
    assert sum(f.approval_wait.values()) == 2
    # both held by the playbook (legal on this case): one kind, its waits traced to events
    assert {k: sum(h.values()) for k, h in f.approval_kinds.items()} == {"reply_playbook": 2}
    lo, hi = f.percentiles("approval")["p50"]
    assert lo <= 45 <= hi
    lo, hi = f.percentiles("approval")["p90"]
    assert lo <= 200 <= hi
    # a draft still waiting counts live, from its submission to now
    cid = legal_draft(workspace, clock)
    clock.advance(minutes=17)
    r = reports.report(workspace.store, kpis.Period.last(1, clock.now()), clock.now())
    assert [(w["kind"], w["count"], w["oldest_minutes"], w["items"]) for w in r.waiting] == [
        ("reply_playbook", 1, 17.0, [(cid, 17.0)])]
    kept = dict(f.approval_wait)
    rebuild_projection(workspace.store)  # the event rollup comes back from the log alone
    assert reports.figures(workspace.store, kpis.Period.last(1, clock.now())).approval_wait \
        == kept


def test_business_time_on_the_track_calendar_equals_the_log(workspace, clock):
    """The support track's SLA runs on office hours: times to first response and to
    resolution, and SLA met, count business minutes there, elapsed minutes elsewhere."""
    with_office_calendar(workspace)
    fill(workspace, clock, days=DAYS)
    period = _period(clock)
    f = reports.figures(workspace.store, period)
    want = from_log(workspace.store, period.start, period.end, clock.now(), office=True)
    wall = from_log(workspace.store, period.start, period.end, clock.now())
    for k in ("responded", "missed", "sla_met", "sla_late"):
        assert f.totals.get(k, 0) == want["totals"].get(k, 0), k
    # the calendar changes the outcome of some cases (nights and weekends stop the clock)
    assert want["totals"]["sla_met"] > wall["totals"]["sla_met"]
    for team, outcomes in want["sla_team"].items():
        assert f.sla["team"][team] == outcomes, team
    for which, value in ((kpis.TTFR, want["ttfr_median"]), (kpis.TTR, want["ttr_median"])):
        lo, hi = f.percentiles(which)["p50"]
        assert lo <= value <= hi, which
    assert OFFICE_TRACK in f.calendars["office"]
    assert OFFICE_TRACK not in f.calendars.get("", {})
    with workspace.store.begin() as tx:  # each row's business minutes, by the test's arithmetic
        rows = tx.conn.execute(sa.select(t.cases).where(
            t.cases.c.track == OFFICE_TRACK, t.cases.c.first_response_at.is_not(None))
        ).mappings().all()
    assert rows
    for r in rows:
        opened, first = (x if x.tzinfo else x.replace(tzinfo=UTC)
                         for x in (r["opened_at"], r["first_response_at"]))
        assert r["sla_calendar"] == "office"
        assert r["first_response_minutes"] == pytest.approx(office_minutes(opened, first),
                                                            abs=0.01)
    for cal, tracks in f.calendars.items():  # each calendar's count drills to its cases
        behind = list(reports.cases_behind(workspace.store, period, "timed",
                                           {"sla_calendar": cal}))
        assert len(behind) == sum(tracks.values()), cal
        assert {c.track for c in behind} == set(tracks), cal
    kept = _kept(workspace.store)
    rebuild_projection(workspace.store)  # the rebuild fixes the same business times
    assert _kept(workspace.store) == kept


def test_volume_by_topic_drills_down_and_exports(app, workspace, clock):
    fill(workspace, clock, days=4, per_day=30)
    period = kpis.Period.last(7, clock.now())
    want = from_log(workspace.store, period.start, period.end, clock.now())
    f = reports.figures(workspace.store, period)
    assert f.topics == want["topics"] and len(f.topics) > 2
    client, _ = login(app, "sam")
    data = client.get("/reports/data.json?period=7d").json()
    assert data["topics"] == want["topics"]
    topic, by = max(((k, v) for k, v in want["topics"].items() if k),
                    key=lambda kv: sum(kv[1].values()))
    rows = list(csv.reader(io.StringIO(
        client.get(f"/reports/cases.csv?period=7d&measure=cases&topic={topic}").text)))
    assert len(rows) - 1 == sum(by.values())
    at = rows[0].index("topics")
    assert all(topic in r[at].split(",") for r in rows[1:])
    js = client.get(f"/reports/cases.json?period=7d&measure=cases&topic={topic}"
                    "&sentiment=negative").json()
    assert len(js) == by.get("negative", 0)
    html = client.get("/reports?period=7d").text
    assert f'href="/reports/cases?period=7d&amp;measure=cases&amp;topic={topic}"' in html
    assert 'id="topic-table"' in html


def test_crisis_time_and_drill_scores_on_the_page_and_in_the_csv(app, workspace, clock):
    from report_kit import synthetic_scorecard

    from escapevelocity.cli.report import build
    from escapevelocity.services import governance
    from escapevelocity.services.crisis import CrisisMode

    crisis = CrisisMode(workspace.store, clock)
    crisis.declare("watch", "sam", "a rumour")
    clock.advance(minutes=20)
    crisis.declare("crisis2", "sam", "fires reported")
    clock.advance(minutes=45)
    governance.record_drill_score(workspace.store, clock, "ana", "outage@2026-11-20", 82.0)
    governance.record_drill_score(workspace.store, clock, "omar", "outage@2026-11-20", 40.0)
    with workspace.store.begin() as tx:
        tx.events.append([synthetic_scorecard(clock.now(), "outage-1")])
    r = reports.report(workspace.store, kpis.Period.last(1, clock.now()), clock.now())
    [incident] = r.crisis
    assert incident["minutes"] == {"crisis2": 45.0, "watch": 20.0}
    assert incident["crisis_minutes"] == 45.0 and incident["peak"] == "crisis2"
    [drill] = r.drills
    assert (drill["players"], drill["mean"], drill["best"]) == (2, 61.0, 82.0)
    with workspace.store.begin() as tx:  # the trace: the events the scores come from
        assert sorted(e.seq for e in tx.events.of_kind("drill_scored")) == sorted(drill["seqs"])
    client, _ = login(app, "sam")
    html = client.get("/reports?period=1d").text
    assert f'data-incident="{incident["id"]}"' in html and "45 min" in html
    assert 'data-drill="outage@2026-11-20"' in html
    data, _, _ = build(workspace, "1d", "csv")
    lines = data.decode().splitlines()
    assert any(x.startswith("time in crisis mode:") and ",45.0," in x for x in lines)
    assert any(x.startswith('"drill score, mean: outage@2026-11-20 (2 players, 1 passed)"')
               for x in lines)
    assert '"drill run scorecard: outage-1 (service-outage, 1 of 2 checks met)",' \
        'drill_run_score,50.0,,' in lines


def test_a_playbook_version_waiting_for_approval_counts_its_wait(app, workspace, clock):
    """Automation waits too: a playbook version whose activation needs legal's approval
    counts from its request to the decision, beside the reply drafts."""
    from test_playbook_workflow import variant

    from escapevelocity.services import playbooks

    out = playbooks.save(workspace.store, clock, variant("Legal checked", "legal"),
                         member="sam", note="legal signs off", activate=True)
    assert out.status == "pending"
    clock.advance(minutes=95)
    playbooks.approve(workspace.store, clock, out.version, member="omar", note="fine")
    r = reports.report(workspace.store, kpis.Period.last(1, clock.now()), clock.now())
    assert r.stream_waits == {"playbook_version": [(playbooks.stream(out.version), 95.0)]}
    assert r.current.approval_kinds == {"playbook_version": {kpis.bucket(95.0): 1}}
    lo, hi = r.current.percentiles("approval")["p50"]
    assert lo <= 95 <= hi
    client, _ = login(app, "sam")
    html = client.get("/reports?period=1d").text
    assert 'data-approval="playbook_version"' in html
    assert client.get("/reports/data.json?period=1d").json()["approval_wait"] == {
        "playbook_version": {str(kpis.bucket(95.0)): 1}}
    later = playbooks.save(workspace.store, clock, variant("Legal again", "legal"),
                           member="sam", note="another", activate=True)
    clock.advance(minutes=12)
    r = reports.report(workspace.store, kpis.Period.last(1, clock.now()), clock.now())
    assert [(w["kind"], w["items"]) for w in r.waiting] == [
        ("playbook_version", [(playbooks.stream(later.version), 12.0)])]
    assert 'data-waiting="playbook_version"' in client.get("/reports?period=1d").text
