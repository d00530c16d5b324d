"""Weigh every page of a built site in headless Chromium: bytes on the first screen and after a full scroll.

    python -m generator.site.weigh site/               # a table, and exit 1 over budget
    python -m generator.site.weigh site/ --json weights.json

Each page is opened in a fresh browser context (an empty cache, as a first-time
reader has), at a 1280x900 viewport:

* **first screen**: the bytes transferred once the page has loaded and the network
  is idle, before any scrolling (lazy images below the fold are not fetched yet);
* **full**: the bytes transferred after scrolling to the end of the page, step by
  step, so that every lazy image loads.

Bytes are the Resource Timing API's ``transferSize`` (headers plus body, as sent),
summed over the document and every resource. The site is served as a static host
serves it, with text compressed (see ``generator.site.host``). Images that open only in the
lightbox are not fetched until a click, so they are not counted.

It also reports every image whose pixels are more than twice the width it is shown
at (a figure larger on disk than a 2x screen needs), at the widest content column
Material lays out (a 1200 px window, where the table of contents folds into the
navigation) and at 1280 px.

Needs the ``playwright`` package (a test extra) and Chromium (Debian's
``chromium`` package, ``/usr/bin/chromium``).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from generator.site.host import serve, site_argument

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
# Where the content column is widest: below 76.25em Material folds the table of contents into the nav.
WIDE_COLUMN_VIEWPORT = {"width": 1200, "height": 900}
PAGE_BUDGET = 5_000_000
FIRST_SCREEN_BUDGET = 1_500_000
DENSITY = 2  # pixels per CSS pixel a figure may carry
TIMEOUT_MS = 60_000

_TRANSFERRED = """() => {
    const nav = performance.getEntriesByType("navigation");
    const res = performance.getEntriesByType("resource");
    const all = nav.concat(res);
    return [all.reduce((n, e) => n + (e.transferSize || 0), 0), all.length];
}"""

_SCROLL_TO_END = """async () => {
    const pause = ms => new Promise(r => setTimeout(r, ms));
    for (let y = 0; y < document.documentElement.scrollHeight; y += window.innerHeight / 2) {
        window.scrollTo(0, y);
        await pause(20);
    }
    window.scrollTo(0, document.documentElement.scrollHeight);
}"""

_IMAGES = """() => Array.from(document.images)
    .filter(img => img.complete && img.naturalWidth > 0 && img.checkVisibility())
    .map(img => [new URL(img.currentSrc || img.src).pathname, img.naturalWidth,
                 img.getBoundingClientRect().width])"""


@dataclass
class PageWeight:
    page: str  # URL path below the site root, "" for the home page
    first_screen: int
    full: int
    requests: int
    images: dict[str, list[float]] = field(default_factory=dict)  # src -> [natural width, shown width]

    def oversized(self, density: int = DENSITY) -> list[str]:
        """Images with more than ``density`` pixels per CSS pixel shown (2 px of slack for rounding)."""
        return [
            f"{src}: {int(natural)} px shown at {shown:.0f} px"
            for src, (natural, shown) in sorted(self.images.items())
            if shown > 0 and natural > density * shown + 2
        ]


def browser_missing() -> str | None:
    """What is missing to drive Chromium (one line with the fix), or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the playwright package is not installed: pip install -e '.[test]'"
    return None


def progress_line(n: int, total: int, what: str) -> None:
    """``[n/total] what`` on stderr: the command lines' progress while Chromium measures."""
    print(f"[{n + 1}/{total}] {what}", file=sys.stderr, flush=True)


def site_pages(site: Path) -> list[str]:
    """Every page of a built site (use_directory_urls), as URL paths; '' is the home page."""
    pages = []
    for index in sorted(site.rglob("index.html")):
        rel = index.parent.relative_to(site).as_posix()
        pages.append("" if rel == "." else rel + "/")
    return pages


def weigh_site(
    site: Path, pages: list[str] | None = None, *, chromium: Path = CHROMIUM, compress: bool = True, progress=None
) -> list[PageWeight]:
    """Serve ``site`` on 127.0.0.1 and weigh each page (all of them by default).

    ``compress=False`` sends text uncompressed, as ``python -m http.server`` does.
    Pages are weighed one at a time: a busy CPU can make the network look idle before a
    page's scripts have asked for everything its first screen needs.
    """
    from playwright.sync_api import sync_playwright

    site = Path(site)
    pages = site_pages(site) if pages is None else pages
    weights = []
    with serve(site, compress=compress) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            for n, path in enumerate(pages):
                if progress:
                    progress(n, len(pages), path)
                weights.append(_weigh_page(browser, base, path))
        finally:
            browser.close()
    return weights


def _open(browser, url: str, viewport: dict):
    context = browser.new_context(viewport=viewport, service_workers="block")
    context.add_init_script("performance.setResourceTimingBufferSize(100000)")
    # Nothing may leave the machine (the site is meant to work offline).
    local = urlsplit(url).netloc
    context.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlsplit(route.request.url).netloc == local or route.request.url.startswith(("data:", "blob:"))
            else route.abort()
        ),
    )
    page = context.new_page()
    page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    return context, page


def _scroll_all(page) -> None:
    page.evaluate(_SCROLL_TO_END)
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    # Images a reader can see (not those in a closed <details> or an unselected tab) have all arrived.
    page.wait_for_function(
        "() => Array.from(document.images).every(img => img.complete || !img.checkVisibility())", timeout=TIMEOUT_MS
    )


def _weigh_page(browser, base: str, path: str) -> PageWeight:
    context, page = _open(browser, base + path, VIEWPORT)
    try:
        first, _ = page.evaluate(_TRANSFERRED)
        _scroll_all(page)
        full, requests = page.evaluate(_TRANSFERRED)
        images = {src: [natural, shown] for src, natural, shown in page.evaluate(_IMAGES)}
        # The same page, narrowed to where the content column is widest. Every image has
        # arrived, so this only lays the page out again (no second load).
        page.set_viewport_size(WIDE_COLUMN_VIEWPORT)
        _scroll_all(page)
        for src, natural, shown in page.evaluate(_IMAGES):
            if src in images:
                images[src][1] = max(images[src][1], shown)
            else:
                images[src] = [natural, shown]
    finally:
        context.close()
    return PageWeight(path, int(first), int(full), int(requests), images)


def over_budget(
    weights: list[PageWeight], *, page_budget: int = PAGE_BUDGET, first_budget: int = FIRST_SCREEN_BUDGET
) -> list[str]:
    """One line per page over either budget."""
    lines = []
    for w in weights:
        if w.full > page_budget:
            lines.append(f"/{w.page}: {w.full / 1e6:.2f} MB after a full scroll (budget {page_budget / 1e6:g} MB)")
        if w.first_screen > first_budget:
            lines.append(
                f"/{w.page}: {w.first_screen / 1e6:.2f} MB on the first screen (budget {first_budget / 1e6:g} MB)"
            )
    return lines


def table(weights: list[PageWeight]) -> str:
    rows = ["| page | first screen | full scroll | requests |", "|---|---:|---:|---:|"]
    for w in sorted(weights, key=lambda w: -w.full):
        rows.append(f"| /{w.page} | {w.first_screen / 1e6:.2f} MB | {w.full / 1e6:.2f} MB | {w.requests} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m generator.site.weigh", description=__doc__.split("\n\n")[0])
    site_argument(parser, "every page's numbers")
    parser.add_argument(
        "--uncompressed",
        action="store_true",
        help="send text uncompressed, as python -m http.server does (default: gzip, as static hosts do)",
    )
    parser.add_argument("--page-budget", type=float, default=PAGE_BUDGET / 1e6, metavar="MB")
    parser.add_argument("--first-screen-budget", type=float, default=FIRST_SCREEN_BUDGET / 1e6, metavar="MB")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(
            f"error: {args.site}/index.html not found: build the site first (nox -s build, or nox -s site)",
            file=sys.stderr,
        )
        return 2
    if browser_missing():
        print(f"error: {browser_missing()}", file=sys.stderr)
        return 2
    weights = weigh_site(
        args.site, compress=not args.uncompressed, progress=lambda n, total, path: progress_line(n, total, f"/{path}")
    )
    print(table(weights))
    oversized = sorted({line for w in weights for line in w.oversized()})
    if oversized:
        print(f"\n{len(oversized)} images carry more than {DENSITY}x the pixels they are shown at:")
        print("\n".join(f"  {line}" for line in oversized))
    if args.json:
        args.json.write_text(json.dumps([asdict(w) for w in weights], indent=1) + "\n", encoding="utf-8")
    problems = over_budget(
        weights, page_budget=int(args.page_budget * 1e6), first_budget=int(args.first_screen_budget * 1e6)
    )
    for line in problems:
        print(f"over budget: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
