"""Tables on a phone: what a care lead would have to swipe sideways to read or could not tap.

Every table in a page reflows into one card per row at phone width (app.css); these checks say
which table, box or control does not, in a few words each, for any page a test has open.
"""

from __future__ import annotations


def tables_scrolling_sideways(page) -> list[str]:
    """Tables (or the box around one) that are wider than the viewport or scroll inside their
    own box: on a phone a care lead would have to swipe sideways inside them to read a row or
    reach its buttons. Each as 'what scrollWidth/clientWidth'."""
    return page.evaluate("""() => {
        const out = [];
        const boxes = new Set(document.querySelectorAll('main table, main .table-wrap'));
        for (const t of document.querySelectorAll('main table'))
            for (let p = t.parentElement; p && p.tagName !== 'MAIN'; p = p.parentElement) {
                const o = getComputedStyle(p).overflowX;
                if (o === 'auto' || o === 'scroll') boxes.add(p);
            }
        for (const el of boxes) {
            const r = el.getBoundingClientRect();
            if (r.width === 0) continue;  // not shown (a closed <details>)
            if (el.scrollWidth > el.clientWidth + 1 || r.right > innerWidth + 1 || r.left < -1)
                out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                         (typeof el.className === 'string' && el.className
                          ? '.' + el.className.trim().split(/\\s+/).join('.') : '') +
                         ` ${el.scrollWidth}/${el.clientWidth}`);
        }
        return out;
    }""")


def cells_and_controls_out_of_reach(page) -> list[str]:
    """In the tables of a page: a cell with something in it that is off screen, or a label
    shown with no value after it; anywhere in the page: a button, field, menu or tick box
    smaller than a 24 px touch target (WCAG 2.5.8), off screen, or out of the tab order."""
    return page.evaluate("""() => {
        const out = [];
        for (const td of document.querySelectorAll('main table td')) {
            const r = td.getBoundingClientRect();
            if (td.textContent.trim() && r.width > 0 && (r.left < -1 || r.right > innerWidth + 1))
                out.push(`cell "${td.textContent.trim().slice(0, 20)}" at ` +
                         `${Math.round(r.left)}..${Math.round(r.right)}`);
        }
        const controls = 'button, select, input:not([type=hidden]), textarea';
        for (const td of document.querySelectorAll('main table td[data-label]'))
            if (getComputedStyle(td).display !== 'none' && !td.textContent.trim() &&
                !td.querySelector(`${controls}, img, svg`))
                out.push(`a label "${td.dataset.label}" with no value`);
        for (const el of document.querySelectorAll(`main :is(${controls})`)) {
            const r = el.getBoundingClientRect();
            const what = `${el.tagName.toLowerCase()} "${el.name || el.textContent.trim()}"`;
            if (r.width === 0) continue;  // not shown
            if (r.width < 24 || r.height < 24)
                out.push(`${what} is ${Math.round(r.width)}x${Math.round(r.height)}`);
            if (r.left < -1 || r.right > innerWidth + 1) out.push(`${what} off screen`);
            if (el.tabIndex < 0) out.push(`${what} not reachable by Tab`);
        }
        return out.slice(0, 8);
    }""")
