"""The drill's after-action report: one self-contained HTML page with inline SVG plots.

No plotting library: the charts are a few rectangles and lines, generated here. Every text
from the scenario or the stream is escaped.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from escapevelocity.domain.crisis import RANK
from escapevelocity.drill.score import Group, Scorecard

LEVEL_COLOURS = {"normal": "#ffffff", "watch": "#fff8db", "crisis1": "#ffefe0",
                 "crisis2": "#ffe2d1", "crisis3": "#fdd5d5"}
REGULAR, CRISIS = "#4c78a8", "#c0392b"


def _t(at: Any, tz: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    if not isinstance(at, datetime):
        return "—"
    return at.astimezone(tz).strftime(fmt)


def _num(value: float | None, unit: str = "", fmt: str = "{:.0f}") -> str:
    return "—" if value is None else fmt.format(value) + unit


def volume_chart(card: Scorecard, tz: ZoneInfo, width: int = 900, height: int = 260) -> str:
    """Mentions per hour (regular below, crisis on top), the level as a background band,
    injects and the first alert as vertical lines."""
    hours = card.hourly
    if not hours:
        return ""
    left, right, top, bottom = 48, 12, 14, 40
    w, h = width - left - right, height - top - bottom
    peak = max(1, max(r + c for _, r, c, _ in hours))
    bw = w / len(hours)
    start = hours[0][0]
    span = len(hours) * 3600.0

    def x_at(at: datetime) -> float:
        return left + w * (at - start).total_seconds() / span

    def y(v: float) -> float:
        return top + h - h * v / peak

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'role="img" aria-label="mentions per hour and crisis level">']
    for i, (_, _, _, level) in enumerate(hours):
        if level != "normal":
            out.append(f'<rect x="{left + i * bw:.1f}" y="{top}" width="{bw + 0.5:.1f}" '
                       f'height="{h}" fill="{LEVEL_COLOURS[level]}"><title>{level}</title></rect>')
    for i, (at, regular, crisis, level) in enumerate(hours):
        x = left + i * bw + 1
        out.append(f'<rect x="{x:.1f}" y="{y(regular):.1f}" width="{max(bw - 2, 1):.1f}" '
                   f'height="{top + h - y(regular):.1f}" fill="{REGULAR}"><title>'
                   f'{escape(_t(at, tz))}: {regular} regular</title></rect>')
        out.append(f'<rect x="{x:.1f}" y="{y(regular + crisis):.1f}" '
                   f'width="{max(bw - 2, 1):.1f}" height="{y(regular) - y(regular + crisis):.1f}" '
                   f'fill="{CRISIS}"><title>{escape(_t(at, tz))}: {crisis} crisis, '
                   f'level {level}</title></rect>')
    # axes and labels
    out.append(f'<line x1="{left}" y1="{top + h}" x2="{left + w}" y2="{top + h}" stroke="#333"/>')
    out.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + h}" stroke="#333"/>')
    for frac in (0, 0.5, 1):
        v = peak * frac
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" '
                   f'text-anchor="end">{v:.0f}</text>')
    step = max(1, len(hours) // 8)
    for i in range(0, len(hours), step):
        out.append(f'<text x="{left + i * bw:.1f}" y="{top + h + 16}" font-size="11">'
                   f'{escape(_t(hours[i][0], tz, "%a %H:%M"))}</text>')
    markers = [(at, name, "#6f42c1") for at, name, _ in card.injects]
    if card.first_alert_at:
        markers.append((card.first_alert_at, "first alert", "#198754"))
    markers.append((card.onset, "onset", "#555"))
    for k, (at, name, colour) in enumerate(markers):
        if not isinstance(at, datetime):
            continue
        x = x_at(at)
        if left <= x <= left + w:
            out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + h}" '
                       f'stroke="{colour}" stroke-dasharray="4 3" stroke-width="1.5"/>')
            out.append(f'<text x="{x + 3:.1f}" y="{top + 12 + 12 * (k % 3)}" font-size="11" '
                       f'fill="{colour}">{escape(name)}</text>')
    out.append(f'<text x="{left}" y="{height - 4}" font-size="11" fill="#555">mentions per hour: '
               f'<tspan fill="{REGULAR}">regular</tspan> / <tspan fill="{CRISIS}">crisis</tspan>'
               '; background: level</text>')
    out.append("</svg>")
    return "".join(out)


def bars(rows: list[tuple[str, float, str]], *, unit: str = "", maximum: float | None = None,
         width: int = 560) -> str:
    """Horizontal bars: (label, value, colour)."""
    if not rows:
        return ""
    top = maximum or max(v for _, v, _ in rows) or 1
    row_h, label_w = 24, 190
    height = row_h * len(rows) + 8
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">']
    for i, (label, value, colour) in enumerate(rows):
        y = 4 + i * row_h
        bw = (width - label_w - 70) * min(value, top) / top
        out.append(f'<text x="{label_w - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
                   f'{escape(label)}</text>')
        out.append(f'<rect x="{label_w}" y="{y + 3}" width="{bw:.1f}" height="{row_h - 8}" '
                   f'fill="{colour}"/>')
        out.append(f'<text x="{label_w + bw + 6:.1f}" y="{y + 15}" font-size="12">'
                   f'{value:.1f}{escape(unit)}</text>')
    out.append("</svg>")
    return "".join(out)


def _group_row(name: str, g: Group) -> str:
    share = g.sla_met_share
    return (f"<tr><td>{escape(name)}</td><td>{g.cases}</td><td>{g.answered}</td>"
            f"<td>{_num(g.median_first_response_min, ' min')}</td>"
            f"<td>{_num(g.p90_first_response_min, ' min')}</td>"
            f"<td>{g.breached}</td><td>{_num(share and share * 100, '%')}</td></tr>")


def render(card: Scorecard, timeline: list[dict[str, Any]], timezone: str) -> str:
    tz = ZoneInfo(timezone)
    met = sum(1 for c in card.checks if c[3])
    checks = "".join(
        f'<tr class="{"ok" if ok else "miss"}"><td>{"✔" if ok else "✘"}</td>'
        f"<td>{escape(what)}</td><td>{escape(str(fig))}</td><td>{escape(str(target))}</td></tr>"
        for what, fig, target, ok in card.checks)
    persona_rows = [(f"{p} ({int(n)})", acc * 100, REGULAR if acc >= 0.9 else CRISIS)
                    for p, (n, acc) in card.routing_by_persona.items()]
    response_rows = []
    for name, g, colour in (("crisis posts", card.crisis_group, CRISIS),
                            ("regular customers", card.regular_group, REGULAR)):
        if g.median_first_response_min is not None:
            response_rows.append((f"{name}: median", g.median_first_response_min, colour))
        if g.p90_first_response_min is not None:
            response_rows.append((f"{name}: 90th pct", g.p90_first_response_min, colour))
    wrong = "".join(
        f"<tr><td>{escape(p)}</td><td>{escape(k)}</td><td>{escape(e)}</td><td>{escape(g or '—')}"
        f"</td><td>{n}</td></tr>" for p, k, e, g, n in card.misrouted)
    levels = " → ".join(f"{escape(lv)} ({escape(_t(at, tz, '%a %H:%M'))})"
                        for at, lv in card.levels)
    events = "".join(
        f"<tr><td>{escape(_t(e['at'], tz))}</td><td>{escape(e['kind'])}</td>"
        f"<td>{escape(e['actor'])}</td><td>{escape(e['text'])}</td></tr>" for e in timeline[:200])
    breaches = ", ".join(f"{escape(k)} {v}" for k, v in card.breaches_by_track.items()) or "none"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Drill report: {escape(card.title)}</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#222}}
h1{{font-size:1.5rem}} h2{{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}}
table{{border-collapse:collapse;margin:.5rem 0}}
td,th{{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left}}
tr.ok td:first-child{{color:#198754}} tr.miss td:first-child{{color:#c62828}}
.meta{{color:#555}} .big{{font-size:1.3rem;font-weight:600}}
</style></head><body>
<h1>Drill report: {escape(card.title)}</h1>
<p class="meta">Scenario <code>{escape(card.scenario)}</code> ·
{escape(_t(card.start, tz))} to {escape(_t(card.end, tz))} ({escape(timezone)}) ·
{card.mentions} mentions, {card.crisis_mentions} about the crisis ·
crisis onset {escape(_t(card.onset, tz))}</p>
<p class="big">{met} of {len(card.checks)} checks met</p>
<table><tr><th></th><th>check</th><th>figure</th><th>target</th></tr>{checks}</table>

<h2>Volume and level</h2>
{volume_chart(card, tz)}
<p>Levels: {levels}</p>

<h2>Detection</h2>
<table>
<tr><td>first alert</td><td>{escape(_t(card.first_alert_at, tz))}
 ({_num(card.detection_delay_min, ' min')} after onset)</td></tr>
<tr><td>first crisis level</td><td>{escape(_t(card.crisis_declared_at, tz))}
 ({_num(card.crisis_delay_min, ' min')} after onset)</td></tr>
<tr><td>peak level</td><td>{escape(card.peak_level)}
 (expected {escape(card.expected_level)})</td></tr>
<tr><td>alerts</td><td>{card.alerts}</td></tr>
<tr><td>pages</td><td>{card.pages} ({escape(', '.join(card.paged_roles) or 'none')}), first
 {_num(card.first_page_delay_min, ' min')} after onset</td></tr>
</table>
<ul>{"".join(f"<li>{escape(r)}</li>" for r in card.alert_reasons)}</ul>

<h2>Routing</h2>
<p>{_num(card.routing_accuracy and card.routing_accuracy * 100, '%', '{:.1f}')} of
{card.routing_cases} crisis posts reached their expected track
({_num(card.routing_accuracy_in_crisis and card.routing_accuracy_in_crisis * 100, '%',
'{:.1f}')} of those decided in crisis mode). Regular customers' cases pulled into the crisis
track: {card.regular_into_crisis}.</p>
{bars(persona_rows, unit="%", maximum=100)}
<table><tr><th>persona</th><th>kind</th><th>expected</th><th>got</th><th>cases</th></tr>{wrong}</table>

<h2>Response</h2>
<table><tr><th>group</th><th>cases to answer</th><th>answered</th><th>median first response</th>
<th>90th pct</th><th>SLA breaches</th><th>SLA met</th></tr>
<tr><td colspan="7"><small>First-response times count a case still unanswered at the end with
its wait so far.</small></td></tr>
{_group_row("crisis posts", card.crisis_group)}
{_group_row("regular customers during the crisis", card.regular_group)}
{_group_row("regular customers before the onset", card.regular_before)}
</table>
{bars(response_rows, unit=" min")}
<p>SLA breaches: {card.sla_breaches} ({breaches}). Approvals: {card.approvals_granted} granted of
{card.approvals_requested} requested, median wait {_num(card.approval_median_wait_min, ' min')}.
Holding statement approved {_num(card.statement_after_min, ' min')} after the first crisis
level.</p>

<h2>Incident timeline</h2>
<table><tr><th>when</th><th>what</th><th>who</th><th>detail</th></tr>{events}</table>
</body></html>
"""


def timeline_rows(events: list[Any]) -> list[dict[str, Any]]:
    """Incident events as rows for the report (detections folded to their reason)."""
    rows = []
    for e in events:
        d = e.data
        text = (d.get("reason") or d.get("text") or d.get("note") or
                (f"{d.get('role')} → {d.get('member')} via {d.get('channel')}: "
                 f"{'delivered' if d.get('ok') else 'FAILED ' + str(d.get('detail'))}"
                 if e.kind == "incident_paged" else ""))
        if e.kind in ("incident_level",):
            text = f"{d.get('previous')} → {d.get('level')}: {d.get('reason', '')}"
        rows.append({"at": e.at, "kind": e.kind.removeprefix("incident_"), "actor": e.actor,
                     "text": str(text)[:300]})
    return rows


def worst(levels: list[str]) -> str:
    return max(levels, key=lambda lv: RANK[lv], default="normal")
