"""ProperDocs hooks: the stand-in weights banner, numbered figures, and MathJax only on pages with formulas.

**Weights banner.** Say on every page when the "trained" figures do not come from ImageNet weights.

The generator records the trained checkpoint's identity in ``docs/generated/manifest.json``
(``weights``: its sha256 and whether it is torchvision's official ``vgg16-397923af.pth``).
For a stand-in, this sets ``config.extra.weights_banner``, which the theme override
``docs/_overrides/main.html`` shows in Material's announcement bar on every page.

**Numbered figures.** Every captioned figure of a page is numbered in order
("Figure 3."); a chapter's ``[Figure](#fig-<figure's path>)`` link reads "Figure 3"
(see ``generator.site.markup.figure_anchor``).

**MathJax where it is needed.** ``extra_javascript`` puts MathJax (1.2 MB, 270 kB
compressed) on every page. A page without an ``arithmatex`` formula (the gallery,
credits, the build page) does not load it, so its first screen stays light.
"""

from __future__ import annotations

import json
import re
from pathlib import Path


def banner_text(weights: dict) -> str | None:
    """The banner for a manifest's ``weights`` entry, or None for official weights (or no manifest)."""
    if not weights or weights.get("official", True):
        return None
    sha = weights.get("sha256") or "unknown"
    return (
        f"The 'trained' figures on this site were built with stand-in weights (sha256 {sha[:12]}…), "
        f"not torchvision's ImageNet VGG16."
    )


def on_config(config):
    manifest = Path(config["docs_dir"]) / "generated" / "manifest.json"
    try:
        weights = json.loads(manifest.read_text(encoding="utf-8")).get("weights") or {}
    except (OSError, ValueError):
        weights = {}
    text = banner_text(weights)
    if text:
        config["extra"]["weights_banner"] = text
    else:
        config["extra"].pop("weights_banner", None)
    return config


# The two <script> tags extra_javascript adds for MathJax (its configuration and the library).
_MATHJAX_SCRIPT = re.compile(r'<script src="[^"]*javascripts/(?:mathjax-config\.js|vendor/mathjax/[^"]*)"></script>\n?')


def without_unused_mathjax(html: str) -> str:
    """The page's HTML, without the MathJax scripts when it has no formula for them."""
    if 'class="arithmatex"' in html:
        return html
    return _MATHJAX_SCRIPT.sub("", html)


_SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'


def with_named_search(html: str) -> str:
    """Material's search dialog has no accessible name (a dialog needs one, WCAG 4.1.2): give it one."""
    return html.replace(_SEARCH_DIALOG, _SEARCH_DIALOG[:-1] + ' aria-label="Search this site">', 1)


def on_post_page(output, page, config):
    return with_named_search(without_unused_mathjax(output))


_FIGURE = re.compile(r"<figure\b(?P<attrs>[^>]*)>(?P<body>.*?)</figure>", re.DOTALL)
_CAPTION = re.compile(r"<figcaption\b[^>]*>")


_REFERENCE = re.compile(r'<a href="#(?P<id>fig-[A-Za-z0-9_-]+)">[^<]*</a>')


def number_figures(html: str) -> str:
    """'Figure n.' before each figure caption, in page order, with an id on every figure.

    A generated figure keeps its ``fig-…`` id (``generator.site.markup.figure_anchor``), and a
    chapter's ``[Figure](#fig-…)`` link to it reads "Figure n". Other figures get
    ``figure-n``; a figure shown twice on one page keeps its id only the first time.
    """
    count = 0
    numbers: dict[str, int] = {}

    def one(match: re.Match) -> str:
        nonlocal count
        attrs, body = match["attrs"], match["body"]
        caption = _CAPTION.search(body)
        if not caption:
            return match.group(0)
        existing = re.search(r'\sid="([^"]*)"', attrs)
        if existing and not existing.group(1).startswith("fig-"):
            return match.group(0)  # someone else's id: leave the figure alone
        count += 1
        anchor = existing.group(1) if existing else ""
        attrs = re.sub(r'\sid="[^"]*"', "", attrs)
        if not anchor or anchor in numbers:
            anchor = f"figure-{count}"
        numbers[anchor] = count
        label = f'<span class="cnn-fignum">Figure {count}.</span> '
        body = body[: caption.end()] + label + body[caption.end() :]
        return f'<figure id="{anchor}"{attrs}>{body}</figure>'

    html = _FIGURE.sub(one, html)

    def reference(match: re.Match) -> str:
        n = numbers.get(match["id"])
        return f'<a href="#{match["id"]}">Figure {n}</a>' if n else match.group(0)

    return _REFERENCE.sub(reference, html)


def on_page_content(html, page, config, files):
    return number_figures(html)
