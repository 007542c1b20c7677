"""Count the facts the maturity assessment rests on (domain/maturity.py decides from them).

A quarter's facts: the organisation (with governance's overlay as it stood at the quarter's
end: spokes approved after it were still in shadow), cases opened in the quarter by team,
drills people played and passed, playbook reviews (versions activated after the first), KPIs
with a target in the "goals" document, and members whose training was complete at the end.
Spokes the YAML lists without governance ever hearing of them count as live throughout: the
applied organisation keeps no history.
"""

from __future__ import annotations

import statistics
from datetime import UTC, datetime
from typing import Any

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev
from escapevelocity.domain import goals, governance, maturity, yamlsafe


def quarter(at: datetime, back: int = 0) -> tuple[datetime, datetime, str]:
    """[start, end) of the calendar quarter holding `at`, `back` quarters earlier, and its
    name ("2026 Q4")."""
    at = at.astimezone(UTC)
    index = at.year * 4 + (at.month - 1) // 3 - back
    year, q = divmod(index, 4)
    start = datetime(year, q * 3 + 1, 1, tzinfo=UTC)
    ny, nq = divmod(index + 1, 4)
    return start, datetime(ny, nq * 3 + 1, 1, tzinfo=UTC), f"{year} Q{q + 1}"


def _kpis(text: str | None) -> int:
    """KPIs with a target in the goals document (goals: [{name, kpis: [{name, target}]}])."""
    try:
        data = yamlsafe.load(text) if text else None
    except ValueError:
        return 0
    goals = data.get("goals", []) if isinstance(data, dict) else data if isinstance(data, list) \
        else []
    return sum(1 for g in goals if isinstance(g, dict)
               for k in (g.get("kpis") or []) if isinstance(k, dict) and "target" in k)


def facts(store: SqlStore, start: datetime, end: datetime, window: str = "") -> maturity.Facts:
    with store.begin() as tx:
        gov_events = [e for e in tx.events.after(0, governance.KINDS, limit=1_000_000)
                      if e.at < end]
        program = governance.replay(gov_events)
        source = tx.documents.get("org")
        base = tx.org.load() if not source else None
        if source:
            from escapevelocity.domain.org import load_org

            base = load_org(yamlsafe.load(source), stored=True)
        assert base is not None
        org = governance.overlay(base, program)
        by_team = tx.cases.opened_by_team(start, end)
        reviews = [e for e in tx.events.of_kinds([ev.PLAYBOOK_ACTIVATED], since=start,
                                                 limit=10_000)
                   if e.at < end and getattr(e, "previous", None) is not None]
        # the goals the reports page evaluates: the saved ones, else the shipped default
        kpis = _kpis(tx.documents.get(goals.DOCUMENT) or goals.DEFAULT)
    spokes = [t for t in org.teams if t.kind == "spoke"]
    spoke_ids = {t.id for t in spokes}
    scores: dict[str, list[tuple[float, int]]] = {}
    for e in gov_events:
        if isinstance(e, ev.DrillScored) and e.at >= start:
            scores.setdefault(e.drill, []).append((e.score, e.min_score))
    passed = sum(1 for runs in scores.values()
                 if statistics.median(s for s, _ in runs) >= max(m for _, m in runs))
    members = [m for m in org.members if m.role != "analyst"]
    return maturity.Facts(
        hubs=sum(1 for t in org.teams if t.kind == "hub"), spokes=len(spokes),
        spokes_live=sum(1 for t in spokes if t.mode == "live"),
        spokes_shadow=sum(1 for t in spokes if t.mode == "shadow"),
        cases=sum(by_team.values()),
        cases_by_spokes=sum(n for team, n in by_team.items() if team in spoke_ids),
        drills_run=len(scores), drills_passed=passed, playbook_reviews=len(reviews),
        kpis_tracked=kpis, members=len(members),
        members_trained=sum(1 for m in members if governance.training_required(program)
                            and not governance.training_gaps(program, m.id)),
        training_required=governance.training_required(program), window=window)


def review(store: SqlStore, now: datetime) -> dict[str, Any]:
    """This quarter so far and the previous one: the assessment of each and the changes."""
    start, end, name = quarter(now)
    pstart, pend, pname = quarter(now, 1)
    current = facts(store, start, end, name)
    previous = facts(store, pstart, pend, pname)
    return {"quarter": name, "previous_quarter": pname,
            "assessment": maturity.assess(current), "previous": maturity.assess(previous),
            "changes": maturity.compare(previous, current)}
