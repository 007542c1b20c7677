"""axe-core in a page: the serious and critical accessibility violations, in a few words each.

The engine is vendored (vendor/axe.min.js, from the npm package axe-core) and evaluated in the
page through the browser's debugging protocol, so the app's CSP (no inline scripts) stays on.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BAD = ("serious", "critical")


def serious_violations(page) -> list[dict]:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in found if v["impact"] in BAD]
