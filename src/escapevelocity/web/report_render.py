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
    return buf.getvalue()


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
