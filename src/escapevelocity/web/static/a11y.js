// Keyboard access to whatever scrolls sideways (a wide table on a phone): a region that
// scrolls takes focus, so arrow keys move it, and says what it is.
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll("main table, main .table-wrap, main pre").forEach(function (el) {
      var scrolls = el.scrollWidth > el.clientWidth + 1;
      if (scrolls && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
        el.setAttribute("data-scroll-focus", "");
        if (!el.getAttribute("aria-label") && el.tagName !== "TABLE") {
          var cap = el.querySelector("caption");
          el.setAttribute("role", "region");
          el.setAttribute("aria-label", cap ? cap.textContent.trim() : "scrollable table");
        }
      } else if (!scrolls && el.hasAttribute("data-scroll-focus")) {
        el.removeAttribute("tabindex");
        el.removeAttribute("data-scroll-focus");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", mark);
  window.addEventListener("resize", mark);
  document.addEventListener("htmx:afterSettle", mark);
})();

// Phones: every table reflows into one card per row (app.css), and a cell then shows its
// column's name before its value (data-label). The names come from the table's header row, so
// a template need not write each one twice; a table whose template labels its own cells (the
// inbox and the other lists that chose which cells need a name) is left as it is.
(function () {
  "use strict";
  function headerRow(table) {
    var head = table.tHead;
    if (head && head.rows.length) return head.rows[head.rows.length - 1];
    var first = table.rows[0];
    return first && !first.querySelector(":scope > td") ? first : null;
  }
  function columnNames(row) {
    var names = [];
    Array.prototype.forEach.call(row.cells, function (th) {
      var shown = th.cloneNode(true);  // a visually hidden "Actions" is not worth showing
      shown.querySelectorAll(".visually-hidden").forEach(function (h) { h.remove(); });
      var name = shown.textContent.replace(/\s+/g, " ").trim();
      for (var i = 0; i < th.colSpan; i++) names.push(name);
    });
    return names;
  }
  function label(table) {
    var byHeader = table.hasAttribute("data-labels");
    if (!byHeader && table.querySelector("td[data-label]")) return;  // the template's own
    var head = headerRow(table);
    if (!head) return;
    var names = columnNames(head);
    table.setAttribute("data-labels", "header");
    Array.prototype.forEach.call(table.rows, function (row) {
      if (row === head || row.parentElement === table.tHead) return;
      var col = 0;
      Array.prototype.forEach.call(row.cells, function (cell) {
        var name = names[col];
        col += cell.colSpan;
        if (cell.tagName !== "TD") return;
        // nothing in it (only spaces): on a card a lone label would read as a missing value
        var blank = !cell.textContent.trim() &&
          !cell.querySelector("input, select, textarea, button, img, svg, canvas, iframe");
        cell.toggleAttribute("data-blank", blank);
        if (blank) return;
        // a cell across columns (an empty list's sentence) belongs to none of them
        if (cell.colSpan === 1 && name && !cell.hasAttribute("data-label"))
          cell.setAttribute("data-label", name);
      });
    });
  }
  function labelAll() { document.querySelectorAll("main table").forEach(label); }
  document.addEventListener("DOMContentLoaded", labelAll);
  document.addEventListener("htmx:afterSettle", labelAll);
})();
