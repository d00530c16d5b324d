"""The one figure markup, for the fragments (through ``_macros.md.j2``) and the gallery script.

Plain Python with no dependencies beyond the standard library, so that the
mkdocs-gen-files gallery script, which runs on every site build, can import
it without pulling in torch.  A figure is::

    <figure markdown>
    ![alt](src){ loading=lazy width="W" }
    <figcaption markdown="span">caption</figcaption>
    </figure>

with optional ``class``, ``height`` (reserves the space of a lazy image),
and glightbox's ``data-description`` and ``data-gallery``.  Alt text and
attribute values go through :func:`attr`, which leaves nothing that markdown,
attr_list or arithmatex could act on.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote


def number(x: Any, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals, never "-0.00": a value that rounds to zero has no sign."""
    text = f"{float(x):.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def scientific(x: Any, digits: int = 2) -> str:
    """``x`` for a reader: plain between 0.01 and 10 000 (three decimals at most), else "6.1 × 10⁻³"."""
    x = float(x)
    if x == 0 or 0.01 <= abs(x) < 10_000:
        return number(x, 3 if abs(x) < 10 else 2)
    mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


def url(path: str) -> str:
    """Percent-encode a relative path for use in a markdown link."""
    return quote(path, safe="/._-~")


def text(value: Any) -> str:
    """Plain text that is safe inside markdown and HTML."""
    escaped = html.escape(str(value), quote=False)
    return escaped.replace("[", "&#91;").replace("]", "&#93;")  # not link syntax


def attr(value: Any) -> str:
    """Plain text for alt text or a double-quoted attr_list value.

    Inline markdown runs over the whole line before attr_list reads the braces,
    so markdown markup is dropped and the characters that markdown could act on
    are escaped (the escapes are undone in the final HTML).
    """
    plain = " ".join(str(value).split())
    plain = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", plain)  # [text](link) -> text
    plain = re.sub(r"[*`]", "", plain)
    plain = html.escape(plain, quote=False).replace('"', "&quot;")
    plain = plain.replace("$", "&#36;")  # a dollar would start arithmatex maths
    # Not ( or ): a backslash before them is arithmatex's \( ... \) maths delimiter.
    return re.sub(r"([\\\[\]{}_])", r"\\\1", plain)


def shorten(value: Any, length: int = 120, end: str = "...") -> str:
    """At most about ``length`` characters, cut at a word boundary (as jinja's ``truncate``)."""
    s = " ".join(str(value).split())
    if len(s) <= length + 5:
        return s
    return s[: length - len(end)].rsplit(" ", 1)[0] + end


def img(
    src: str,
    alt: Any,
    *,
    width: Any = None,
    height: Any = None,
    description: Any = "",
    group: Any = "",
    classes: str = "",
) -> str:
    """Markdown for one lazy image (``src`` already relative to the page)."""
    attrs = [classes] if classes else []
    attrs.append("loading=lazy")
    if width:
        attrs.append(f'width="{int(width)}"' + (f' height="{int(height)}"' if height else ""))
    if description:
        attrs.append(f'data-description="{attr(description)}"')
    if group:
        attrs.append(f'data-gallery="{attr(group)}"')
    return f"![{attr(alt)}]({url(src)}){{ {' '.join(attrs)} }}"


def figure(src: str, alt: Any, caption: str = "", *, cls: str = "", anchor: str = "", **image: Any) -> str:
    """A captioned figure (md_in_html); ``caption`` is inline markdown, ``image`` goes to :func:`img`.

    ``anchor`` becomes the figure's id, which chapters can link to (see :func:`figure_anchor`).
    """
    attrs = (f' id="{anchor}"' if anchor else "") + (f' class="{cls}"' if cls else "")
    opening = f"<figure{attrs} markdown>"
    lines = [opening, img(src, alt, **image)]
    if caption:
        lines.append(f'<figcaption markdown="span">{caption}</figcaption>')
    lines.append("</figure>")
    return "\n".join(lines)


def thumbnail(
    src: str,
    full: str,
    alt: Any,
    caption: str = "",
    *,
    width: Any,
    height: Any,
    description: Any = "",
    group: Any = "",
    cls: str = "",
) -> str:
    """A captioned thumbnail that opens the full figure ``full`` in the lightbox (glightbox).

    The image sits inside our own ``a.glightbox`` link, so the glightbox plugin leaves
    it alone and the lightbox loads the full figure only when the reader clicks.
    """
    image = img(src, alt, width=width, height=height)
    link_attrs = [".glightbox", ".cnn-thumb", 'data-type="image"']
    if description:
        link_attrs.append(f'data-description="{attr(description)}"')
    if group:
        link_attrs.append(f'data-gallery="{attr(group)}"')
    opening = f'<figure class="{cls}" markdown>' if cls else "<figure markdown>"
    lines = [opening, f"[{image}]({url(full)}){{ {' '.join(link_attrs)} }}"]
    if caption:
        lines.append(f'<figcaption markdown="span">{caption}</figcaption>')
    lines.append("</figure>")
    return "\n".join(lines)


def manifest_thumbnail(f: dict, base: str = "generated/") -> str:
    """A manifest figure as its thumbnail that opens the full figure in the lightbox (a figure too small to
    have a thumbnail is its own)."""
    thumb = f.get("thumb") or {"path": f["path"], "width": f.get("width"), "height": f.get("height")}
    return thumbnail(
        base + thumb["path"],
        base + f["path"],
        shorten(f["caption"]),
        f["caption"],
        width=thumb["width"],
        height=thumb["height"],
        description=f["caption"],
    )


def figure_anchor(path: str) -> str:
    """The id of a generated figure: ``figures/activation_max/_all/both-objective.webp`` ->
    ``fig-activation_max-_all-both-objective``. A chapter writes ``[Figure](#fig-…)`` and the site
    hook turns the link text into "Figure n"."""
    stem = path.removeprefix("figures/").rsplit(".", 1)[0]
    return "fig-" + re.sub(r"[^A-Za-z0-9_-]+", "-", stem)


def manifest_figure(f: dict, base: str = "generated/", caption: str | None = None) -> str:
    """A manifest figure (path, caption, width, height) as the fragments place it: alt text from its caption.

    Width and height both go on the image, so that the browser reserves its box before it
    loads: without a height, every lazy image below the fold is 0 px tall, counts as on
    screen, and is fetched with the first screen.
    """
    text_caption = f["caption"] if caption is None else caption
    return figure(
        base + f["path"],
        shorten(f["caption"]),
        text_caption,
        width=f.get("width"),
        height=f.get("height"),
        anchor=figure_anchor(f["path"]),
    )
