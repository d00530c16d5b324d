"""How large a figure's smallest text is as a reader sees it, in CSS pixels.

The render kit records, with every figure, the font size of the smallest text it draws in the figure's own
pixels (``text_px``) and, for matplotlib figures, the resolution it drew at (``dpi``). The site shows a
figure at its own width (one image pixel per CSS pixel), shrunk to its column when it is wider
(``max-width: 100%``). So on a page whose column is ``container`` CSS px wide, the text is::

    text_px * min(1, container / width)

CSS px tall. A matplotlib figure has the same size in inches and the same fonts in points whatever its
resolution, so its text can be projected to another profile's resolution: at ``dpi'`` the figure is
``width * dpi' / dpi`` px wide and its text ``text_px * dpi' / dpi`` px tall. That lets the test suite's quick
site (``dpi`` 60) say what the default (100) and full (120) profiles show. A figure drawn in pixels (no
``dpi``) is judged as it was built.

:data:`MIN_CSS_PX` is the floor the site holds itself to at 1280 px (issue "Web quality"): 11 CSS px.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_CSS_PX = 11.0
VIEWPORT = (1280, 900)
"""The window the check is made in: a laptop screen."""
COLUMN_PX = 930
"""The content column at :data:`VIEWPORT` (Material, with the page's table of contents in the navigation)."""
PAIR_COLUMN_PX = 458
"""One of the two columns of a ``cnn-pair`` (two figures side by side) at :data:`VIEWPORT`."""
PROFILE_DPIS = (100, 120)
"""The resolutions readers see: the default and the full profile's."""

# What the browser is asked for each image on a page: its file, its width as the page shows it, the
# width of the column it may fill, and for a thumbnail (``a.cnn-thumb``, which opens the full figure in
# the lightbox) the full figure's file.
MEASURE_JS = """
() => [...document.querySelectorAll('article img')].map((img) => {
  const fig = img.closest('figure');
  const pair = fig && fig.parentElement && fig.parentElement.classList.contains('cnn-pair');
  const box = pair ? fig : (fig ? fig.parentElement : img.parentElement);
  const style = getComputedStyle(box);
  const inner = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const thumb = img.closest('a.cnn-thumb');
  return {src: img.getAttribute('src'), shown: img.getBoundingClientRect().width, container: inner,
          natural: img.naturalWidth, full: thumb ? thumb.getAttribute('href') : null};
})
"""


@dataclass(frozen=True)
class Shown:
    """One figure as one page shows it, projected to one resolution."""

    path: str  # the figure's path in the manifest
    page: str
    dpi: int | None  # the resolution projected to (None: as built)
    text_css_px: float  # its smallest text, in CSS px

    def line(self) -> str:
        at = f"at {self.dpi} dpi" if self.dpi else "as built"
        return f"{self.page}: {self.path} ({at}): smallest text {self.text_css_px:.1f} CSS px < {MIN_CSS_PX:g}"


def text_css_px(figure: dict, container: float, dpi: int | None = None) -> float | None:
    """The smallest text of manifest ``figure`` in CSS px, in a column ``container`` CSS px wide, when
    drawn at ``dpi`` (a matplotlib figure; None or a pixel figure: as built). None: it has no text."""
    text, width = figure.get("text_px"), float(figure["width"])
    if text is None:
        return None
    built = figure.get("dpi")
    k = dpi / built if (dpi and built) else 1.0
    natural = width * k
    return float(text) * k * min(1.0, float(container) / natural)


def fits_half_column(*figures: dict | None) -> bool:
    """Whether every one of ``figures`` keeps its text legible in half the column (a ``cnn-pair``) at the
    default and full profiles' resolutions; the fragments stack the two figures of a pair otherwise."""
    for f in figures:
        if not f:
            continue
        for dpi in PROFILE_DPIS:
            css = text_css_px(f, PAIR_COLUMN_PX, dpi)
            if css is not None and css < MIN_CSS_PX:
                return False
    return True


def too_small(figures: dict[str, dict], measured: list[dict], page: str, dpis=(None,)) -> list[Shown]:
    """The figures on ``page`` whose smallest text is under :data:`MIN_CSS_PX` at any of ``dpis``.

    ``figures`` maps a manifest path (``figures/...``) to its record; ``measured`` is what
    :data:`MEASURE_JS` returned on the page. Images that are not manifest figures are not judged. A
    thumbnail is a preview that says "click to see it at full size": what is judged is its full
    figure, as the lightbox shows it, in a column as wide as the window.
    """

    def manifest(path: str | None) -> dict | None:
        at = (path or "").find("figures/")
        return figures.get(path[at:]) if at >= 0 else None

    out = []
    for m in measured:
        fig, container = manifest(m.get("src")), m["container"]
        if m.get("full"):
            fig, container = manifest(m["full"]), VIEWPORT[0]
        if fig is None:
            continue
        for dpi in dpis:
            css = text_css_px(fig, container, dpi)
            if css is not None and css < MIN_CSS_PX:
                out.append(Shown(fig["path"], page, dpi, round(css, 2)))
    return out


def measure_site(site, manifest: dict, pages: list[str] | None = None, *, chromium=None) -> dict[str, list[dict]]:
    """Open every page of the built ``site`` (gallery pages excepted, unless named in ``pages``) at
    :data:`VIEWPORT` in headless Chromium; returns what :data:`MEASURE_JS` measured, per page."""
    from pathlib import Path

    from playwright.sync_api import sync_playwright

    from generator.site.host import serve
    from generator.site.weigh import CHROMIUM, CHROMIUM_ARGS, site_pages

    site = Path(site)
    if pages is None:
        pages = [p for p in site_pages(site) if not p.startswith("gallery/")]
    out: dict[str, list[dict]] = {}
    with serve(site) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium or CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(
            viewport={"width": VIEWPORT[0], "height": VIEWPORT[1]}, service_workers="block"
        ).new_page()
        for path in pages:
            page.goto(base + path, wait_until="load")
            page.evaluate("() => { for (const img of document.images) img.loading = 'eager'; }")
            page.wait_for_function("() => Array.from(document.images).every(img => img.complete)")
            out[path] = page.evaluate(MEASURE_JS)
        browser.close()
    return out


def main(argv=None) -> int:
    """``python -m generator.site.legibility SITE``: list the figures whose text is too small at 1280 px."""
    import argparse
    import json
    import sys
    from pathlib import Path

    parser = argparse.ArgumentParser(
        prog="python -m generator.site.legibility",
        description=f"List the figures of a built site whose smallest text is under {MIN_CSS_PX:g} CSS px "
        f"on a {VIEWPORT[0]} px wide screen (chapter pages; the gallery's thumbnails open full figures).",
    )
    parser.add_argument("site", type=Path, help="the built site (properdocs build -d SITE)")
    parser.add_argument(
        "--manifest", type=Path, default=Path("docs/generated/manifest.json"),
        help="the build's manifest (default: docs/generated/manifest.json)",
    )  # fmt: skip
    parser.add_argument(
        "--dpi", type=int, action="append", default=None, metavar="N",
        help="project matplotlib figures to this resolution (repeatable; default: as built)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"error: {args.site} holds no built site; run properdocs build -d {args.site} first", file=sys.stderr)
        return 2
    try:
        manifest = json.loads(args.manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        print(f"error: cannot read the manifest {args.manifest} ({e}); pass --manifest", file=sys.stderr)
        return 2
    figures = {f["path"]: f for f in manifest.get("figures", [])}
    dpis = tuple(args.dpi or [None])
    try:
        measured = measure_site(args.site, manifest)
    except ImportError:
        print("error: the playwright package is not installed; run nox -s tests --install-only", file=sys.stderr)
        return 2
    except Exception as e:  # playwright's own errors: no Chromium, a page that does not load
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        where = f"error: could not measure {args.site} in Chromium ({first})"
        print(f"{where}; is /usr/bin/chromium installed?", file=sys.stderr)
        return 2
    bad = [s for page, m in measured.items() for s in too_small(figures, m, page, dpis)]
    for s in bad:
        print(s.line())
    print(f"{len(bad)} figure view(s) under {MIN_CSS_PX:g} CSS px", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
