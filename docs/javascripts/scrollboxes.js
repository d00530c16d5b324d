// Material wraps each table in a box that scrolls sideways when the table is wider than the page. A reader
// without a mouse can only scroll a box that takes keyboard focus (WCAG 2.1.1), so each box gets a place in
// the tab order and a name that says what it holds.
function focusableScrollBoxes() {
  for (const box of document.querySelectorAll(".md-typeset__scrollwrap:not([tabindex])")) {
    box.tabIndex = 0;
    box.setAttribute("role", "region");
    box.setAttribute("aria-label", "Table (scrolls sideways)");
  }
}

if (window.document$) {
  window.document$.subscribe(() => requestAnimationFrame(focusableScrollBoxes));
} else {
  document.addEventListener("DOMContentLoaded", () => requestAnimationFrame(focusableScrollBoxes));
}
