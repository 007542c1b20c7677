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
