"""End-to-end: generate the figures, build the site, open every page in Chromium.

What the fixture does, once per test session, in a temporary folder:

1. copy the hand-written docs/ (not docs/generated/) and mkdocs.yml;
2. put the suite's quick-profile generator output (the ``quick_build`` fixture
   in conftest.py: ``python -m generator build --profile quick`` with seeded
   stand-in VGG16 weights, since tests cannot download the real ImageNet
   weights) into that docs/generated/;
3. run ``properdocs build --strict``;
4. serve the site on 127.0.0.1 and visit every page in headless Chromium
   (Playwright), recording failed responses, requests that leave localhost
   (blocked), JavaScript errors and images that did not load.

The tests below then check those records. Screenshots of the feature-maps
chapter and of one gallery page are saved in the temporary folder and, when the
SCREENSHOT_DIR environment variable is set, copied there.

Needs /usr/bin/chromium (Debian's package; .ci/run installs it). Without it the
tests are skipped, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from generator.site import legibility
from generator.site.weigh import CHROMIUM, CHROMIUM_ARGS, site_pages

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
SITE_TIMEOUT_S = 10 * 60
PAGE_TIMEOUT_MS = 60_000


@dataclass
class Crawl:
    """What the browser saw across the whole site."""

    site: Path
    base_url: str
    manifest: dict
    pages: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    image_count: int = 0
    math_pages: dict[str, tuple[int, int]] = field(default_factory=dict)  # page -> (drawn formulas, formulas)
    figure_widths: dict[str, list[dict]] = field(default_factory=dict)  # page -> legibility.MEASURE_JS's answer
    screenshots: list[Path] = field(default_factory=list)


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found: install Debian's chromium package (apt-get install chromium)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(reason + "; under CI this test must run")
    pytest.skip(reason)


def _run(cmd: list[str], *, cwd: Path, timeout: int, what: str) -> None:
    proc = subprocess.run(
        cmd, cwd=cwd, timeout=timeout, capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{what} failed with exit status {proc.returncode}: {' '.join(cmd)}\n"
            f"--- stdout (tail) ---\n{proc.stdout[-6000:]}\n--- stderr (tail) ---\n{proc.stderr[-6000:]}"
        )


def _copy_sources(dest: Path) -> None:
    shutil.copy2(ROOT / "mkdocs.yml", dest / "mkdocs.yml")
    ignore_generated = shutil.ignore_patterns("__pycache__")

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = set(ignore_generated(directory, names))
        if Path(directory).resolve() == (ROOT / "docs").resolve():
            skipped.add("generated")
        return skipped

    shutil.copytree(ROOT / "docs", dest / "docs", ignore=ignore)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - signature from the base class
        pass


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory, quick_build: Path) -> Path:
    """The site built strictly from the quick-profile figures; returns the work folder.

    ``quick_build`` (tests/conftest.py) is the suite's one run of
    ``python -m generator build --profile quick`` with seeded stand-in weights;
    its output is copied to where the site expects it, docs/generated/.
    """
    _require_chromium()
    work = tmp_path_factory.mktemp("site-e2e")
    _copy_sources(work)
    shutil.copytree(quick_build, work / "docs" / "generated")
    _run(
        [
            sys.executable,
            "-m",
            "properdocs",
            "build",
            "--strict",
            "-f",
            str(work / "mkdocs.yml"),
            "-d",
            str(work / "site"),
        ],
        cwd=work,
        timeout=SITE_TIMEOUT_S,
        what="The strict site build",
    )
    return work


@pytest.fixture(scope="session")
def crawl(built_site: Path) -> Crawl:
    """Serve the site on localhost and visit every page in headless Chromium."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    site = built_site / "site"
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    manifest = json.loads((built_site / "docs" / "generated" / "manifest.json").read_text(encoding="utf-8"))
    result = Crawl(site=site, base_url=base_url, manifest=manifest, pages=site_pages(site))

    first_gallery_page = next((f"gallery/{image['id']}/" for image in manifest.get("images", [])), None)
    screenshot_pages = {"feature-maps/": "feature-maps.png"}
    if first_gallery_page:
        screenshot_pages[first_gallery_page] = "gallery-page.png"

    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")

            def route(route):
                host = urlsplit(route.request.url).hostname or ""
                if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
                    route.continue_()
                else:
                    result.external_requests.append(route.request.url)
                    route.abort()

            context.route("**/*", route)
            context.on(
                "response",
                lambda r: r.status >= 400 and result.bad_responses.append(f"{r.status} {r.url}"),
            )
            context.on(
                "requestfailed",
                lambda r: (
                    (urlsplit(r.url).hostname or "") in LOCAL_HOSTS
                    and result.failed_requests.append(f"{r.url}: {r.failure}")
                ),
            )

            page = context.new_page()
            page.on("pageerror", lambda e, p=page: result.page_errors.append(f"{p.url}: {e}"))
            for path in result.pages:
                url = base_url + path
                page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
                # Load lazy images now, then let everything settle.
                page.evaluate(
                    """() => {
                        for (const img of document.images) img.loading = "eager";
                        window.scrollTo(0, document.body.scrollHeight);
                    }"""
                )
                page.wait_for_load_state("networkidle", timeout=PAGE_TIMEOUT_MS)
                page.wait_for_function(
                    "() => Array.from(document.images).every(img => img.complete)", timeout=PAGE_TIMEOUT_MS
                )
                images = page.evaluate(
                    "() => Array.from(document.images).map(img => [img.currentSrc || img.src, img.naturalWidth])"
                )
                result.image_count += len(images)
                result.broken_images += [f"{url}: {src}" for src, width in images if width <= 0]
                formulas = page.evaluate(
                    """() => Array.from(document.querySelectorAll('.arithmatex')).map(box => {
                        const math = box.querySelector('math');
                        if (!math) return false;
                        const r = math.getBoundingClientRect();
                        return r.width > 0 && r.height > 0;
                    })"""
                )
                if formulas:
                    result.math_pages[path] = (sum(formulas), len(formulas))
                if not path.startswith("gallery/"):
                    result.figure_widths[path] = page.evaluate(legibility.MEASURE_JS)
                if path in screenshot_pages:
                    page.evaluate("() => window.scrollTo(0, 0)")
                    shot = built_site / screenshot_pages[path]
                    page.screenshot(path=str(shot), full_page=True)
                    result.screenshots.append(shot)
            context.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()

    target = os.environ.get("SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in result.screenshots:
            shutil.copy2(shot, Path(target) / shot.name)
    return result


def test_every_page_was_visited(crawl: Crawl) -> None:
    assert "" in crawl.pages, "the home page was not built"
    assert "gallery/" in crawl.pages, "the gallery index was not built"
    assert len(crawl.pages) >= 10, crawl.pages


def test_no_failed_responses(crawl: Crawl) -> None:
    assert crawl.bad_responses == [], "responses with status >= 400"
    assert crawl.failed_requests == [], "requests to the local server that failed"


def test_no_requests_leave_localhost(crawl: Crawl) -> None:
    assert crawl.external_requests == [], "the site must work offline"


def test_no_javascript_errors(crawl: Crawl) -> None:
    assert crawl.page_errors == []


def test_every_image_loads(crawl: Crawl) -> None:
    assert crawl.image_count > 0
    assert crawl.broken_images == [], "images with naturalWidth 0"


def test_every_formula_is_mathml_that_the_browser_draws(crawl: Crawl) -> None:
    assert len(crawl.math_pages) >= 8, crawl.math_pages  # the chapters with formulas
    undrawn = {page: n for page, n in crawl.math_pages.items() if n[0] != n[1]}
    assert undrawn == {}, "pages with formulas that are not MathML of some size: (drawn, all)"


def test_every_figures_text_is_legible_at_1280_px(crawl: Crawl) -> None:
    """At 1280 px, the smallest text of every figure in a chapter is at least 11 CSS px, as shown.

    The render kit records each figure's smallest font size; the browser gives the column each figure
    is shown in. The quick site draws at 60 dpi, so matplotlib figures are projected to the default
    (100) and full (120) profiles' resolutions, which are what readers see (generator.site.legibility);
    a thumbnail is judged by its full figure in the lightbox.
    """
    assert legibility.VIEWPORT[0] == 1280  # the crawl's window
    figures = {f["path"]: f for f in crawl.manifest["figures"]}
    measured = [m for ms in crawl.figure_widths.values() for m in ms]
    judged = [m for m in measured if "figures/" in (m.get("full") or m.get("src") or "")]
    assert len(judged) > 50, "the crawl measured too few figures to judge"
    with_text = {f["path"] for f in figures.values() if f.get("text_px")}
    assert len(with_text) > 20, "the render kit recorded no text sizes"
    small = [
        s.line()
        for page, ms in crawl.figure_widths.items()
        for s in legibility.too_small(figures, ms, page, dpis=(100, 120))
    ]
    assert not small, "\n".join(small)


def test_gallery_has_a_page_per_image(crawl: Crawl) -> None:
    images = crawl.manifest.get("images", [])
    assert images, "the manifest lists no images"
    index = (crawl.site / "gallery" / "index.html").read_text(encoding="utf-8")
    for image in images:
        page = crawl.site / "gallery" / image["id"] / "index.html"
        assert page.is_file(), f"no gallery page for {image['id']}"
        assert f'href="{image["id"]}/"' in index, f"the gallery index does not link to {image['id']}"
        figures = [f for f in crawl.manifest.get("figures", []) if f.get("image") == image["id"]]
        # The photo's page, and its layer-by-layer pages (gallery/<id>/<technique>/).
        html = page.read_text(encoding="utf-8") + "".join(
            p.read_text(encoding="utf-8") for p in sorted((page.parent).glob("*/index.html"))
        )
        for fig in figures:
            assert fig["path"] in html, f"{fig['path']} missing from the gallery pages of {image['id']}"


def test_screenshots_taken(crawl: Crawl) -> None:
    assert len(crawl.screenshots) == 2, crawl.screenshots
    for shot in crawl.screenshots:
        assert shot.stat().st_size > 10_000, f"{shot} looks empty"


# --------------------------------------------------------------------------- page weight


@pytest.fixture(scope="session")
def weights(built_site: Path):
    """Every kind of page weighed in a fresh browser (generator.site.weigh): first screen and full scroll.

    Each chapter, the gallery's index and every gallery page of one photo: the other photos' gallery pages
    are the same pages with other figures of the same sizes (``python -m generator.site.weigh site/`` weighs
    them all)."""
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    from generator.site import weigh

    return weigh.weigh_site(built_site / "site", page_kinds(built_site / "site"))


def page_kinds(site: Path) -> list[str]:
    """Every page of the site but the gallery pages of all photos but the first (the same pages again)."""
    from generator.site import weigh

    pages = weigh.site_pages(site)
    photos = sorted({p.split("/")[1] for p in pages if p.startswith("gallery/") and p.count("/") >= 2})
    first = f"gallery/{photos[0]}/" if photos else "gallery/"
    return [p for p in pages if not p.startswith("gallery/") or p == "gallery/" or p.startswith(first)]


def test_every_page_is_within_its_weight_budget(weights) -> None:
    """Each page <= 5 MB after a full scroll, and <= 1.5 MB on its first screen (text gzip-compressed)."""
    from generator.site import weigh

    assert len(weights) >= 10
    assert weigh.over_budget(weights) == [], "\n" + weigh.table(weights)


def test_no_figure_carries_more_than_twice_the_pixels_it_is_shown_at(weights) -> None:
    oversized = sorted({line for w in weights for line in w.oversized()})
    assert oversized == []


def test_lazy_figures_wait_below_the_fold(weights) -> None:
    """A long page fetches less on its first screen than after a full scroll (images reserve their space)."""
    longest = max(weights, key=lambda w: w.requests)
    assert longest.first_screen < longest.full, longest


def test_the_gallery_shows_thumbnails_that_open_the_full_figure(crawl: Crawl) -> None:
    thumbs = [f for f in crawl.manifest["figures"] if f.get("thumb")]
    assert thumbs, "no figure has a thumbnail"
    for fig in thumbs:
        html = (crawl.site / "gallery" / fig["image"] / "index.html").read_text(encoding="utf-8")
        assert f'src="../../generated/{fig["thumb"]["path"]}"' in html, fig["thumb"]["path"]
        assert f'href="../../generated/{fig["path"]}"' in html, fig["path"]


def test_no_figure_is_stored_twice(built_site: Path) -> None:
    import hashlib

    seen: dict[str, str] = {}
    for path in sorted((built_site / "site" / "generated" / "figures").rglob("*")):
        if path.is_file():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            assert digest not in seen, f"{path} repeats {seen[digest]}"
            seen[digest] = str(path)


def test_no_page_runs_a_maths_engine(built_site: Path) -> None:
    """Formulas are MathML from the build (docs/_scripts/hooks.py): no page loads MathJax or any other script
    for them, and the site ships none."""
    site = built_site / "site"
    pages = sorted(site.rglob("*.html"))
    engines = [p for p in pages if re.search(r"mathjax|katex", p.read_text(), re.IGNORECASE)]
    assert pages and engines == [], engines[:3]
    assert not list(site.rglob("*mathjax*"))
    vgg = (site / "vgg16" / "index.html").read_text()
    assert '<span class="arithmatex"><math alttext=' in vgg and '<div class="arithmatex"><math alttext=' in vgg


def test_every_page_names_its_search_dialog_and_underlines_text_links(built_site: Path) -> None:
    """Two of the accessibility audit's failures, fixed in hooks.py and extra.css: the search dialog has an
    accessible name on every page, and links in running text are underlined, not told apart by colour alone."""
    site = built_site / "site"
    pages = sorted(site.rglob("index.html"))
    unnamed = [p for p in pages if 'role="dialog" aria-label="Search this site"' not in p.read_text()]
    assert pages and not unnamed, unnamed[:3]
    css = (site / "stylesheets" / "extra.css").read_text()
    assert "text-decoration: underline" in css and "--md-code-hl-comment-color" in css


WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
"""The axe-core rules the site must pass: WCAG 2.1, levels A and AA."""
PALETTE = """s => {
  const option = [...document.querySelectorAll("input.md-option")].find(o => o.dataset.mdColorScheme === s);
  if (option) option.click();  // Material's own palette switch: the scheme and its primary and accent colours
  return document.body.dataset.mdColorScheme;
}"""


def test_axe_finds_no_wcag_violation_on_any_kind_of_page_in_either_palette(built_site: Path) -> None:
    """axe-core (from the axe-playwright-python package) on every kind of page, once in the light palette and
    once in the dark one (switched on the loaded page with Material's own palette toggle)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    axe = pytest.importorskip("axe_playwright_python", reason="the axe-playwright-python package is not installed")
    from importlib.resources import files

    from generator.site.host import serve

    script = str(files(axe) / "axe.min.js")
    run = "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})"
    found = []
    with serve(built_site / "site") as base, sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block").new_page()
            for path in page_kinds(built_site / "site"):
                page.goto(base + path, wait_until="load")
                page.add_script_tag(path=script)
                for scheme in ("default", "slate"):
                    assert page.evaluate(PALETTE, scheme) == scheme, path
                    for v in page.evaluate(run, WCAG_TAGS)["violations"]:
                        node = v["nodes"][0]
                        found.append(f"{path or '/'} [{scheme}] {v['id']}: {len(v['nodes'])} element(s), first "
                                     f"{node['target']} {node.get('failureSummary', '')[:160]!r}")  # fmt: skip
        finally:
            browser.close()
    assert found == [], "\n".join(found)


def test_each_glossary_term_has_one_tooltip_per_page_at_its_first_use(built_site: Path) -> None:
    """Material mounts a tooltip on every element with a title, so the glossary's abbreviations are kept at
    each term's first use on a page (hooks.first_abbreviations): no page has two for one term, and the pages
    still explain their terms."""
    twice, explained = {}, 0
    for page in sorted((built_site / "site").rglob("index.html")):
        article = re.search(r"<article[^>]*>(.*)</article>", page.read_text(), re.S)
        terms = [" ".join(t.split()).casefold() for t in re.findall(r"<abbr\b[^>]*>(.*?)</abbr>", article.group(1))]
        explained += bool(terms)
        repeated = sorted({t for t in terms if terms.count(t) > 1})
        if repeated:
            twice[page.parent.name] = repeated[:3]
    assert not twice, twice
    assert explained >= 10, explained


def test_tables_arrive_wrapped_and_styled_so_the_theme_does_not_move_them(built_site: Path) -> None:
    """hooks.with_wrapped_tables puts every Markdown table in Material's scroll box when the site is built (moving
    them on load cost a second layout), and on_post_build writes the theme's table rules for them."""
    site = built_site / "site"
    bare, wrapped = [], 0
    for page in sorted(site.rglob("index.html")):
        html = page.read_text()
        bare += [page.parent.name] if "<table>" in html else []
        wrapped += html.count('<div class="md-typeset__table"><table class="cnn-table">')
    assert not bare and wrapped >= 10, (bare[:3], wrapped)
    css = (site / "stylesheets" / "tables.css").read_text()
    assert ".md-typeset table.cnn-table{" in css and "border" in css
    assert 'href="../stylesheets/tables.css"' in (site / "feature-maps" / "index.html").read_text()


def test_no_page_skips_a_heading_level(built_site: Path) -> None:
    """Inside each page's article, a heading is at most one level below the one before it (h2 then h4 was
    the audit's finding on four pages, from the per-layer fragments)."""
    skips = {}
    for page in sorted((built_site / "site").rglob("index.html")):
        article = re.search(r"<article[^>]*>(.*)</article>", page.read_text(), re.S)
        levels = [int(h) for h in re.findall(r"<h([1-6])\b", article.group(1))] if article else []
        bad = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
        if bad:
            skips[page.parent.name] = bad[:3]
    assert not skips, skips


def test_figures_are_numbered_and_references_resolve(built_site: Path) -> None:
    site = built_site / "site"
    html = (site / "activation-maximisation" / "index.html").read_text(encoding="utf-8")
    ids = re.findall(r'<figure id="([^"]+)"', html)
    assert len(ids) == len(re.findall(r'class="cnn-fignum">Figure \d+\.</span>', html)) > 0
    assert 'class="cnn-fignum">Figure 1.</span>' in html
    # a reference to a figure that needs no weights (one that does would break an offline build's site)
    html = (site / "vgg16" / "index.html").read_text(encoding="utf-8")
    ids = re.findall(r'<figure id="([^"]+)"', html)
    (ref, n) = re.findall(r'<a href="#(fig-[^"]+)">Figure (\d+)</a>', html)[0]
    assert ref == "fig-architecture-_all-diagram" and ids.index(ref) == int(n) - 1
    for page in site.rglob("index.html"):  # every id on a page is unique
        found = re.findall(r'<figure id="([^"]+)"', page.read_text(encoding="utf-8"))
        assert len(found) == len(set(found)), page


# --------------------------------------------------------------------------- the unit explorer


@pytest.fixture(scope="session")
def explorer(built_site: Path):
    """The explorer page in headless Chromium: (page, base URL, console errors, index.json)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    site = built_site / "site"
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    index = json.loads((site / "generated" / "figures" / "explorer" / "index.json").read_text())
    errors: list[str] = []
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 900}, service_workers="block")
            context.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            page.on("console", lambda m: m.type == "error" and errors.append(f"console: {m.text}"))
            yield page, base_url, errors, index
            context.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()


def _open(page, url: str) -> None:
    page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_function("() => window.cnnExplorer && document.querySelector('.cnn-x-tile')", timeout=PAGE_TIMEOUT_MS)


def _state(page) -> dict:
    return page.evaluate("() => window.cnnExplorer.state()")


def test_the_explorer_draws_the_networks_activations(explorer, standin_weights) -> None:
    """Grey mode draws the stored grey values; they are the activations computed here, within one step."""
    import numpy as np

    from tests.test_explorer import _expected

    page, base, errors, index = explorer
    for layer, models in (("block3_conv3", ("trained", "untrained")), ("block2_pool", ("trained", "untrained"))):
        _open(page, f"{base}explorer/#photo=chelsea&layer={layer}&model=both&cmap=grey")
        meta = next(entry for entry in index["layers"] if entry["name"] == layer)
        for model in models:
            act = _expected(standin_weights, "chelsea", layer, model).numpy()
            scales = page.evaluate(
                f"() => fetch('../generated/figures/explorer/chelsea/{model}.json')"
                f".then(r => r.json()).then(d => d.layers['{layer}'].scale)"
            )
            for c in (0, 1, meta["channels"] // 2, meta["channels"] - 1):
                drawn = np.array(page.evaluate(f"() => window.cnnExplorer.values('{model}', {c})"), np.float64)
                # what the canvas shows, read back from its pixels (grey: r = g = b = the stored value)
                canvas = page.evaluate(
                    f"""() => {{
                        const c = document.querySelector('.cnn-x-grid[data-model="{model}"] .cnn-x-tile[data-unit="{c}"] canvas');
                        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)
                            .filter((_, i) => i % 4 === 0);
                    }}"""
                )
                assert drawn.tolist() == canvas
                step = scales[c] / 255
                want = act[c].reshape(-1)
                assert drawn.shape == want.shape
                assert np.abs(drawn * step - want).max() <= step + 1e-6, (layer, model, c)
    assert not errors, errors


def test_the_explorer_keeps_its_state_in_the_address(explorer) -> None:
    page, base, errors, index = explorer
    _open(page, f"{base}explorer/#photo=chelsea&layer=block1_conv1&model=both")
    page.click('.cnn-x-grid[data-model="trained"] .cnn-x-tile[data-unit="5"]')
    page.wait_for_function("() => location.hash.includes('unit=5')")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.hash.includes('unit=6')")
    assert page.evaluate("() => document.activeElement.dataset.unit") == "6"
    page.select_option("#cnn-x-layer", "block4_conv3")
    page.wait_for_function("() => location.hash.includes('layer=block4_conv3')")
    other = index["photos"][-1]["id"]
    page.click(f'.cnn-x-photo[data-photo="{other}"]')
    page.wait_for_function(f"() => location.hash.includes('photo={other}')")
    page.select_option("#cnn-x-model", "untrained")
    page.select_option("#cnn-x-sort", "activation")
    page.wait_for_function("() => document.querySelectorAll('.cnn-x-grid').length === 1")
    page.click('.cnn-x-tile[data-unit="3"]')
    page.wait_for_function("() => location.hash.includes('unit=3')")
    before, hash = _state(page), page.evaluate("() => location.hash")
    assert before["layer"] == "block4_conv3" and before["photo"] == other and before["model"] == "untrained"
    page.reload(wait_until="load")
    page.wait_for_function("() => window.cnnExplorer && document.querySelector('.cnn-x-tile')")
    assert _state(page) == before and page.evaluate("() => location.hash") == hash
    # sorted by mean activation on the photo: the tiles' order follows the JSON's means
    order = page.evaluate("() => Array.from(document.querySelectorAll('.cnn-x-tile')).map(t => +t.dataset.unit)")
    means = page.evaluate(
        f"() => fetch('../generated/figures/explorer/{other}/untrained.json')"
        ".then(r => r.json()).then(d => d.layers['block4_conv3'].mean)"
    )
    assert [means[u] for u in order] == sorted(means, reverse=True)
    assert page.locator(".cnn-x-unit h3").inner_text() == "block4_conv3, channel 3"
    assert not errors, errors


def test_back_steps_through_units_and_a_bad_address_is_named(explorer) -> None:
    """Picking units adds history entries (Back returns to the previous unit, not off the page), a click
    brings the unit panel into view, and an address naming what the build lacks is named and corrected."""
    page, base, errors, _index = explorer
    _open(page, f"{base}explorer/#photo=chelsea&layer=block1_conv1&model=both")
    for unit in (5, 7):
        page.click(f'.cnn-x-grid[data-model="trained"] .cnn-x-tile[data-unit="{unit}"]')
        page.wait_for_function(f"() => location.hash.includes('unit={unit}')")
    top = page.evaluate("() => document.querySelector('.cnn-x-unit').getBoundingClientRect().top")
    assert -2 <= top < page.viewport_size["height"], top  # the opened panel is on screen
    page.go_back()
    page.wait_for_function("() => location.hash.includes('unit=5')")
    page.wait_for_function("() => document.querySelector('.cnn-x-unit h3')?.textContent === 'block1_conv1, channel 5'")
    _open(page, f"{base}explorer/#photo=nope&layer=block9&unit=9999")
    page.wait_for_function("() => document.querySelector('.cnn-x-notice').textContent.length > 0")
    notice = page.locator(".cnn-x-notice").inner_text()
    assert "photo nope" in notice and "layer block9" in notice and "unit 9999" in notice, notice
    assert "nope" not in page.evaluate("() => location.hash")
    assert not errors, errors


def test_the_kernel_norm_strip_works_from_the_keyboard(explorer) -> None:
    page, base, errors, _index = explorer
    _open(page, f"{base}explorer/#photo=chelsea&layer=block2_conv1&model=both&unit=3")
    page.wait_for_selector(".cnn-x-norms")
    strip = page.locator('.cnn-x-weight[data-model="trained"] .cnn-x-norms')
    assert strip.get_attribute("role") == "slider" and strip.get_attribute("tabindex") == "0"
    strip.focus()
    for key in ("Home", "ArrowRight", "ArrowRight"):
        page.keyboard.press(key)
    assert strip.get_attribute("aria-valuenow") == "2" and "input channel 2" in strip.get_attribute("aria-valuetext")
    assert "unit=3" in page.evaluate("() => location.hash")  # the arrows moved the strip, not the grid's unit
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.hash.includes('layer=block1_pool') && location.hash.includes('unit=2')")
    assert not errors, errors


def test_every_link_into_the_explorer_names_an_existing_view(built_site: Path, explorer) -> None:
    from urllib.parse import parse_qsl

    _, _, _, index = explorer
    photos = {p["id"] for p in index["photos"]}
    layers = {entry["name"]: entry for entry in index["layers"]}
    links = []
    for page in (built_site / "site").rglob("*.html"):
        links += re.findall(r'href="[^"]*explorer/#([^"]+)"', page.read_text(encoding="utf-8"))
    assert len(links) >= len(photos) + 1  # each gallery page and the feature-maps chapter
    for link in links:
        state = dict(parse_qsl(link.replace("&amp;", "&")))
        assert state["photo"] in photos and state["layer"] in layers, link
        assert "unit" not in state or 0 <= int(state["unit"]) < layers[state["layer"]]["channels"], link


def test_the_receptive_field_box_follows_the_architecture_table(explorer) -> None:
    """Hovering over a corner and the centre pixel of block3_conv3 boxes the input square the
    architecture chapter's table gives: its side, and a step of ``jump`` pixels per map pixel."""
    import torchvision

    from generator.lib.geometry import receptive_fields
    from generator.models import feature_index

    page, base, errors, index = explorer
    size, jump, _ = receptive_fields(torchvision.models.vgg16(weights=None, init_weights=False).features)[
        feature_index("block3_conv3")
    ]
    _open(page, f"{base}explorer/#photo=chelsea&layer=block3_conv3&model=both&unit=4")
    page.wait_for_selector(".cnn-x-unit .cnn-x-big")
    big = page.locator(".cnn-x-unit .cnn-x-big").first
    page.evaluate("() => document.querySelector('.cnn-x-unit .cnn-x-big').scrollIntoView({block: 'center'})")
    box = big.bounding_box()
    meta = next(entry for entry in index["layers"] if entry["name"] == "block3_conv3")
    cell = box["width"] / meta["stored_width"]
    for i in (0, meta["stored_width"] // 2):
        page.mouse.move(box["x"] + (i + 0.5) * cell, box["y"] + (i + 0.5) * cell)
        drawn = page.evaluate("() => window.cnnExplorer.box()")
        centre = jump / 2 + jump * i  # pixel centres: jump/2, 3·jump/2, ... (3x3 convs, padding 1; 2x2 pools)
        assert drawn == [centre - size / 2, centre - size / 2, centre + size / 2, centre + size / 2], (i, drawn)
    page.mouse.move(0, 0)
    assert page.evaluate("() => window.cnnExplorer.box()") is None
    assert not errors, errors


def test_a_unit_on_every_photo(explorer) -> None:
    """The unit view's bar chart: one bar per photo and network, at the means the data states; a click on
    a photo's bars shows that photo, with the same unit."""
    page, base, errors, index = explorer
    _open(page, f"{base}explorer/#photo=chelsea&layer=block5_conv3&model=both&unit=11")
    # The bars come in as each photo's data arrives: wait for all of them (a slow worker saw only some).
    page.wait_for_function(
        """n => document.querySelectorAll('.cnn-x-bar-group').length === n
            && document.querySelectorAll('.cnn-x-bar-group .cnn-x-bar[data-model]').length === 2 * n""",
        arg=len(index["photos"]),
    )
    for model in ("trained", "untrained"):
        shown = page.evaluate(f"""() => Array.from(document.querySelectorAll('.cnn-x-bar-group')).map(g =>
            [g.dataset.photo, +g.querySelector('.cnn-x-bar[data-model="{model}"]').dataset.value])""")
        assert [p for p, _ in shown] == [p["id"] for p in index["photos"]]
        for photo, value in shown:
            means = page.evaluate(
                f"() => fetch('../generated/figures/explorer/{photo}/{model}.json')"
                ".then(r => r.json()).then(d => d.layers['block5_conv3'].mean)"
            )
            assert value == means[11], (photo, model)
    other = index["photos"][1]["id"]
    page.click(f'.cnn-x-bar-group[data-photo="{other}"] .cnn-x-bar')
    page.wait_for_function(f"() => location.hash.includes('photo={other}')")
    assert _state(page)["unit"] == 11 and _state(page)["layer"] == "block5_conv3"
    assert not errors, errors


def test_the_unit_view_shows_the_unit_everywhere(explorer, standin_weights) -> None:
    """The unit view of block1_conv2 channel 5: its small map on every photo is what the data holds and the
    activations computed here (within one step); its photo examples are ordered by peak and box the
    receptive field of each peak; its strongest-input link opens the input unit with the largest kernel
    norm; an optimised image is shown for a unit that activation maximisation ran on."""
    import numpy as np
    import torch.nn.functional as F

    from generator import models
    from generator.chapters.explorer.render import receptive_field
    from generator.lib.layers import conv_layer
    from tests.test_explorer import _expected

    page, base, errors, index = explorer
    layer, c = "block1_conv2", 5
    meta = next(entry for entry in index["layers"] if entry["name"] == layer)
    _open(page, f"{base}explorer/#photo=chelsea&layer={layer}&model=both&unit={c}&cmap=grey")
    page.wait_for_selector(".cnn-x-every canvas")
    page.wait_for_selector(".cnn-x-weight a")
    units = page.evaluate(f"() => fetch('../generated/figures/explorer/units/{layer}.json').then(r => r.json())")
    rf = receptive_field(layer)
    examples = page.evaluate("() => window.cnnExplorer.examples()")
    for model in ("trained", "untrained"):
        for photo in [p["id"] for p in index["photos"]][:2]:
            act = _expected(standin_weights, photo, layer, model)
            small = F.avg_pool2d(act[None], meta["unit_factor"])[0, c].numpy()
            drawn = np.array(page.evaluate(f"() => window.cnnExplorer.unitValues('{model}', '{photo}')"), np.float64)
            canvas = page.evaluate(f"""() => {{
                const c = document.querySelector('.cnn-x-every tr[data-model="{model}"] button[data-photo="{photo}"] canvas');
                return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).filter((_, i) => i % 4 === 0);
            }}""")
            assert drawn.tolist() == canvas
            step = units["scale"][model][c] / 255
            assert np.abs(drawn.reshape(small.shape) * step - small).max() <= step + 1e-6, (model, photo)
            # the photo example: the receptive field around the strongest pixel, at full resolution
            y, x = divmod(int(act[c].argmax()), act.shape[-1])
            shown = next(e for e in examples if e["model"] == model and e["photo"] == photo)
            centre = (rf["start"] + rf["jump"] * x, rf["start"] + rf["jump"] * y)
            assert (shown["x"], shown["y"]) == (x, y)
            assert shown["box"] == [
                centre[0] - rf["size"] / 2,
                centre[1] - rf["size"] / 2,
                centre[0] + rf["size"] / 2,
                centre[1] + rf["size"] / 2,
            ]
        peaks = [e["peak"] for e in examples if e["model"] == model]
        assert peaks == sorted(peaks, reverse=True) and len(peaks) == len(index["photos"])
    # the strongest input of the trained filter: the largest kernel norm over block1_conv1's channels
    w = conv_layer(models.build_trained(standin_weights), layer).weight.detach()
    strongest = int(w[c].pow(2).sum(dim=(1, 2)).argmax())
    page.click('.cnn-x-weight[data-model="trained"] a >> nth=0')
    page.wait_for_function(
        f"() => location.hash.includes('layer=block1_conv1') && location.hash.includes('unit={strongest}')"
    )
    assert _state(page)["unit"] == strongest
    # a unit with an optimised image (the first the build ran on), and a pool, which has no weights
    am = page.evaluate("() => fetch('../generated/figures/explorer/optimised.json').then(r => r.json())")
    am_layer, am_units = next(iter(am["units"]["trained"].items()))
    _open(page, f"{base}explorer/#photo=chelsea&layer={am_layer}&model=both&unit={am_units[0]}")
    page.wait_for_function(
        "() => { const i = document.querySelector('.cnn-x-am-one[data-model=\"trained\"] img');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    _open(page, f"{base}explorer/#photo=chelsea&layer=block2_pool&model=trained&unit=7")
    page.wait_for_selector(".cnn-x-weights a")
    assert "A max-pool has no weights" in page.locator(".cnn-x-weights").inner_text()
    assert not errors, errors


def test_the_explorer_budget_check_measures_the_site(built_site: Path, tmp_path: Path) -> None:
    """``python -m generator.chapters.explorer.budget`` on the quick site: the data it counts is every file the
    generator listed as explorer data, and the first view and each click transfer something and stay within
    the budgets (bytes only: times are for the benchmark, ``nox -s bench -- explorer``). It runs in its own
    process: the session's browser fixture holds this one's Playwright loop."""
    from generator.chapters.explorer import budget as eb

    site = built_site / "site"
    manifest = json.loads((built_site / "docs" / "generated" / "manifest.json").read_text())
    listed = [p for p in manifest["data"] if p.startswith(f"{eb.DATA.relative_to('generated').as_posix()}/")]
    total, files = eb.data_bytes(site)
    assert files == len(listed) and total == sum((site / "generated" / p).stat().st_size for p in listed)
    out = tmp_path / "budget.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "generator.chapters.explorer.budget",
            str(site),
            "--json",
            str(out),
            "--layers",
            "block1_conv1",
            "block5_conv3",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr
    m = json.loads(out.read_text())
    assert m["data_bytes"] == total
    photos = [p["id"] for p in json.loads((site / eb.DATA / "index.json").read_text())["photos"]]
    assert sorted(m["photo_bytes"]) == sorted(photos) and 0 < sum(m["photo_bytes"].values()) < total
    assert m["site_bytes"] == sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    assert m["projected_bytes"] > m["site_bytes"] and m["projected_photos"] == eb.SITE_PHOTOS
    assert [r["layer"] for r in m["clicks"]] == ["block1_conv1", "block5_conv3"]
    assert m["first_view_bytes"] > 0 and all(r["unit_bytes"] > 0 and r["photo_bytes"] > 0 for r in m["clicks"])
    assert m["clicks"][1]["layer_bytes"] > 0
    problems = [line for line in eb.over_budget(m) if not line.startswith("first paint")]
    assert not problems, problems
    assert "largest single click" in done.stdout


def test_any_unit_is_three_clicks_from_the_home_page(explorer) -> None:
    """Home page → a photo's "every unit on it" (1) → a layer (2) → a channel (3): that photo's unit view."""
    page, base, errors, index = explorer
    photo = index["photos"][-1]["id"]
    page.goto(base, wait_until="load")
    page.click(f'a[href^="explorer/#photo={photo}&"]')
    page.wait_for_function("() => window.cnnExplorer && document.querySelector('.cnn-x-tile')")
    page.select_option("#cnn-x-layer", "block4_conv2")
    page.wait_for_function("() => location.hash.includes('layer=block4_conv2')")
    page.click('.cnn-x-grid[data-model="untrained"] .cnn-x-tile[data-unit="300"]')
    page.wait_for_selector(".cnn-x-every canvas")
    state = _state(page)
    assert (state["photo"], state["layer"], state["unit"], state["model"]) == (photo, "block4_conv2", 300, "both")
    assert page.locator(".cnn-x-unit h3").inner_text() == "block4_conv2, channel 300"
    assert not errors, errors
