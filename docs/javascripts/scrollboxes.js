// Material wraps each table in a box that scrolls sideways when the table is wider than the page, and a
// display formula scrolls sideways on a narrow screen. A reader without a mouse can only scroll a box that
// takes keyboard focus (WCAG 2.1.1), so each such box gets a place in the tab order and a name that says
// what it holds. A formula that fits needs no tab stop; it gets one when the window makes it overflow.
function focusableScrollBoxes() {
  for (const box of document.querySelectorAll(".md-typeset__scrollwrap:not([tabindex])")) {
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", "Table (scrolls sideways)");
  }
  for (const box of document.querySelectorAll(".md-typeset div.arithmatex")) {
    const overflows = box.scrollWidth > box.clientWidth;
    if (overflows && !box.hasAttribute("tabindex")) {
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", "Formula (scrolls sideways)");
    } else if (!overflows && box.getAttribute("role") === "region") {
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  }
}

function soon() {
  requestAnimationFrame(focusableScrollBoxes);
}

if (window.document$) {
  window.document$.subscribe(soon);
} else {
  document.addEventListener("DOMContentLoaded", soon);
}
window.addEventListener("resize", soon);
