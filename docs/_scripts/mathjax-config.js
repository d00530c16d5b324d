// MathJax 3 configuration for pymdownx.arithmatex (generic mode).
// Copied into the site as javascripts/mathjax-config.js by _scripts/mathjax.py
// and loaded before the local MathJax copy (see extra_javascript in mkdocs.yml).
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    // Only typeset what arithmatex marked as maths.
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};

// Material replaces the page body on instant navigation; typeset again then.
// On the first page load MathJax typesets by itself once it has started.
document$.subscribe(() => {
  const mj = window.MathJax;
  if (!mj || !mj.startup || !mj.startup.promise) return;
  mj.startup.promise.then(() => {
    mj.startup.output.clearCache();
    mj.typesetClear();
    mj.texReset();
    return mj.typesetPromise();
  });
});
