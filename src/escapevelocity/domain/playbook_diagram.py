"""A playbook as a flowchart: Mermaid text, and an SVG/HTML page to pin on a wall.

Pure functions of the compiled playbook (and optional per-rule hit counts). The SVG layout is
our own — one row per rule, read top to bottom, "yes" to the right into the decision, "no"
down to the next rule — so the page needs no network and no script: it prints as it shows.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from html import escape

from escapevelocity.domain.playbook import Playbook, Rule, Then

PALETTE = ("#fde2e1", "#e1ecfd", "#e3f6e4", "#fdf3d8", "#efe4fb", "#dff5f6", "#f9e3f1",
           "#ececec")
MUTED = "#f4f4f4"


def rows(pb: Playbook) -> list[Rule]:
    """Every rule in reading order: the crisis overlay first (when there is one), then the rest."""
    overlay: dict[str, Rule] = {}
    for rules in pb.by_level.values():
        for r in rules:
            if r.origin == "crisis overlay":
                overlay.setdefault(r.id, r)
    return [*overlay.values(), *pb.rules]


def outcome(pb: Playbook, then: Then) -> str:
    """The decision in a few words: track, team, reply or not, SLA."""
    if not then.stop:
        added = [*(f"#{t}" for t in then.tags), *(f"⚑{f}" for f in then.flags),
                 *(f"notify {n}" for n in then.notify)]
        return "adds " + (", ".join(added) or "nothing") + "; reading goes on"
    name = then.track or pb.spec.default.track or ""
    track = pb.spec.tracks[name]
    respond = track.respond if then.respond is None else then.respond
    team = then.team or track.team
    sla = then.sla_minutes or track.sla.first_response
    verb = (f"reply {then.visibility or 'public'}" if respond
            else f"no reply ({then.reason or 'track says so'})")
    approval = track.approval if then.approval is None else then.approval
    extra = f", {approval} approves" if approval and respond else ""
    return f"{name} → {team}: {verb}, SLA {_minutes(sla)}{extra}"


def _minutes(m: int) -> str:
    if m % 1440 == 0:
        return f"{m // 1440}d"
    if m % 60 == 0:
        return f"{m // 60}h"
    return f"{m}m"


# --- Mermaid ----------------------------------------------------------------------------------

def _m(text: str) -> str:
    return (text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
            .replace(">", "#gt;"))


def mermaid(pb: Playbook) -> str:
    """A Mermaid `flowchart TD`; paste it in any Mermaid renderer (GitHub renders it)."""
    out = ["flowchart TD", f'  start(["{_m(pb.name)} — {_m(pb.version)}"])']
    all_rows = rows(pb)
    levels = sorted({lv for lv in pb.by_level})
    first_hub = next((i for i, r in enumerate(all_rows) if r.origin != "crisis overlay"), None)
    node = [f"r{i}" for i in range(len(all_rows))] + ["dflt"]
    if levels and all_rows and all_rows[0].origin == "crisis overlay":
        out.append(f'  level{{"crisis level {"/".join(levels)}?"}}')
        out.append("  start --> level")
        out.append(f"  level -- yes --> {node[0]}")
        out.append(f"  level -- no --> {node[first_hub if first_hub is not None else -1]}")
    else:
        out.append(f"  start --> {node[0]}")
    tracks = {name: i for i, name in enumerate(pb.spec.tracks)}
    for i, rule in enumerate(all_rows):
        label = _m(f"{rule.id}: {rule.text}")
        nxt = node[i + 1]
        if rule.then.stop:
            out.append(f'  {node[i]}{{"{label}"}}')
            out.append(f'  {node[i]} -- yes --> d{i}["{_m(outcome(pb, rule.then))}"]')
            out.append(f"  {node[i]} -- no --> {nxt}")
            out.append(f"  class d{i} track{tracks[rule.then.track or pb.spec.default.track]}")
        else:
            out.append(f'  {node[i]}[/"{label}<br/>{_m(outcome(pb, rule.then))}"/]')
            out.append(f"  {node[i]} --> {nxt}")
        if rule.origin != "hub":
            out.append(f"  class {node[i]} overlay")
    out.append(f'  dflt["default: {_m(outcome(pb, pb.spec.default))}"]')
    for i in tracks.values():
        out.append(f"  classDef track{i} fill:{PALETTE[i % len(PALETTE)]},stroke:#555")
    out.append("  classDef overlay stroke:#b00,stroke-width:2px,stroke-dasharray:4")
    return "\n".join(out) + "\n"


# --- SVG --------------------------------------------------------------------------------------

W, ROW, LEFT_W, GAP, RIGHT_W, PAD = 1120, 74, 560, 60, 440, 20
LINE = 15


def _lines(text: str, width: int, most: int = 3) -> list[str]:
    wrapped = textwrap.wrap(text, width) or [""]
    if len(wrapped) > most:
        wrapped = wrapped[:most]
        wrapped[-1] = wrapped[-1][: width - 1] + "…"
    return wrapped


def _text(x: int, y: int, lines: list[str], *, bold_first: bool = False, size: int = 12) -> str:
    out = []
    for i, line in enumerate(lines):
        weight = ' font-weight="bold"' if bold_first and i == 0 else ""
        out.append(f'<text x="{x}" y="{y + i * LINE}" font-size="{size}"{weight}>'
                   f"{escape(line)}</text>")
    return "".join(out)


def svg(pb: Playbook, hits: Mapping[str, int] | None = None) -> str:
    """The flowchart as one self-contained SVG. `hits`: decisions per rule id (and 'default')."""
    all_rows = rows(pb)
    tracks = {name: i for i, name in enumerate(pb.spec.tracks)}
    total = sum(hits.values()) if hits else 0
    height = PAD * 2 + 60 + ROW * (len(all_rows) + 1) + 30 + 22 * len(tracks)
    x0, x1 = PAD, PAD + LEFT_W + GAP
    parts = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" width="{W}" '
         f'height="{height}" font-family="system-ui, sans-serif" role="img" '
         f'aria-label="{escape(pb.name)} flowchart">'),
        ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" '
         'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
         '<path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>'),
        f'<rect width="{W}" height="{height}" fill="white"/>',
        _text(x0, PAD + 16, [f"{pb.name} — version {pb.version}"], bold_first=True, size=18),
        _text(x0, PAD + 38, [("Read top to bottom. The first rule that matches decides (yes →); "
                              "dashed rules only add tags and reading goes on.")], size=12),
    ]
    top = PAD + 60
    levels = "/".join(sorted(pb.by_level))
    for i, rule in enumerate(all_rows):
        y = top + i * ROW
        box_h = ROW - 22
        overlay = rule.origin != "hub"
        stroke = "#b00" if overlay else "#555"
        dash = ' stroke-dasharray="5,4"' if not rule.then.stop or overlay else ""
        label = rule.id + (f"  [{rule.origin}" + (f": {levels}" if rule.origin ==
                                                   "crisis overlay" else "") + "]"
                           if overlay else "")
        count = ""
        if hits is not None:
            n = hits.get(rule.id, 0)
            share = f" ({n / total:.0%})" if total else ""
            count = f"{n:,} hits{share}"
        parts.append(f'<g class="rule" data-rule="{escape(rule.id)}">'
                     f'<rect x="{x0}" y="{y}" width="{LEFT_W}" height="{box_h}" rx="8" '
                     f'fill="{MUTED if rule.then.stop else "white"}" stroke="{stroke}"{dash}/>')
        condition = rule.cond.text if rule.cond is not None else ""
        if condition and condition != rule.text:  # a description: show the condition under it
            parts.append(_text(x0 + 10, y + 17, [label, *_lines(rule.text, 82, 1)],
                               bold_first=True))
            words = _text(x0 + 10, y + 17 + 2 * LINE, _lines("if " + condition, 90, 1), size=11)
            parts.append(f'<g fill="#666">{words}</g>')
        else:
            parts.append(_text(x0 + 10, y + 17, [label, *_lines(rule.text, 82, 2)],
                               bold_first=True))
        if count:
            parts.append(f'<text x="{x0 + LEFT_W - 10}" y="{y + 17}" font-size="12" '
                         f'text-anchor="end" fill="#0a5">{escape(count)}</text>')
        decision = outcome(pb, rule.then)
        if rule.then.stop:
            fill = PALETTE[tracks[rule.then.track or pb.spec.default.track or ""]
                           % len(PALETTE)]
            parts.append(f'<rect x="{x1}" y="{y}" width="{RIGHT_W}" height="{box_h}" rx="4" '
                         f'fill="{fill}" stroke="#555"/>')
            parts.append(_text(x1 + 10, y + 17, _lines(decision, 60, 3)))
            ym = y + box_h // 2
            parts.append(f'<line x1="{x0 + LEFT_W}" y1="{ym}" x2="{x1 - 2}" y2="{ym}" '
                         f'stroke="#555" marker-end="url(#arrow)"/>')
            parts.append(_text(x0 + LEFT_W + 16, ym - 5, ["yes"], size=11))
        else:
            parts.append(_text(x1 + 10, y + 17, _lines(decision, 60, 3), size=11))
        parts.append(f'<line x1="{x0 + 40}" y1="{y + box_h}" x2="{x0 + 40}" y2="{y + ROW - 2}" '
                     f'stroke="#555" marker-end="url(#arrow)"/>')
        if rule.then.stop:
            parts.append(_text(x0 + 46, y + box_h + 14, ["no"], size=11))
        parts.append("</g>")
    y = top + len(all_rows) * ROW
    default = outcome(pb, pb.spec.default)
    count = ""
    if hits is not None:
        n = hits.get("default", 0)
        count = f" — {n:,} hits" + (f" ({n / total:.0%})" if total else "")
    parts.append(f'<rect x="{x0}" y="{y}" width="{LEFT_W + GAP + RIGHT_W}" height="{ROW - 22}" '
                 f'rx="8" fill="#fff8e0" stroke="#555"/>')
    parts.append(_text(x0 + 10, y + 20, [f"default (no rule matched){count}",
                                         *_lines(default, 130, 1)], bold_first=True))
    y += ROW + 10
    parts.append(_text(x0, y, ["Tracks"], bold_first=True, size=13))
    for name, i in tracks.items():
        t = pb.spec.tracks[name]
        yy = y + 10 + i * 22
        parts.append(f'<rect x="{x0}" y="{yy}" width="14" height="14" '
                     f'fill="{PALETTE[i % len(PALETTE)]}" stroke="#555"/>')
        sla = ", ".join(f"{k.replace('_', ' ')} {_minutes(v)}" for k, v in
                        (("first_response", t.sla.first_response),
                         ("next_response", t.sla.next_response),
                         ("resolution", t.sla.resolution)) if v)
        words = f"{name}: {t.team}, {t.priority}, {sla}" + (
            f", {t.approval} approves" if t.approval else "") + (
            "" if t.respond else ", no reply") + (f" — {t.description}" if t.description else "")
        parts.append(_text(x0 + 22, yy + 12, [words[:150]]))
    parts.append("</svg>")
    return "\n".join(parts)


def html_page(pb: Playbook, hits: Mapping[str, int] | None = None) -> str:
    """A self-contained page (no network, no script) that prints on A3 landscape."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{escape(pb.name)} — playbook</title>
<style>
  body {{ margin: 16px; font-family: system-ui, sans-serif; }}
  svg {{ max-width: 100%; height: auto; }}
  @page {{ size: A3 portrait; margin: 10mm; }}
  @media print {{ body {{ margin: 0; }} .no-print {{ display: none; }} }}
</style></head>
<body>
{svg(pb, hits)}
<details class="no-print"><summary>Mermaid source</summary><pre>{escape(mermaid(pb))}</pre>
</details>
</body></html>
"""
