"""The unit explorer's budgets on a built site (``--site``, default ``site/``, what ``nox -s build`` makes):
all its data, the first view's transfer and paint time, and the largest single click.
See :mod:`generator.chapters.explorer.budget`, which measures them in headless Chromium."""

from __future__ import annotations

import sys

from generator.chapters.explorer import budget as eb


def run(args) -> list[dict]:
    site = args.site
    if not (site / eb.DATA / "index.json").is_file():
        print(
            f"explorer: {site} has no explorer data; build the site first (nox -s build), or pass --site DIR",
            file=sys.stderr,
        )
        return [{"bench": "explorer", "metric": f"no built site at {site}", "value": 0.0, "ok": False}]
    m = eb.measure(
        site, progress=lambda n, total, name: print(f"  [{n + 1}/{total}] {name}", file=sys.stderr, flush=True)
    )
    return [
        {
            "bench": "explorer",
            "metric": f"all data ({m['data_files']} files)",
            "value": m["data_bytes"] / 1e6,
            "unit": "MB",
            "target": f"<= {eb.DATA_BUDGET / 1e6:g}",
            "ok": m["data_bytes"] <= eb.DATA_BUDGET,
        },
        {
            "bench": "explorer",
            "metric": "first view transferred",
            "value": m["first_view_bytes"] / 1e6,
            "unit": "MB",
            "target": f"<= {eb.FIRST_VIEW_BUDGET / 1e6:g}",
            "ok": m["first_view_bytes"] <= eb.FIRST_VIEW_BUDGET,
        },
        {
            "bench": "explorer",
            "metric": "first view painted",
            "value": m["paint_s"],
            "unit": "s",
            "target": f"<= {eb.PAINT_BUDGET_S:g}",
            "ok": m["paint_s"] <= eb.PAINT_BUDGET_S,
        },
        {
            "bench": "explorer",
            "metric": "largest single click",
            "value": m["worst_click_bytes"] / 1e6,
            "unit": "MB",
            "target": f"<= {eb.CLICK_BUDGET / 1e6:g}",
            "ok": m["worst_click_bytes"] <= eb.CLICK_BUDGET,
        },
    ]
