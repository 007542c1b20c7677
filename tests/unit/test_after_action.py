"""The after-action report of a live incident, pure: duration, peak, pages, statements, cases
answered and breached, and findings drawn from those figures."""

from datetime import UTC, datetime, timedelta

from escapevelocity.domain import events as ev
from escapevelocity.domain.cases import Case
from escapevelocity.domain.crisis.after_action import summarise

T0 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
S = "incident:x"


def _at(m):
    return T0 + timedelta(minutes=m)


def test_the_report_counts_the_timeline_and_the_cases_and_says_what_to_learn():
    timeline = [ev.IncidentOpened(stream=S, at=_at(0), actor="sam", level="crisis1"),
                ev.IncidentPaged(stream=S, at=_at(1), actor="system", role="pr",
                                 member="nina", channel="email", ok=False),
                ev.IncidentLevel(stream=S, at=_at(30), actor="sam", level="crisis3",
                                 previous="crisis1"),
                ev.IncidentNote(stream=S, at=_at(90), actor="omar", text="we are sorry",
                                note_kind="statement"),
                ev.IncidentStoodDown(stream=S, at=_at(240), actor="sam")]
    cases = [Case(id="c1", track="crisis", respond=True, opened_at=_at(5),
                  first_response_at=_at(15), sla_due=_at(20)),
             Case(id="c2", track="crisis", respond=True, opened_at=_at(6),
                  first_response_at=None, sla_due=_at(21)),
             Case(id="c3", track="monitor", respond=False, opened_at=_at(7),
                  first_response_at=None, sla_due=None)]
    r = summarise(S, timeline, cases, _at(500))
    assert (r.peak, r.minutes, r.pages, r.pages_failed) == ("crisis3", 240.0, 1, 1)
    assert (r.statements, r.minutes_to_statement) == (1, 90.0)
    assert (r.cases, r.needing_answer, r.answered, r.breached) == (3, 2, 1, 1)
    assert r.median_minutes == 10.0
    found = " ".join(r.findings)
    assert "1 of 1 pages failed" in found and "90 minutes" in found
    assert "1 of 2 cases that needed an answer got none" in found
    open_now = summarise(S, timeline[:1], [], _at(10))
    assert open_now.closed is None and "still open" in open_now.findings[0]
    assert "Nobody was paged" in " ".join(open_now.findings)
