"""ProperDocs hooks: the stand-in weights banner, literature boxes, numbered figures, and MathJax only on
pages with formulas.

**Weights banner.** Say on every page when the "trained" figures do not come from ImageNet weights.

The generator records the trained checkpoint's identity in ``docs/generated/manifest.json``
(``weights``: its sha256 and whether it is torchvision's official ``vgg16-397923af.pth``).
For a stand-in, this sets ``config.extra.weights_banner``, which the theme override
``docs/_overrides/main.html`` shows in Material's announcement bar on every page.

**Literature boxes.** ``!!! reported "Author (year)"`` holds what published work found with ImageNet
weights. Its title says so, and its first line says whether this build can show it (a stand-in cannot).

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
    config["extra"]["weights_official"] = weights.get("official") if weights else None
    config["extra"]["weights"] = weights
    return config


# --------------------------------------------------------------------------- the stand-in box of a chapter

_TECHNIQUE_FRAGMENT = re.compile(
    r'^--8<-- "generated/fragments/(?!architecture\.)(?:[a-z_]+\.[\w.-]+|explorer|conclusions)\.md"'
    r"|generated/figures/(?!architecture/|seen/)[a-z_]+/",
    re.MULTILINE,
)
"""A page that includes a technique's fragment, or shows one of its figures (a gallery page), shows the
networks' results; the architecture and the photos themselves need no weights."""

STAND_IN_BOX = """!!! warning "Stand-in weights: the \u201ctrained\u201d network is not ImageNet's"

    This build's "trained" VGG16 has stand-in weights{sha}, not torchvision's ImageNet file, so every
    "trained" figure and number on this page comes from a network with other weights (offline builds
    and the tests use a seeded random one). What ImageNet weights give is only in the boxes titled
    "Reported in the literature".

"""


def with_stand_in_box(markdown: str, weights: dict) -> str:
    """A chapter page (one that shows a technique's figures) of a stand-in build starts with the same box,
    right under its title; other pages and other builds are left as they are."""
    if not weights or weights.get("official", True) or not _TECHNIQUE_FRAGMENT.search(markdown):
        return markdown
    sha = weights.get("sha256")
    box = STAND_IN_BOX.format(sha=f" (sha256 `{sha[:16]}…`)" if sha else "")
    title = re.search(r"^# .*\n", markdown, re.MULTILINE)
    at = title.end() if title else 0
    return markdown[:at] + "\n" + box + markdown[at:]


def on_page_markdown(markdown, page, config, files):
    return with_stand_in_box(markdown, config["extra"].get("weights") or {})


# --------------------------------------------------------------------------- reported in the literature

_REPORTED = re.compile(
    r'(<div class="admonition reported">\s*<p class="admonition-title">)(?P<title>.*?)(</p>)', re.DOTALL
)

REPORTED_SCOPE = {
    False: (
        "Published with ImageNet weights; <strong>not an observation of this build</strong>: its "
        "\u201ctrained\u201d network has stand-in weights, not ImageNet's, so no figure here can show this."
    ),
    True: (
        "Published with ImageNet weights; this build's trained network has torchvision's ImageNet weights, "
        "so its figures can be compared with it (they need not agree: the weights are not the paper's)."
    ),
    None: "Published with ImageNet weights, not measured by this build.",
}
"""The line every ``!!! reported`` box begins with, by whether this build's "trained" weights are official."""


def with_reported_scope(html: str, official: bool | None) -> str:
    """Each ``!!! reported "Source"`` box: its title says it is the literature's, and its first line says
    whether this build can show what it describes. A chapter states what published work found with
    ImageNet weights only in such a box (``tests/test_honesty.py`` checks every page's prose for it)."""
    scope = REPORTED_SCOPE.get(official, REPORTED_SCOPE[None])

    def one(match: re.Match) -> str:
        title = f"Reported in the literature: {match['title']}"
        return f'{match.group(1)}{title}{match.group(3)}\n<p class="cnn-reported-scope">{scope}</p>'

    return _REPORTED.sub(one, html)


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
    return with_reported_scope(number_figures(html), config["extra"].get("weights_official"))
