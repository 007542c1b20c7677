"""Report charts, drawn server-side as SVG by pygal, each with the table of its numbers.

Why pygal: pure Python with no dependencies of its own (a few hundred kB), it writes SVG on the
server, so pages keep the strict CSP (no chart script in the browser) and the same charts go
into the HTML, e-mailed and PDF reports. Each chart is an <img> of a data: URI (the page's
`img-src 'self' data:` allows it; an SVG shown as an image runs no script), with its numbers in
a table beside it for screen readers. Series are told apart without colour: grey levels far
apart, dash patterns, and the values printed.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pygal is imported by the first chart drawn, not by `ev serve`'s start-up
    import pygal

GRAYS = ("#1a1a1a", "#8c8c8c", "#d0d0d0", "#4d4d4d", "#b0b0b0")
DASHES = (None, "6,4", "2,3", "10,3,2,3")


@cache
def _style() -> pygal.style.Style:
    from pygal.style import Style

    return Style(background="#ffffff", plot_background="#ffffff", foreground="#1a1a1a",
                 foreground_strong="#000000", foreground_subtle="#555555", colors=GRAYS,
                 font_family="sans-serif", label_font_size=13, major_label_font_size=13,
                 value_font_size=12, legend_font_size=14, title_font_size=16,
                 tooltip_font_size=12)


@dataclass
class Chart:
    """One chart: its SVG (as a data URI) and the table that says the same in numbers."""
    title: str
    uri: str
    columns: list[str]
    rows: list[list[str]]
    links: list[str | None] | None = None  # per row: the cases behind it (drill-down)


def _render(chart: pygal.Graph) -> str:
    svg = chart.render()  # bytes, with its own <style>; js=[] below: no script reference
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()


def _base(kind: str, title: str, **kw) -> pygal.Graph:
    """A chart of pygal's class `kind` ("Bar", "StackedBar", ...) in the report style."""
    import pygal

    options = {"print_values": False, "legend_at_bottom": True, **kw}
    return getattr(pygal, kind)(title=title, style=_style(), js=[], width=760, height=340,
                                show_y_guides=True, truncate_label=-1, **options)


def volume_sentiment(daily: Mapping[str, Mapping[str, int]], days: Sequence[str]) -> Chart:
    """Cases opened per day, stacked by sentiment."""
    labels = ("negative", "neutral", "positive")
    chart = _base("StackedBar", "Volume and sentiment per day", x_label_rotation=30,
                  show_minor_x_labels=False)
    chart.x_labels = [d[5:] for d in days]
    chart.x_labels_major = [d[5:] for d in days[:: max(1, len(days) // 10)]]
    for i, s in enumerate(labels):
        chart.add(s, [daily.get(d, {}).get(s, 0) for d in days],
                  stroke_style={"dasharray": DASHES[i]} if DASHES[i] else None)
    rows = [[d, *(str(daily.get(d, {}).get(s, 0)) for s in labels),
             str(sum(daily.get(d, {}).values()))] for d in days]
    return Chart("Volume and sentiment per day", _render(chart),
                 ["day", *labels, "all"], rows)


RANGES = ((5, "under 5 min"), (15, "5-15 min"), (30, "15-30 min"), (60, "30-60 min"),
          (120, "1-2 h"), (240, "2-4 h"), (480, "4-8 h"), (1440, "8-24 h"),
          (float("inf"), "over 1 day"))


def response_times(hist: Mapping[int, int], edges) -> Chart:
    """Time to first response: how many cases in each range (a bucket goes to the range its
    upper edge falls in)."""
    counts = dict.fromkeys((label for _, label in RANGES), 0)
    for k, n in hist.items():
        upper = edges(k)[1]
        for limit, label in RANGES:
            if upper <= limit * 1.2:  # the bucket's upper edge is at most 20 % past the line
                counts[label] += n
                break
    chart = _base("Bar", "Time to first response", show_legend=False, print_values=True)
    chart.x_labels = list(counts)
    chart.add("cases", list(counts.values()))
    return Chart("Time to first response", _render(chart), ["range", "cases"],
                 [[k, str(v)] for k, v in counts.items()])


def sla_by_team(attainment: Mapping[str, float | None], outcomes: Mapping[str, Mapping[str, int]]
                ) -> Chart:
    teams = sorted(t for t in attainment if t)
    chart = _base("HorizontalBar", "First-response SLA met, by team (%)", show_legend=False,
                  print_values=True, range=(0, 100))
    chart.x_labels = teams
    chart.add("met %", [None if attainment[t] is None else round(100 * attainment[t], 1)
                        for t in teams])
    rows = [[t, "" if attainment[t] is None else f"{100 * attainment[t]:.1f}",
             *(str(outcomes.get(t, {}).get(o, 0)) for o in ("met", "late", "missed"))]
            for t in teams]
    return Chart("First-response SLA met, by team", _render(chart),
                 ["team", "met %", "met", "late", "missed"], rows)


def backlog_age(buckets: Mapping[str, int]) -> Chart:
    chart = _base("Bar", "Backlog by age", show_legend=False, print_values=True)
    chart.x_labels = list(buckets)
    chart.add("open cases", list(buckets.values()))
    return Chart("Backlog by age", _render(chart), ["age", "open cases"],
                 [[k, str(v)] for k, v in buckets.items()])


TOPIC_SENTIMENTS = ("negative", "neutral", "positive")


def topic_volume(rows: Sequence[tuple[str, int, Mapping[str, int]]], limit: int = 15) -> Chart:
    """Cases per topic, stacked by sentiment (the `limit` biggest topics; "" is no topic)."""
    shown = list(rows[:limit])
    labels = [t or "no topic" for t, _, _ in shown]
    chart = _base("HorizontalStackedBar", "Volume and sentiment by topic")
    chart.x_labels = labels
    for i, s in enumerate(TOPIC_SENTIMENTS):
        chart.add(s, [by.get(s, 0) for _, _, by in shown],
                  stroke_style={"dasharray": DASHES[i]} if DASHES[i] else None)
    table = [[t or "no topic", *(str(by.get(s, 0)) for s in TOPIC_SENTIMENTS), str(n)]
             for t, n, by in shown]
    return Chart("Volume and sentiment by topic", _render(chart),
                 ["topic", *TOPIC_SENTIMENTS, "all"], table)
