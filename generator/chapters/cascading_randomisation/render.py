"""Sanity-check figures: trained-vs-untrained similarity per method, and the cascading randomisation."""

from __future__ import annotations

import numpy as np

from generator.chapters.cascading_randomisation.verdicts import PASSES_BELOW, mean_interval, weight_dependence
from generator.lib.methods import METHODS as REGISTRY
from generator.render import FULL_WIDTH_IN, RenderContext, colormap, mosaic, new_figure
from generator.render.overlays import CMAP, colourbar

METHODS = list(REGISTRY)
METHOD_TITLES = {n: m.title for n, m in REGISTRY.items()}
METHOD_COLOURS = {n: m.colour for n, m in REGISTRY.items()}
STEP_LABELS = {
    "none": "trained",
    "classifier": "+ classifier",
    "block5": "+ block5",
    "block4": "+ block4",
    "block3": "+ block3",
    "block2": "+ block2",
    "block1": "+ block1",
}


def _nanmean(values) -> float | None:
    v = np.array([np.nan if x is None else x for x in values], dtype=np.float64)
    return None if np.all(np.isnan(v)) else float(np.nanmean(v))


def _low(values, key: str) -> float:
    """Lower y limit: a little below zero, or below the lowest value drawn."""
    v = np.asarray(values, dtype=np.float64)
    low = float(np.nanmin(v)) if np.isfinite(v).any() else 0.0
    return min(-0.2 if key == "spearman" else -0.05, low - 0.05)


def _cascade_plot(rc, results, ids, steps, methods):
    fig = new_figure(9, 3.4)
    axes = fig.subplots(1, 2, sharex=True)
    x = np.arange(len(steps))
    for ax, key, title in ((axes[0], "spearman", "Spearman rank correlation"), (axes[1], "ssim", "SSIM")):
        drawn = []
        for m in methods:
            vals = np.array(
                [
                    [np.nan if v is None else v for v in results[(i, "trained")].records["similarity"][m][key]]
                    for i in ids
                ],
                dtype=np.float64,
            )
            drawn.append(vals.ravel())
            ax.plot(x, np.nanmean(vals, 0), marker="o", ms=4, color=METHOD_COLOURS[m], label=METHOD_TITLES[m])
            ax.fill_between(x, np.nanmin(vals, 0), np.nanmax(vals, 0), color=METHOD_COLOURS[m], alpha=0.12)
        ax.set_xticks(x, [STEP_LABELS[s] for s in steps], rotation=35, ha="right", fontsize=8)
        ax.set_title(f"{title} with the trained map", fontsize=10)
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_ylim(_low(np.concatenate(drawn), key), 1.05)
        ax.grid(alpha=0.3)
        ax.set_xlabel("layers re-initialised, cumulatively from the top", fontsize=8)
    axes[0].legend(frameon=False, fontsize=8)
    return rc.mpl(
        fig,
        model="trained",
        kind="cascade",
        caption=f"Cascading randomisation: similarity between each method's map on the trained VGG16 and "
        f"on the same network after re-initialising the classifier, then block5, ..., down to "
        f"block1 (at the right end every weight is the untrained model's). Maps scaled to [0, 1] "
        f"first; mean over the {len(ids)} photos, full range shaded.",
    )


def _cascade_strip(rc, res, img, steps, methods):
    tile = rc.profile.tile
    from generator.render import resize

    tiles = []
    for m in methods:
        for k in range(len(steps)):
            heat = res.arrays[f"step{k}.{m}"].astype(np.float32)
            tiles.append(resize(colormap(heat, CMAP), tile, nearest=False))
    grid = mosaic(tiles, cols=len(steps), gap=2)
    cell = min(1.25, (FULL_WIDTH_IN - 2.2) / len(steps))  # the column's width at most
    fig = new_figure(cell * len(steps) + 2.2, cell * len(methods) + 0.6)
    ax = fig.subplots()
    ax.imshow(grid, interpolation="nearest")
    th, tw = tiles[0].shape[:2]
    ax.set_xticks(
        [(tw + 2) * k + tw / 2 for k in range(len(steps))],
        [STEP_LABELS[s] for s in steps],
        rotation=35,
        ha="right",
        fontsize=8,
    )
    ax.set_yticks([(th + 2) * j + th / 2 for j in range(len(methods))], [METHOD_TITLES[m] for m in methods], fontsize=8)
    ax.tick_params(length=0)
    for sp in ax.spines.values():
        sp.set_visible(False)
    colourbar(fig, ax, "map / its own maximum")
    return rc.mpl(
        fig,
        image=img.id,
        model="trained",
        kind="cascade-maps",
        caption=f"{img.title}: every method's map (rows) as the layers are re-initialised from the top "
        f"(columns, left to right). Each map is scaled by its own maximum.",
    )


def _sanity_plot(rc, results, ids, methods):
    fig = new_figure(9, 3.2)
    axes = fig.subplots(1, 2, sharex=True)
    x = np.arange(len(methods))
    rng = np.random.default_rng(0)  # fixed horizontal jitter for the dots
    jitter = rng.uniform(-0.15, 0.15, size=len(ids))
    for ax, key, title in ((axes[0], "spearman", "Spearman rank correlation"), (axes[1], "ssim", "SSIM")):
        drawn = []
        for j, m in enumerate(methods):
            vals = np.array(
                [
                    np.nan
                    if results[(i, "trained")].records["sanity"][m][key] is None
                    else results[(i, "trained")].records["sanity"][m][key]
                    for i in ids
                ],
                dtype=np.float64,
            )
            drawn.append(vals)
            ax.scatter(j + jitter, vals, s=18, color=METHOD_COLOURS[m], alpha=0.8, zorder=3)
            if not np.all(np.isnan(vals)):
                ax.hlines(np.nanmean(vals), j - 0.3, j + 0.3, color="k", lw=1.5, zorder=4)
        ax.set_xticks(x, [METHOD_TITLES[m] for m in methods], rotation=25, ha="right", fontsize=8)
        ax.set_title(f"{title}, trained vs untrained", fontsize=10)
        ax.axhline(0, color="0.5", lw=0.8)
        ax.set_ylim(_low(np.concatenate(drawn), key), 1.05)
        ax.grid(alpha=0.3, axis="y")
    return rc.mpl(
        fig,
        model="both",
        kind="sanity",
        caption=f"Similarity between the trained and the untrained model's map of the same photo and "
        f"class, per method: one dot per photo ({len(ids)} photos), black bar = mean. 1 means "
        f"identical maps; near 0, unrelated.",
    )


def _numbers(results, ids, steps, cascade_methods) -> dict:
    """The means over the photos the chapter and the methods table state."""
    recs = [results[(i, "trained")].records for i in ids]
    means = {m: {k: _nanmean([r["sanity"][m][k] for r in recs]) for k in ("spearman", "ssim")} for m in METHODS}
    edges = {m: {model: _nanmean([r["edges"][m][model] for r in recs]) for model in ("trained", "untrained")}
             for m in METHODS}  # fmt: skip
    cascade = {m: {k: [_nanmean([r["similarity"][m][k][s] for r in recs]) for s in range(len(steps))]
                   for k in ("spearman", "ssim")} for m in cascade_methods}  # fmt: skip
    intervals = {m: mean_interval([r["sanity"][m]["spearman"] for r in recs]) for m in METHODS}
    return {
        "means": means,
        "intervals": intervals,  # the mean Spearman with its 95 % bootstrap interval over the photos
        "weights": {m: weight_dependence(iv) for m, iv in intervals.items()},
        "edges": edges,
        "ranked": sorted(METHODS, key=lambda m: -(means[m]["spearman"] if means[m]["spearman"] is not None else -2)),
        "cascade": cascade,
        # the first step at which the mean Spearman falls below one half, per method
        "half": {
            m: next((steps[s] for s, v in enumerate(cascade[m]["spearman"]) if v is not None and v < 0.5), None)
            for m in cascade_methods
        },  # fmt: skip
        # per step, how many photos' Grad-CAM maps are flat (all zero after the ReLU)
        "cam_flat_counts": [sum(bool(r["cam_flat"][s]) for r in recs) for s in range(len(steps))],
    }


def render(rc: RenderContext, results) -> dict:
    ids = [i.id for i in rc.images]
    first = results[(ids[0], "trained")].records
    steps, cascade_methods = first["steps"], first["methods"]
    cascade_fig = _cascade_plot(rc, results, ids, steps, cascade_methods)
    strips = {}
    for img in rc.images:
        strips[img.id] = _cascade_strip(rc, results[(img.id, "trained")], img, steps, cascade_methods)
    sanity_fig = _sanity_plot(rc, results, ids, METHODS)
    table = []
    for img in rc.images:
        rec = results[(img.id, "trained")].records
        table.append({"id": img.id, "title": img.title, "target_label": rec["target_label"]}
                     | {m: rec["sanity"][m] for m in METHODS})  # fmt: skip
    numbers = _numbers(results, ids, steps, cascade_methods)
    # how many photos got the class their credits expect: zero for a stand-in "trained" model
    expected = [img for img in rc.images if img.credit and img.credit.label_index is not None]
    hits = sum(int(results[(img.id, "trained")].records["target"]) == img.credit.label_index for img in expected)
    return {
        "expected_total": len(expected), "expected_hits": int(hits), "featured": rc.featured(),
        "sanity_plot": sanity_fig, "cascade_plot": cascade_fig, "strips": strips, "table": table,
        "means": numbers["means"], "intervals": numbers["intervals"], "weights": numbers["weights"],
        "passes_below": PASSES_BELOW, "edges": numbers["edges"], "ranked": numbers["ranked"], "methods": METHODS,
        "titles": METHOD_TITLES, "cascade_methods": cascade_methods, "cascade": numbers["cascade"], "steps": steps,
        "step_labels": STEP_LABELS, "half": numbers["half"], "n_images": len(ids),
        "smoothgrad_in_cascade": "smoothgrad" in cascade_methods, "smoothgrad_n": first["smoothgrad_n"],
        "cam_flat_counts": numbers["cam_flat_counts"], "featured_cascade": _featured_cascade(rc, results, steps),
    }  # fmt: skip


def _featured_cascade(rc: RenderContext, results, steps) -> dict | None:
    """The featured photo's own cascade: per method, its Spearman ρ after each step, and where it first falls
    below :data:`PASSES_BELOW`."""
    featured = rc.featured()
    if featured is None:
        return None
    rec = results[(featured, "trained")].records
    spearman = {
        m: [None if v is None or v != v else float(v) for v in rec["similarity"][m]["spearman"]] for m in rec["methods"]
    }  # fmt: skip  (a flat map has no ranking: NaN, shown as n/a)
    below = {m: next((steps[s] for s, v in enumerate(vs) if v is not None and v < PASSES_BELOW), None)
             for m, vs in spearman.items()}  # fmt: skip
    stays = {m: below[m] is not None and all(v is None or v < PASSES_BELOW
                                             for v in spearman[m][steps.index(below[m]):])
             for m in spearman}  # fmt: skip
    return {"id": featured, "title": rc.image(featured).title, "target_label": rec["target_label"],
            "spearman": spearman, "below": below, "stays_below": stays}  # fmt: skip
