"""The unit explorer's budgets on a built site (``--site``, default ``site/``, what ``nox -s build`` makes):
all its data, the first view's transfer and paint time, and the largest single click.
See :mod:`generator.chapters.explorer.budget`, which measures them in headless Chromium."""

from __future__ import annotations

import sys

from generator.bench import row
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
    budgets = (
        (f"all data ({m['data_files']} files, {len(m['photo_bytes'])} photos)", m["data_bytes"] / 1e6, "MB", None),
        ("heaviest photo's data", max(m["photo_bytes"].values()) / 1e6, "MB", eb.PHOTO_BUDGET / 1e6),
        ("mean photo's data", sum(m["photo_bytes"].values()) / len(m["photo_bytes"]) / 1e6, "MB", None),
        ("whole site", m["site_bytes"] / 1e6, "MB", None),
        (f"site projected to {m['projected_photos']} photos", m["projected_bytes"] / 1e6, "MB", eb.SITE_BUDGET / 1e6),
        ("first view transferred", m["first_view_bytes"] / 1e6, "MB", eb.FIRST_VIEW_BUDGET / 1e6),
        ("first view painted", m["paint_s"], "s", eb.PAINT_BUDGET_S),
        ("largest single click", m["worst_click_bytes"] / 1e6, "MB", eb.CLICK_BUDGET / 1e6),
    )
    return [
        row(
            "explorer",
            metric,
            value,
            unit,
            "" if limit is None else f"<= {limit:g}",
            None if limit is None else value <= limit,
        )
        for metric, value, unit, limit in budgets
    ]
