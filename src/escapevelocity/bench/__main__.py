"""`make bench`: every benchmark the project ships, with the machine it ran on.

Figures on shared machines are noisy: each benchmark reports a median over runs, and where a
target is a ratio (against VADER, against a general rule engine) both sides run here, in this
process, one after the other.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from escapevelocity.bench.machine import describe

# (title, module, function, kwargs); a module that is not there yet is reported, not fatal.
BENCHMARKS = [
    ("ev triage, 100k generated mentions", "escapevelocity.bench.pipeline", "triage", {}),
    ("ev ingest into SQLite, 100k mentions", "escapevelocity.bench.pipeline", "ingest", {}),
    ("signals: enrichment vs vaderSentiment", "escapevelocity.bench.signals", "run", {}),
    ("learned models: hot path and refine job", "escapevelocity.bench.learned", "run", {}),
    ("playbook: compiled rules vs rule-engine", "escapevelocity.bench.playbook", "run", {}),
    ("routing: assignments, 200 members", "escapevelocity.bench.routing", "run", {}),
    ("crisis detector: observe()", "escapevelocity.bench.crisis", "run", {}),
    ("pages at 1,000,000 cases (SQLite, PostgreSQL)", "escapevelocity.bench.pages", "run", {}),
    ("mentions API under load: 8 clients, 60 s", "escapevelocity.bench.load", "both", {}),
    ("30-day report and wall at 1,000,000 cases (SQLite, PostgreSQL)",
     "escapevelocity.bench.reports", "run", {}),

    ("search over 1,000,000 mentions (SQLite, PostgreSQL)", "escapevelocity.bench.search",
     "run", {}),
]


def main(argv: list[str]) -> int:
    console = Console()
    only = argv[0] if argv else ""
    console.print(f"[bold]machine:[/] {describe()}")
    results = {"machine": describe(), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "benchmarks": {}}
    table = Table(title="Escape Velocity benchmarks (one core, medians)")
    for col in ("benchmark", "figure", "target", "verdict"):
        table.add_column(col)
    for title, module, func, kwargs in BENCHMARKS:
        if only and only not in title and only not in module:
            continue
        try:
            fn = getattr(importlib.import_module(module), func)
        except (ImportError, AttributeError):
            table.add_row(title, "[dim]not built yet[/]", "", "")
            continue
        console.print(f"running: {title} …")
        result = fn(**kwargs)
        results["benchmarks"][title] = result
        for line in lines(result):
            verdict = {True: "[green]met[/]", False: "[red]missed[/]", None: ""}[line.get("met")]
            table.add_row(title, line["figure"], line.get("target") or "", verdict)
            title = ""
    console.print(table)
    out = Path("var/bench.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str))
    console.print(f"figures written to {out}")
    return 0


def lines(result: dict) -> list[dict]:
    """A benchmark returns `lines` ({figure, target, met}) or just mentions_per_s and target."""
    if "lines" in result:
        return result["lines"]
    rate, target = result["mentions_per_s"], result.get("target")
    return [{"figure": f"{rate:,.0f} mentions/s", "target": f"≥ {target:,}/s" if target else None,
             "met": rate >= target if target else None}]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
