"""Check the unit explorer against its budgets, in headless Chromium on a built site.

    python -m generator.chapters.explorer.budget site/            # a table; exit 1 over a budget
    python -m generator.chapters.explorer.budget site/ --json explorer-budget.json

The site is served as a static host serves it (text gzip-compressed, see
:mod:`generator.site.host`), each measurement in a fresh browser context
(an empty cache). Bytes are the Resource Timing API's ``transferSize``.

* **data**: every file of the explorer's data on disk (feature maps, weights and
  optimised images), uncompressed, and what each photo's own maps add (the budget is
  per photo, so that it grows with the photo set);
* **site**: the whole built site, and its size projected to 20 photos (what belongs to
  no photo, plus 20 times the heaviest photo's figures, gallery pages and maps),
  against the 1 GB a Pages site may hold;
* **first view**: what opening the explorer page transfers, page and assets included;
* **paint**: from the start of navigation to the first grid of maps on screen
  (the page marks it ``cnn-explorer-painted``);
* **click**: for every layer, starting from the first view, what picking that
  layer, then a unit of it, then another photo transfers; the largest is the
  budget's "any single click".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from generator.site.host import serve, site_argument
from generator.site.weigh import (
    _TRANSFERRED,
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    VIEWPORT,
    browser_missing,
    progress_line,
)

PHOTO_BUDGET = 16_000_000
"""The explorer data one photo adds (its maps on both networks). The fixed 100 MB total this replaces left
no room for an eighth photo; a per-photo budget grows with the photo set."""
SITE_PHOTOS = 20
SITE_BUDGET = 1_000_000_000
"""A default site with ``SITE_PHOTOS`` photos stays under the Pages cap of 1 GB (projected from this build)."""
FIRST_VIEW_BUDGET = 1_500_000
CLICK_BUDGET = 2_000_000
PAINT_BUDGET_S = 1.0
DATA = Path("generated/figures/explorer")  # in a built site: everything the explorer page fetches besides the page


def data_bytes(site: Path) -> tuple[int, int]:
    """(bytes, files) of the explorer's data in a built site (or a generator output folder)."""
    root = site / DATA if (site / "generated").is_dir() else site / DATA.relative_to("generated")
    files = [p for p in root.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def per_photo_bytes(site: Path, photos: list[str]) -> dict[str, int]:
    """Bytes of the explorer's data that belong to each photo (its own folder of maps)."""
    root = site / DATA if (site / "generated").is_dir() else site / DATA.relative_to("generated")
    return {photo: sum(p.stat().st_size for p in (root / photo).rglob("*") if p.is_file()) for photo in photos}


def site_projection(site: Path, photos: list[str], n: int = SITE_PHOTOS) -> dict:
    """The whole site's size now, and projected to ``n`` photos: what does not belong to one photo, plus
    ``n`` times the heaviest photo. A file belongs to a photo when a folder on its path is named after it
    (a technique's figures, the gallery's pages, the explorer's maps)."""
    own = dict.fromkeys(photos, 0)
    shared = 0
    for path in site.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        parts = set(path.relative_to(site).parts[:-1])
        mine = [photo for photo in photos if photo in parts]
        if mine:
            own[mine[0]] += size
        else:
            shared += size
    heaviest = max(own.values(), default=0)
    return {
        "site_bytes": shared + sum(own.values()),
        "shared_bytes": shared,
        "heaviest_photo_bytes": heaviest,
        "projected_photos": n,
        "projected_bytes": shared + n * heaviest,
    }


def _settle(page) -> None:
    """Wait until the explorer has stopped fetching: nothing says "Loading" and no new request for 0.4 s."""
    page.wait_for_function(
        "() => !document.querySelector('.cnn-explorer').textContent.includes('Loading')", timeout=TIMEOUT_MS
    )
    last = -1
    while True:
        n = page.evaluate("() => performance.getEntriesByType('resource').length")
        if n == last:
            return
        last = n
        time.sleep(0.4)


def _sent(page) -> int:
    return int(page.evaluate(_TRANSFERRED)[0])


def _first_view(browser, url: str):
    """A fresh context (an empty cache) on ``url``, once the first grid of maps is painted."""
    context = browser.new_context(viewport=VIEWPORT, service_workers="block")
    context.add_init_script("performance.setResourceTimingBufferSize(100000)")
    page = context.new_page()
    page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    page.wait_for_function("() => performance.getEntriesByName('cnn-explorer-painted').length", timeout=TIMEOUT_MS)
    _settle(page)
    return context, page


def _clicks(page, layer: str, photo: str) -> dict:
    """From the first view: pick ``layer``, then unit 0 of it, then the photo ``photo``; bytes of each."""
    row, before = {"layer": layer}, _sent(page)
    if layer != "block1_conv1":
        page.select_option("#cnn-x-layer", layer)
        page.wait_for_function(f"() => location.hash.includes('layer={layer}')")
        _settle(page)
    row["layer_bytes"], before = _sent(page) - before, _sent(page)
    page.click('.cnn-x-grid[data-model="trained"] .cnn-x-tile[data-unit="0"]')
    page.wait_for_selector(".cnn-x-am-one, .cnn-x-am p", timeout=TIMEOUT_MS)
    _settle(page)
    row["unit_bytes"], before = _sent(page) - before, _sent(page)
    page.click(f'.cnn-x-photo[data-photo="{photo}"]')
    page.wait_for_function(f"() => location.hash.includes('photo={photo}')")
    _settle(page)
    row["photo_bytes"] = _sent(page) - before
    return row


def measure(site: Path, *, layers: list[str] | None = None, chromium: Path = CHROMIUM, progress=None) -> dict:
    """The explorer's numbers on a built site (see the module docstring); clicks into ``layers`` (default:
    all). Every layer starts from the first view (``block1_conv1`` on the first photo); its bytes and
    paint time are those of the first fresh context."""
    from playwright.sync_api import sync_playwright

    index = json.loads((site / DATA / "index.json").read_text())
    photos = [p["id"] for p in index["photos"]]
    total, files = data_bytes(site)
    out = {"data_bytes": total, "data_files": files, "first_view_bytes": 0, "paint_s": 0.0, "clicks": []}
    out["photo_bytes"] = per_photo_bytes(site, photos)
    out.update(site_projection(site, photos))
    chosen = [entry["name"] for entry in index["layers"] if layers is None or entry["name"] in layers]
    with serve(site) as base, sync_playwright() as pw:
        url = f"{base}explorer/#photo={photos[0]}&layer=block1_conv1&model=both"
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            for n, layer in enumerate(chosen):
                if progress:
                    progress(n, len(chosen), layer)
                context, page = _first_view(browser, url)
                if n == 0:
                    out["first_view_bytes"] = _sent(page)
                    painted = "() => performance.getEntriesByName('cnn-explorer-painted')[0].startTime"
                    out["paint_s"] = page.evaluate(painted) / 1000
                out["clicks"].append(_clicks(page, layer, photos[-1]))
                context.close()
        finally:
            browser.close()
    out["worst_click_bytes"] = max(max(r["layer_bytes"], r["unit_bytes"], r["photo_bytes"]) for r in out["clicks"])
    return out


def over_budget(m: dict) -> list[str]:
    lines = []
    m = {**m, "heaviest_photo": max(m.get("photo_bytes", {}).values(), default=0)}
    for key, budget, what in (
        ("heaviest_photo", PHOTO_BUDGET, "the explorer data of the heaviest photo"),
        ("projected_bytes", SITE_BUDGET, f"the site projected to {SITE_PHOTOS} photos"),
        ("first_view_bytes", FIRST_VIEW_BUDGET, "the first view"),
        ("worst_click_bytes", CLICK_BUDGET, "the largest single click"),
    ):
        if m[key] > budget:
            lines.append(f"{what}: {m[key] / 1e6:.2f} MB (budget {budget / 1e6:g} MB)")
    if m["paint_s"] > PAINT_BUDGET_S:
        lines.append(f"first paint: {m['paint_s']:.2f} s (budget {PAINT_BUDGET_S:g} s)")
    return lines


def table(m: dict) -> str:
    heaviest = max(m["photo_bytes"].values(), default=0)
    rows = [
        f"all explorer data: {m['data_bytes'] / 1e6:.1f} MB in {m['data_files']} files, "
        f"{len(m['photo_bytes'])} photos; the heaviest photo's {heaviest / 1e6:.1f} MB "
        f"(budget {PHOTO_BUDGET / 1e6:g} MB a photo)",
        f"the whole site: {m['site_bytes'] / 1e6:.1f} MB; projected to {m['projected_photos']} photos "
        f"{m['projected_bytes'] / 1e6:.0f} MB (budget {SITE_BUDGET / 1e6:g} MB)",
        f"first view: {m['first_view_bytes'] / 1e6:.2f} MB transferred (budget {FIRST_VIEW_BUDGET / 1e6:g} MB), "
        f"painted after {m['paint_s']:.2f} s (budget {PAINT_BUDGET_S:g} s)",
        f"largest single click: {m['worst_click_bytes'] / 1e6:.2f} MB (budget {CLICK_BUDGET / 1e6:g} MB)",
        "",
        "| layer | pick the layer | pick a unit | another photo |",
        "|---|---:|---:|---:|",
    ]
    rows += [
        f"| {r['layer']} | {r['layer_bytes'] / 1e3:.0f} kB | {r['unit_bytes'] / 1e3:.0f} kB | "
        f"{r['photo_bytes'] / 1e3:.0f} kB |"
        for r in m["clicks"]
    ]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m generator.chapters.explorer.budget", description=__doc__.split("\n\n")[0]
    )
    site_argument(parser, "the numbers")
    parser.add_argument(
        "--layers",
        nargs="+",
        metavar="LAYER",
        help="click into these layers only (default: all 18; the first view opens block1_conv1)",
    )
    args = parser.parse_args(argv)
    if not (args.site / "explorer" / "index.html").is_file():
        print(f"error: {args.site}/explorer/index.html not found: build the site first (nox -s build)", file=sys.stderr)
        return 2
    if not (args.site / DATA / "index.json").is_file():
        print(
            f"error: {args.site} has no explorer data: run the generator with the explorer technique, then "
            "build the site (nox -s build)",
            file=sys.stderr,
        )
        return 2
    if args.layers:
        index = json.loads((args.site / DATA / "index.json").read_text())
        known = [entry["name"] for entry in index["layers"]]
        unknown = [name for name in args.layers if name not in known]
        if unknown:
            print(f"error: unknown layer(s) {', '.join(unknown)}; choose from {', '.join(known)}", file=sys.stderr)
            return 2
    if browser_missing():
        print(f"error: {browser_missing()}", file=sys.stderr)
        return 2
    m = measure(args.site, layers=args.layers, progress=progress_line)
    print(table(m))
    if args.json:
        args.json.write_text(json.dumps(m, indent=1) + "\n", encoding="utf-8")
    problems = over_budget(m)
    for line in problems:
        print(f"over budget: {line}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
