"""A report as a file: standalone HTML (styles inside, no links back to the app), its PDF, or
its figures as CSV. `ev report` writes and delivers these; the page shows the same body.

PDF by headless Chromium's print-to-PDF through Playwright: the same engine the browser tests
use (`make test` installs Chromium; Playwright is in the `pdf` and `test` extras), so the PDF
is the page as people see it, charts and tables included. WeasyPrint would bring Pango and
its system libraries to every install for one output format.
"""

from __future__ import annotations

import csv
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jinja2

HERE = Path(__file__).parent
CHROMIUM = os.environ.get("EV_CHROMIUM", "/usr/bin/chromium")


def html(context: dict[str, Any], title: str) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                             autoescape=True)
    css = (HERE / "static" / "reports.css").read_text(encoding="utf-8")
    return env.get_template("report_standalone.html").render(
        title=title, css=css, links=False, **context)


def figures_csv(context: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["figure", "key", "this period", "previous period", "change"])
    w.writerow(["SLA at risk now", "sla_at_risk", context["at_risk"], "", ""])
    for f in context["figures"]:
        w.writerow([f["label"], f["key"], f["value"], f["previous"], f["change"]])
    for c in context["channels"]:
        w.writerow([f"share of volume: {c['channel']}", "channel_share", c["share"],
                    c["previous"], ""])
    for c in context.get("calendars", ()):
        w.writerow([_safe(f"cases timed on calendar: {c['calendar']} ({c['tracks']})"),
                    "calendar_cases", c["cases"], "", ""])
    for t in context.get("topics", ()):
        w.writerow([_safe(f"volume by topic: {t['label']}"), "topic_cases", t["cases"], "", ""])
        for s in ("negative", "neutral", "positive"):
            w.writerow([_safe(f"volume by topic: {t['label']}, {s}"), "topic_sentiment",
                        t["sentiment"].get(s, 0), "", ""])
    for a in context.get("approval_kinds", ()):
        w.writerow([f"approvals decided: {a['label']}", "approval_decided", a["decided"],
                    "", ""])
        w.writerow([f"approval wait, median: {a['label']}", "approval_wait_p50", a["p50"],
                    "", ""])
        w.writerow([f"approval wait, p90: {a['label']}", "approval_wait_p90", a["p90"],
                    "", ""])
    for i in context.get("crisis_time", ()):
        w.writerow([_safe(f"time in crisis mode: {i['id']} (peak {i['peak']})"),
                    "crisis_mode_minutes", i["crisis_minutes"], "", ""])
    for d in context.get("drills", ()):
        w.writerow([_safe(f"drill score, mean: {d['drill']} ({d['players']} players, "
                          f"{d['passed']} passed)"), "drill_score_mean", d["mean"], "", ""])
    for c in context.get("scorecards", ()):
        w.writerow([_safe(f"drill run scorecard: {c['run']} ({c['scenario']}, "
                          f"{c['checks_met']} of {c['checks']} checks met)"),
                    "drill_run_score", c["score"], "", ""])
    return buf.getvalue()


def _safe(label: str) -> str:
    """A label that carries a configured or typed name (topic, drill, incident) and that a
    spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + label if label[:1] in ("=", "+", "-", "@", "\t", "\r") else label


def pdf(document: str) -> bytes:
    """The HTML printed to PDF by headless Chromium (A4, backgrounds on)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        raise RuntimeError("PDF needs Playwright: pip install 'escapevelocity[pdf]'") from None
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"PDF needs Chromium at {CHROMIUM} (set EV_CHROMIUM)")
    # Playwright's sync API refuses a thread with a running asyncio loop (the web app's, or
    # another sync Playwright session's): a thread of its own has none.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_print, sync_playwright, document).result()


def _print(sync_playwright, document: str) -> bytes:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM,
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.set_content(document, wait_until="load")
            return page.pdf(format="A4", print_background=True,
                            margin={"top": "12mm", "bottom": "12mm", "left": "10mm",
                                    "right": "10mm"})
        finally:
            browser.close()
