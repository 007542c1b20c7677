"""Business goals mapped to KPIs: the program's reason to exist, stated up front.

A workspace keeps its goals as YAML (the `goals` document, edited on /reports/goals or with
`ev report goals`); each goal names KPIs from `KPIS` with a target, and a report says for each
whether the period met it. Pure: parse, validate, evaluate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

DOCUMENT = "goals"
MAX_GOALS, MAX_TEXT = 20, 300

# KPI name -> (label, unit); values come from `values()` below.
KPIS: dict[str, tuple[str, str]] = {
    "volume": ("Cases opened", "cases"),
    "response_rate": ("Response rate (of cases that need an answer)", "%"),
    "missed_share": ("Missed (closed unanswered, of cases that need an answer)", "%"),
    "no_reply_share": ("Not answered by policy", "%"),
    "sla_attainment": ("First-response SLA met", "%"),
    "sla_at_risk": ("SLA at risk now", "cases"),
    "ttfr_p50": ("Time to first response, median", "min"),
    "ttfr_p90": ("Time to first response, p90", "min"),
    "ttr_p50": ("Time to resolution, median", "min"),
    "ttr_p90": ("Time to resolution, p90", "min"),
    "csat": ("CSAT (1-5)", "score"),
    "leads": ("Leads passed to sales", "cases"),
    "private": ("Moved to a private channel", "cases"),
    "approvals": ("Replies that needed approval", "cases"),
    "approval_wait_p90": ("Approval waiting time, p90", "min"),
    "incidents": ("Incidents", "incidents"),
    "crisis_minutes": ("Time in crisis", "min"),
    "backlog": ("Backlog (open cases that need an answer)", "cases"),
}

DEFAULT = """\
# Business goals, each measured by KPIs (names: see the reports page). target: the value to
# reach; direction: at_least or at_most.
goals:
  - name: Customer satisfaction
    why: Customers who ask in public get a fast, kind answer
    kpis:
      - {kpi: response_rate, target: 95, direction: at_least}
      - {kpi: ttfr_p90, target: 60, direction: at_most}
      - {kpi: csat, target: 4.2, direction: at_least}
  - name: Leads for sales
    why: Purchase intent reaches sales the same day
    kpis:
      - {kpi: leads, target: 20, direction: at_least}
  - name: Less internal confusion
    why: Every case has an owner and meets its SLA
    kpis:
      - {kpi: sla_attainment, target: 90, direction: at_least}
      - {kpi: sla_at_risk, target: 0, direction: at_most}
"""


class Target(msgspec.Struct, forbid_unknown_fields=True):
    kpi: str
    target: float
    direction: str = "at_least"


class Goal(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    kpis: list[Target]
    why: str = ""


class Goals(msgspec.Struct, forbid_unknown_fields=True):
    goals: list[Goal] = []


class GoalsError(ValueError):
    pass


def parse(text: str) -> Goals:
    """Validated goals from YAML; GoalsError says what is wrong, in words."""
    if len(text) > 20_000:
        raise GoalsError("the goals are longer than 20,000 characters")
    try:
        goals = msgspec.yaml.decode(text.encode(), type=Goals)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise GoalsError(str(exc)[:300]) from None
    if len(goals.goals) > MAX_GOALS:
        raise GoalsError(f"at most {MAX_GOALS} goals")
    for g in goals.goals:
        if not g.name.strip() or len(g.name) > MAX_TEXT or len(g.why) > MAX_TEXT:
            raise GoalsError("each goal has a name of 1 to 300 characters")
        for t in g.kpis:
            if t.kpi not in KPIS:
                raise GoalsError(f"goal {g.name[:60]!r}: no KPI {t.kpi[:40]!r} "
                                 f"(one of {', '.join(KPIS)})")
            if t.direction not in ("at_least", "at_most"):
                raise GoalsError(f"goal {g.name[:60]!r}: direction is at_least or at_most")
    return goals


def values(figures: Any, *, at_risk: int, incidents: int, crisis_minutes: float,
           backlog: int) -> dict[str, float | None]:
    """Each KPI's value for a period's Figures (percentages as 0-100, times in minutes, the
    upper edge of the percentile's histogram bucket)."""
    def pct(x: float | None) -> float | None:
        return None if x is None else round(100 * x, 1)

    att = figures.attainment("all").get("all")
    ttfr, ttr = figures.percentiles("ttfr"), figures.percentiles("ttr")

    def edge(p: tuple[float, float] | None) -> float | None:
        return None if p is None else round(p[1], 1)

    t = figures.totals
    return {
        "volume": t.get("cases", 0), "response_rate": pct(figures.response_rate),
        "missed_share": pct(figures.missed_share), "no_reply_share": pct(figures.no_reply_share),
        "sla_attainment": pct(att), "sla_at_risk": at_risk,
        "ttfr_p50": edge(ttfr["p50"]), "ttfr_p90": edge(ttfr["p90"]),
        "ttr_p50": edge(ttr["p50"]), "ttr_p90": edge(ttr["p90"]),
        "csat": None if figures.csat is None else round(figures.csat, 2),
        "leads": t.get("leads", 0), "private": t.get("private", 0),
        "approvals": t.get("approvals", 0),
        "approval_wait_p90": edge(figures.percentiles("approval")["p90"]), "incidents": incidents,
        "crisis_minutes": round(crisis_minutes), "backlog": backlog,
    }


def evaluate(goals: Goals, vals: Mapping[str, float | None]) -> list[dict[str, Any]]:
    """Per goal, per KPI: value, target and whether it is met (None: no data)."""
    out = []
    for g in goals.goals:
        rows = []
        for t in g.kpis:
            v = vals.get(t.kpi)
            met = None if v is None else (v >= t.target if t.direction == "at_least"
                                          else v <= t.target)
            rows.append({"kpi": t.kpi, "label": KPIS[t.kpi][0], "unit": KPIS[t.kpi][1],
                         "value": v, "target": t.target, "direction": t.direction,
                         "met": met})
        out.append({"name": g.name, "why": g.why, "kpis": rows})
    return out
