"""The items behind the report's rows that are not counted in the case rollups. Pure.

The reports page counts reply drafts' approval waits from the APPROVAL_WAIT rollup, playbook
versions' and spokes' waits from their streams, incidents' crisis time from their head
events, and drill scores and scorecards from their events. A drill-down lists the very items a
figure counts, so each list here applies the same rule as the figure it explains (the rollup's
day and kind, kpis.stream_waits, kpis.crisis_time), and the report's number equals the length
of the list. `link` says where an item's own page is: a case, a playbook version, a spoke.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from escapevelocity.domain import events as ev
from escapevelocity.domain import kpis

DECIDED = "decided"  # the waits of approvals decided in the period
WAITING = "waiting"  # what waits for approval now


def link(ref: str) -> str:
    """The page of whatever waited: a case, a playbook version or a spoke."""
    if ref.startswith(ev.PLAYBOOK_PREFIX) and ref[len(ev.PLAYBOOK_PREFIX):].isdigit():
        return f"/playbook?version={ref[len(ev.PLAYBOOK_PREFIX):]}#editor"
    spoke = ev.GOVERNANCE_PREFIX + "spoke:"
    if ref.startswith(spoke):
        return "/governance/spokes/" + ref[len(spoke):]
    if ":" in ref:
        return ""
    return f"/cases/{ref}"


def draft_kind(e: Any) -> str | None:
    """The kind a decided draft's wait counts under in the APPROVAL_WAIT rollup
    (domain/rollups.py), or None when the event carries no wait (an older log)."""
    if not isinstance(e.waited, int | float):
        return None
    kind = e.approval_kind if e.approval_kind in kpis.APPROVAL_KINDS else ""
    return kind or kpis.REPLY


def draft_waits(decided: Iterable[Any], period: kpis.Period) -> list[dict[str, Any]]:
    """Reply drafts approved or rejected in the period with their wait, one row per decision
    (a case with two drafts decided has two), longest wait first: what the approval rows of
    the report count, by the rollup's rule (the decision's UTC day, its kind)."""
    lo, hi = period.start.isoformat(), period.end.isoformat()
    out = []
    for e in decided:
        kind = draft_kind(e)
        if kind is None or not lo <= e.at.astimezone(UTC).date().isoformat() < hi:
            continue
        out.append({"ref": e.stream, "kind": kind, "label": kpis.approval_label(kind),
                    "state": "approved" if e.kind == ev.APPROVED else "rejected",
                    "decided_at": e.at, "minutes": round(max(0.0, float(e.waited)), 2),
                    "draft": e.draft, "seq": e.seq, "link": link(e.stream)})
    return sorted(out, key=lambda r: (-r["minutes"], r["ref"], r["seq"] or 0))


def stream_rows(waits: Mapping[str, list[tuple[str, float]]],
                decided_at: Mapping[str, datetime] | None = None) -> list[dict[str, Any]]:
    """kpis.stream_waits' (stream, minutes) by kind as rows like draft_waits'."""
    out = []
    for kind, rows in waits.items():
        for ref, minutes in rows:
            out.append({"ref": ref, "kind": kind, "label": kpis.approval_label(kind),
                        "state": "decided", "decided_at": (decided_at or {}).get(ref),
                        "minutes": minutes, "draft": "", "seq": None, "link": link(ref)})
    return sorted(out, key=lambda r: (-r["minutes"], r["ref"]))


def waiting_rows(waiting: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """kpis.waiting_now's items as rows: what waits now and for how long."""
    return [{"ref": ref, "kind": w["kind"], "label": w["label"], "state": "waiting",
             "decided_at": None, "minutes": minutes, "draft": "", "seq": None,
             "link": link(ref)}
            for w in waiting for ref, minutes in w["items"]]


def of_kind(rows: Iterable[Mapping[str, Any]], kind: str | None) -> list[dict[str, Any]]:
    """The rows of one approval kind ("reply_risk", "playbook_version", …), or all."""
    return [dict(r) for r in rows if kind in (None, "") or r["kind"] == kind]


# --- drills ---------------------------------------------------------------------------------------

def scorecards(events: Iterable[Any], period: kpis.Period) -> list[dict[str, Any]]:
    """The drill runs whose scorecard was recorded in the period (drill_scorecard events),
    newest first: scenario, detection delay, routing accuracy, SLA met, score."""
    lo, hi = period.instants()
    out = []
    for e in events:
        if not lo <= e.at < hi:
            continue
        out.append({"run": e.run, "scenario": e.scenario, "title": e.title,
                    "finished_at": e.at, "detection_delay_min": e.detection_delay_min,
                    "routing_accuracy": e.routing_accuracy, "sla_met": e.sla_met,
                    "checks_met": e.checks_met, "checks": e.checks, "score": e.score,
                    "players": list(e.players), "seq": e.seq,
                    "link": f"/reports/drill-runs/{e.seq}"})
    return sorted(out, key=lambda r: (r["finished_at"], r["seq"] or 0), reverse=True)


def players(scored: Iterable[Any], period: kpis.Period, drill: str | None
            ) -> list[dict[str, Any]]:
    """The people's drill scores behind a drill-score row (kpis.drill_scores' events), one
    row per player: score, passed, what they did, and the sandbox cases they handled when
    the log kept them (details["cases"], recorded since this list existed)."""
    lo, hi = period.instants()
    out = []
    for e in scored:
        if not lo <= e.at < hi or (drill is not None and (e.drill or "?") != drill):
            continue
        d = e.details if isinstance(e.details, Mapping) else {}
        out.append({"drill": e.drill or "?", "member": e.member, "score": float(e.score),
                    "passed": float(e.score) >= e.min_score, "min_score": e.min_score,
                    "recorded_at": e.at, "answers": d.get("answers"),
                    "within_sla": d.get("within_sla"), "escalations": d.get("escalations"),
                    "cases": [str(c) for c in d.get("cases") or ()], "run": d.get("run", ""),
                    "seq": e.seq})
    return sorted(out, key=lambda r: (r["drill"], -r["score"], r["member"]))
