"""ProperDocs hooks: the stand-in weights banner, literature boxes, numbered figures, and formulas rendered
as MathML when the site is built.

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

**Formulas as MathML, at build time.** ``pymdownx.arithmatex`` marks each formula; this turns its TeX into
MathML with ``latex2mathml``, which every current browser renders natively, so no page runs a maths engine
(MathJax cost 1.7-2.3 s of main-thread scripting on each page with a formula). A formula that does not
convert is a warning naming the page and the formula, so that ``--strict`` stops the build.
"""

from __future__ import annotations

import html as html_lib
import json
import logging
import re
from pathlib import Path

from latex2mathml.converter import convert as latex_to_mathml

log = logging.getLogger("mkdocs.plugins.cnn_sees.hooks")


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
    "trained" figure and number on this page comes from a network with other weights. Offline builds
    and the tests make those weights a second random initialisation (seeded): then *both* networks here
    are random, and a difference between them is one random draw against another, not what training
    adds. What ImageNet weights give is only in the boxes titled "Reported in the literature".

"""


RANDOM_STAND_IN_BOX = """!!! warning "Stand-in weights: the \u201ctrained\u201d network is a random one"

    This build's "trained" VGG16 has stand-in weights{sha}, not torchvision's ImageNet file. Every bias in
    them is zero, as a fresh random initialisation leaves them and no training does: they are a second
    random initialisation. So *both* networks on this page are random, and a difference between them is
    one random draw against another, not what training adds. What ImageNet weights give is only in the
    boxes titled "Reported in the literature".

"""


def with_stand_in_box(markdown: str, weights: dict) -> str:
    """A chapter page (one that shows a technique's figures) of a stand-in build starts with the same box,
    right under its title; other pages and other builds are left as they are."""
    if not weights or weights.get("official", True) or not _TECHNIQUE_FRAGMENT.search(markdown):
        return markdown
    sha = weights.get("sha256")
    box = (RANDOM_STAND_IN_BOX if weights.get("random_like") else STAND_IN_BOX).format(
        sha=f" (sha256 `{sha[:16]}…`)" if sha else ""
    )
    title = re.search(r"^# .*\n", markdown, re.MULTILINE)
    at = title.end() if title else 0
    return markdown[:at] + "\n" + box + markdown[at:]


_WEIGHTS_BRANCH = re.compile(
    r"<!-- if stand-in -->\n?(?P<stand_in>.*?)(?:<!-- else -->\n?(?P<official>.*?))?<!-- end if -->\n?", re.DOTALL
)
"""A chapter's prose that holds only for one kind of weights::

    <!-- if stand-in -->
    In this build both networks are random, so ...
    <!-- else -->
    The trained network ...
    <!-- end if -->

The ``else`` part is optional."""


def with_weights_branches(markdown: str, weights: dict) -> str:
    """Keep the ``if stand-in`` part of each branch in a build with stand-in weights, and the ``else`` part
    otherwise (official weights, or no build at all: then the text speaks of the published network)."""
    stand_in = bool(weights) and weights.get("official") is False

    def one(match: re.Match) -> str:
        return (match["stand_in"] if stand_in else match["official"]) or ""

    # Not inside fenced code, where a page may show the syntax itself.
    parts = re.split(
        r"(^[ \t]*(?:```|~~~)[^\n]*\n.*?^[ \t]*(?:```|~~~)[ \t]*$)", markdown, flags=re.DOTALL | re.MULTILINE
    )
    return "".join(part if i % 2 else _WEIGHTS_BRANCH.sub(one, part) for i, part in enumerate(parts))


def on_page_markdown(markdown, page, config, files):
    weights = config["extra"].get("weights") or {}
    return with_stand_in_box(with_weights_branches(markdown, weights), weights)


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


# --------------------------------------------------------------------------- formulas as MathML

# What arithmatex (generic mode) writes: \(...\) in a span, \[...\] in a div, the TeX HTML-escaped.
_FORMULA = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*\\(?P<open>[(\[])(?P<tex>.*?)\\[)\]]\s*</(?P=tag)>', re.DOTALL
)

# MathML Core (what Chromium, Firefox and Safari implement) has no named spaces and ignores mathvariant
# other than "normal" on <mi>: spaces become lengths, and styled letters become Unicode's mathematical
# alphanumerics (U+1D400 on), as MathML Core itself recommends.
_NAMED_SPACES = {
    "negativeveryverythinmathspace": "-0.0556em",
    "negativeverythinmathspace": "-0.1111em",
    "negativethinmathspace": "-0.1667em",
    "negativemediummathspace": "-0.2222em",
    "negativethickmathspace": "-0.2778em",
    "veryverythinmathspace": "0.0556em",
    "verythinmathspace": "0.1111em",
    "thinmathspace": "0.1667em",
    "mediummathspace": "0.2222em",
    "thickmathspace": "0.2778em",
    "verythickmathspace": "0.3333em",
    "veryverythickmathspace": "0.3889em",
}
_NAMED_SPACE = re.compile(r'(\b(?:width|lspace|rspace)=")(' + "|".join(_NAMED_SPACES) + ')"')

# variant: (first capital, first small letter, first digit, {letter: the older Letterlike Symbols code point})
_ALPHANUMERICS = {
    "bold": (0x1D400, 0x1D41A, 0x1D7CE, {}),
    "italic": (0x1D434, 0x1D44E, None, {"h": 0x210E}),
    "double-struck": (
        0x1D538,
        0x1D552,
        0x1D7D8,
        {"C": 0x2102, "H": 0x210D, "N": 0x2115, "P": 0x2119, "Q": 0x211A, "R": 0x211D, "Z": 0x2124},
    ),
    "script": (
        0x1D49C,
        0x1D4B6,
        None,
        {
            **{"B": 0x212C, "E": 0x2130, "F": 0x2131, "H": 0x210B, "I": 0x2110, "L": 0x2112},
            **{"M": 0x2133, "R": 0x211B, "e": 0x212F, "g": 0x210A, "o": 0x2134},
        },
    ),
    "fraktur": (
        0x1D504,
        0x1D51E,
        None,
        {"C": 0x212D, "H": 0x210C, "I": 0x2111, "R": 0x211C, "Z": 0x2128},
    ),
}
_STYLED = re.compile(r'<(?P<tag>mi|mn|mo) mathvariant="(?P<variant>[a-z-]+)">(?P<text>[^<]*)</(?P=tag)>')


def _styled_character(char: str, variant: str) -> str | None:
    capital, small, digit, exceptions = _ALPHANUMERICS[variant]
    if char in exceptions:
        return chr(exceptions[char])
    if "A" <= char <= "Z":
        return chr(capital + ord(char) - ord("A"))
    if "a" <= char <= "z":
        return chr(small + ord(char) - ord("a"))
    if "0" <= char <= "9" and digit is not None:
        return chr(digit + ord(char) - ord("0"))
    return None


def _core_variant(match: re.Match) -> str:
    tag, variant, text = match["tag"], match["variant"], html_lib.unescape(match["text"])
    if variant == "normal":
        return match.group(0)
    if variant not in _ALPHANUMERICS:
        raise ValueError(f"no Unicode letters for mathvariant={variant!r}")
    styled = [_styled_character(char, variant) for char in text]
    if not text or None in styled:
        raise ValueError(f"no {variant} form of {text!r}")
    # A single styled letter is already upright or italic as drawn; say "normal" so no browser slants it.
    attrs = ' mathvariant="normal"' if tag == "mi" else ""
    return f"<{tag}{attrs}>{''.join(styled)}</{tag}>"


# TeX that latex2mathml does not know, said in TeX it does.
_TEX_REWRITES = ((re.compile(r"\\arg(?![A-Za-z])"), r"\\operatorname{arg}"),)

# MathML that browsers draw worse than TeX would, made right after conversion.
_MATHML_REWRITES = (
    # \setminus comes out as U+29F5 (reverse solidus operator), which few maths fonts have: U+2216, set minus
    (re.compile(r"&#x029F5;"), "&#x02216;"),
    # \bigl( ... \bigg|: an explicit size stretches only a stretchy operator
    (re.compile(r"<mo minsize="), '<mo stretchy="true" symmetric="true" minsize='),
    # \max(0, z), \operatorname{ReLU}(z): a named operator takes a thin space either side, as in TeX,
    # and none before its own bracket (a browser gives an unknown operator a thick space both sides)
    (
        re.compile(r"<mo>([A-Za-z]+)</mo>(?=<mo(?: [^>]*)?>(?:\(|&#x00028;|\[|&#x0005B;))"),
        r'<mo lspace="0.1667em" rspace="0">\1</mo>',
    ),
    (re.compile(r"<mo>([A-Za-z]+)</mo>"), r'<mo lspace="0.1667em" rspace="0.1667em">\1</mo>'),
    # \ln p: TeX's thin space after a named function that takes no brackets
    (re.compile(r"<mi>(ln|log|exp)</mi>"), r'<mi>\1</mi><mspace width="0.1667em" />'),
)


_LIMIT_OPERATOR = re.compile(r"<msub><mo(?: [^>]*)?>(?:max|min|sup|inf|lim)</mo>")


def _limits_under(mathml: str) -> str:
    """``\\max_x`` as TeX sets it: the limit under the operator in a display, beside it inline (MathML's
    ``movablelimits``); latex2mathml writes a plain subscript."""
    out, at = [], 0
    for match in _LIMIT_OPERATOR.finditer(mathml):
        if match.start() < at:
            continue
        depth, end = 1, match.end()
        while depth:  # the <msub> that this one opens closes at its own depth
            tag = re.compile(r"<(/?)msub>").search(mathml, end)
            if tag is None:
                return mathml
            depth += -1 if tag.group(1) else 1
            end = tag.end()
        body = mathml[match.start() + len("<msub>") : end - len("</msub>")]
        body = body.replace("<mo", '<mo movablelimits="true"', 1)
        out += [mathml[at : match.start()], f"<munder>{body}</munder>"]
        at = end
    return "".join(out) + mathml[at:]


def tex_to_mathml(tex: str, display: bool) -> str:
    """One formula as MathML Core, with its TeX kept in ``alttext`` (for assistive technology and copying).
    Raises ValueError when latex2mathml cannot convert it or the result needs what MathML Core lacks."""
    tex = tex.strip()
    source = tex
    for pattern, replacement in _TEX_REWRITES:
        source = pattern.sub(replacement, source)
    try:
        mathml = latex_to_mathml(source, display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises its own errors, and IndexError etc. on bad TeX
        raise ValueError(f"latex2mathml could not read it: {type(error).__name__} {error}".strip()) from error
    mathml = _NAMED_SPACE.sub(lambda m: f'{m.group(1)}{_NAMED_SPACES[m.group(2)]}"', mathml)
    mathml = _STYLED.sub(_core_variant, mathml)
    for pattern, replacement in _MATHML_REWRITES:
        mathml = pattern.sub(replacement, mathml)
    mathml = _limits_under(mathml)
    if "mathvariant=" in mathml.replace('mathvariant="normal"', ""):
        raise ValueError("a styled letter (mathvariant) that MathML Core cannot show")
    unknown = re.search(r">(\\[A-Za-z]+)<", mathml)
    if unknown:  # latex2mathml passes a command it does not know through as text
        raise ValueError(f"latex2mathml does not know {unknown.group(1)}")
    if re.search(r"&(?!#x[0-9A-Fa-f]+;|[a-z]+;)", mathml):  # an alignment & outside an array
        raise ValueError("a bare '&' (alignment belongs in \\begin{array}{rl}, which converts)")
    alt = html_lib.escape(" ".join(tex.split()), quote=True)
    return mathml.replace("<math ", f'<math alttext="{alt}" ', 1)


def with_mathml(html: str, where: str = "") -> str:
    """Every arithmatex formula of a page's HTML as MathML (class ``arithmatex`` kept for the styles).
    A formula that cannot be converted stays as TeX, and a warning names it (``--strict`` then fails)."""

    def one(match: re.Match) -> str:
        tex = html_lib.unescape(match["tex"])
        try:
            mathml = tex_to_mathml(tex, display=match["open"] == "[")
        except ValueError as error:
            log.warning(f"{where}: formula ${tex.strip()}$ does not convert to MathML ({error}); rewrite it")
            return match.group(0)
        return f'<{match["tag"]} class="arithmatex">{mathml}</{match["tag"]}>'

    return _FORMULA.sub(one, html)


_SEARCH_DIALOG = '<div class="md-search" data-md-component="search" role="dialog">'


def with_named_search(html: str) -> str:
    """Material's search dialog has no accessible name (a dialog needs one, WCAG 4.1.2): give it one."""
    return html.replace(_SEARCH_DIALOG, _SEARCH_DIALOG[:-1] + ' aria-label="Search this site">', 1)


def on_post_page(output, page, config):
    return with_named_search(output)


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


_ABBREVIATION = re.compile(r"<abbr\b[^>]*>(?P<term>.*?)</abbr>", re.DOTALL)


def first_abbreviations(html: str) -> str:
    """Keep each glossary term's tooltip (``<abbr title=…>``) at its first use on the page only.

    Markdown's ``abbr`` extension marks every occurrence, and Material mounts a tooltip component on each
    element with a ``title`` (feature-maps had 19 for 4 terms; now 4). As in print, a term is explained where it
    first appears, and the Glossary page lists them all.
    """
    seen: set[str] = set()

    def one(match: re.Match) -> str:
        key = " ".join(match["term"].split()).casefold()
        if key in seen:
            return match["term"]
        seen.add(key)
        return match.group(0)

    return _ABBREVIATION.sub(one, html)


# --------------------------------------------------------------------------- tables wrapped when the site is built

TABLE_CLASS = "cnn-table"
TABLES_CSS = "stylesheets/tables.css"
"""The theme's table rules, written for ``table.cnn-table`` into the built site (see :func:`tables_css`)."""
_THEME_TABLE = "table:not([class])"
_PLAIN_TABLE = re.compile(r"<table>(?P<body>.*?)</table>", re.DOTALL)


def with_wrapped_tables(html: str) -> str:
    """Every Markdown table, already in Material's sideways-scrolling box, and marked so that Material leaves it.

    Material's script finds each ``table:not([class])`` after the page's first layout and moves it into
    ``div.md-typeset__scrollwrap > div.md-typeset__table``; moving the tables made the browser lay the page out
    again, about 200 ms of main-thread time on a mobile-class CPU for feature-maps' four tables (Lighthouse,
    3 runs each: TBT 488-593 ms before, 283-345 ms after). The same box, written here, costs nothing on load.
    """
    return _PLAIN_TABLE.sub(
        rf'<div class="md-typeset__scrollwrap"><div class="md-typeset__table"><table class="{TABLE_CLASS}">'
        r"\g<body></table></div></div>",
        html,
    )


def _blocks(css: str) -> list[tuple[str, str]]:
    """The top-level ``prelude { body }`` blocks of a stylesheet (comments are not expected: a minified file)."""
    out, depth, start, open_at, prelude = [], 0, 0, 0, ""
    for i, ch in enumerate(css):
        if ch == "{":
            if depth == 0:
                prelude, open_at = css[start:i], i + 1
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                out.append((prelude.strip(), css[open_at:i]))
                start = i + 1
    return out


def tables_css(theme_css: str) -> str:
    """Material's rules for ``.md-typeset table:not([class])``, written for ``table.cnn-table``, inside the same
    ``@media`` and ``@supports`` blocks; selectors of a rule that are not about tables are left out."""
    rules = []
    for prelude, body in _blocks(theme_css):
        if prelude.startswith(("@media", "@supports")):
            inner = tables_css(body)
            if inner:
                rules.append(f"{prelude}{{{inner}}}")
        elif _THEME_TABLE in prelude:
            selectors = [sel for sel in prelude.split(",") if _THEME_TABLE in sel]
            rules.append(
                ",".join(sel.replace(_THEME_TABLE, f"table.{TABLE_CLASS}") for sel in selectors) + f"{{{body}}}"
            )
    return "".join(rules)


def on_post_build(config):
    """Write the theme's table rules for the wrapped tables (:func:`with_wrapped_tables`) into the site."""
    site = Path(config["site_dir"])
    theme = sorted((site / "assets" / "stylesheets").glob("main.*.min.css"))
    if not theme:
        log.warning("hooks: Material's main stylesheet is not in the built site; tables are unstyled")
        return
    rules = tables_css(theme[0].read_text(encoding="utf-8"))
    if not rules:
        log.warning(f"hooks: {theme[0].name} has no {_THEME_TABLE} rules; tables are unstyled (a new Material?)")
    target = site / TABLES_CSS
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"/* Material's table rules for table.{TABLE_CLASS} (docs/_scripts/hooks.py) */\n{rules}\n")


def on_page_content(html, page, config, files):
    html = with_mathml(html, where=page.file.src_uri)
    html = with_wrapped_tables(first_abbreviations(html))
    return with_reported_scope(number_figures(html), config["extra"].get("weights_official"))
