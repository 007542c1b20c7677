"""axe-core in a page: the serious and critical accessibility violations, in a few words each.

The engine is vendored (vendor/axe.min.js, from the npm package axe-core) and evaluated in the
page through the browser's debugging protocol, so the app's CSP (no inline scripts) stays on.

Only the rules that can find something serious or critical run: axe-core gives each finding
its rule's impact (every rule has one; finalizeRuleResult stamps it on the rule's checks), so
a rule of moderate or minor impact could only add findings this kit drops. Those rules (the
landmark, region and heading ones among them) took about a fifth of axe's time on a page.

Color.parseString is memoized per page: axe parses each element's colours (its text, its own
and every backdrop's background) through colorjs, a pure function of the CSS text that was a
fifth of axe's time, for the few distinct colours a page has. The parsed colour sets the same
four fields the parse does, so every rule's result is the same: on all 122 pages of the sweep
the full results (violations, passes, incomplete, with each check's data and message) were
identical with and without it, and axe took 22 s instead of 42 s.
"""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
BAD = ("serious", "critical")

_RUN = """async bad => {
    if (typeof window.axe === 'undefined') return null;
    const Color = axe.commons.color.Color, parse = Color.prototype.parseString;
    if (!parse.memo) {  // once per page: axe is loaded afresh in each
        const parsed = new Map();
        Color.prototype.parseString = function (text) {
            const rgba = parsed.get(text);
            if (rgba === undefined) {
                parse.call(this, text);  // throws on what it cannot parse, as before
                parsed.set(text, [this.r, this.g, this.b, this.alpha]);
            } else {
                [this.r, this.g, this.b, this.alpha] = rgba;
            }
            return this;
        };
        Color.prototype.parseString.memo = true;
    }
    const rules = {};
    for (const rule of axe._audit.rules)
        if (rule.impact && !bad.includes(rule.impact)) rules[rule.id] = {enabled: false};
    const r = await axe.run(document, {resultTypes: ['violations'], rules});
    return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
}"""


def serious_violations(page) -> list[dict]:
    found = page.evaluate(_RUN, list(BAD))
    if found is None:  # not loaded by an init script (tests/browser/test_everywhere.py's is)
        page.evaluate(AXE.read_text())
        found = page.evaluate(_RUN, list(BAD))
        context = page.context
        if not getattr(context, "_axe_loaded", False):  # the pages it loads next have it too:
            context.add_init_script(path=str(AXE))  # ~0.5 MB not sent over for each check
            context._axe_loaded = True
    return [v for v in found if v["impact"] in BAD]
