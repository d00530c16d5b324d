"""The trust chapter's figures and table: every method on the featured photo for both networks, deletion and
insertion curves, and per method its weight dependence and faithfulness with bootstrap intervals."""

from __future__ import annotations

import numpy as np

from generator.chapters.cascading_randomisation.render import STEP_LABELS
from generator.chapters.cascading_randomisation.spec import STEPS
from generator.chapters.cascading_randomisation.verdicts import PASSES_BELOW, mean_interval, weight_dependence
from generator.lib.methods import every_method
from generator.lib.separate import SEPARATE
from generator.render import FULL_WIDTH_IN, RenderContext, new_figure
from generator.render.overlays import clip_scale, overlay_grid

GROUPS = ("gradients", "backward rules", "perturbation", "cam")
"""The families, in the order of the chapters that explain them; one grid figure and one fragment each."""
GROUP_TITLES = {
    "gradients": "gradient",
    "backward rules": "modified backward rule",
    "perturbation": "perturbation",
    "cam": "class activation map",
}


def group_key(group: str) -> str:
    """A family's name in file and fragment names: ``"backward rules"`` -> ``"backward_rules"``."""
    return group.replace(" ", "_")


def _grid(rc: RenderContext, img, res, methods: list, group: str) -> dict:
    pct = rc.settings["clip_percentile"]
    shown = [m for m in methods if m["group"] == group]
    rows = [
        (rc.labels[n], [clip_scale(res.arrays[f"{n}/{m['name']}/map"], pct) for m in shown])
        for n in ("trained", "untrained")
    ]
    fig = overlay_grid(
        rows,
        img.seen,
        [m["title"] for m in shown],
        alpha=rc.settings["alpha"],
        bar_label=f"map / its {pct:g}th percentile",
        panel=2.2 if len(shown) <= 2 else 2.0,  # tall enough for the row labels ("trained (stand-in weights)")
    )
    family = GROUP_TITLES[group] + (" method" if len(shown) == 1 else " methods")
    return rc.mpl(
        fig,
        image=img.id,
        model="both",
        kind=f"grid-{group_key(group)}",
        caption=f"{img.title}: the {family} on both networks, explaining the trained "
        f"network's top-1 class ({res.records['target_label']}). Each map is scaled to its own "
        f"{pct:g}th percentile and blended over the photo.",
    )


def _curve_plot(rc: RenderContext, img, res, methods: list) -> dict:
    fig = new_figure(FULL_WIDTH_IN, 3.8)
    axes = fig.subplots(1, 2, sharey=True)
    steps = len(res.arrays[f"trained/{methods[0]['name']}/deletion"]) - 1
    x = np.linspace(0, 1, steps + 1)
    seeds = sorted(k for k in res.records["networks"]["trained"]["auc"] if k.startswith("random"))
    for ax, kind in zip(axes, ("deletion", "insertion")):
        for m in methods:
            ax.plot(x, res.arrays[f"trained/{m['name']}/{kind}"], color=m["colour"], lw=1.2, label=m["title"])
        rand = np.mean([res.arrays[f"trained/{s}/{kind}"] for s in seeds], axis=0)
        ax.plot(
            x,
            rand,
            color="0.4",
            lw=1.6,
            ls=":",
            label="random ranking" if len(seeds) == 1 else f"random ranking (mean of {len(seeds)})",
        )
        ax.plot(x, res.arrays[f"trained/sobel/{kind}"], color="black", lw=1.4, ls="--", label="Sobel edge map")
        ax.set_title(
            f"{kind}: {'most relevant removed first' if kind == 'deletion' else 'most relevant restored first'}",
            fontsize=10,
        )
        ax.set_xlabel("fraction of pixels changed")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"p({res.records['target_label']}) / p on the photo")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", frameon=False, fontsize=8)
    return rc.mpl(
        fig,
        image=img.id,
        model="trained",
        kind="curves",
        caption=f"{img.title}, {rc.labels['trained']}: the class probability (divided by its value on the photo) "
        f"as each method's pixels, most "
        f"relevant first, are replaced by a blurred copy of the photo (deletion: lower is more faithful) or "
        f"restored into it (insertion: higher is more faithful), in {steps} steps.",
    )


def _cascade_plot(rc: RenderContext, recs: list[dict], methods: list, steps: list[str]) -> dict | None:
    """The separate methods' cascading randomisation (Spearman ρ with the trained map), as the sanity checks
    draw the shared pass's: mean over the photos that ran it, full range shaded."""
    recs = [r for r in recs if r.get("cascade_separate")]  # the photos that ran the separate methods
    names = recs[0]["cascade_separate"] if recs else []
    if not names:
        return None
    by_name = {m["name"]: m for m in methods}
    fig = new_figure(6.2, 3.4)
    ax = fig.subplots()
    x = np.arange(len(steps))
    for n in names:
        vals = np.array([r["cascade"][n] for r in recs], dtype=np.float64)
        m = by_name[n]
        ax.plot(x, vals.mean(0), marker="o", ms=4, color=m["colour"], label=m["title"])
        ax.fill_between(x, vals.min(0), vals.max(0), color=m["colour"], alpha=0.12)
    ax.set_xticks(x, [STEP_LABELS[s] for s in steps], rotation=35, ha="right", fontsize=8)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axhline(PASSES_BELOW, color="0.5", lw=0.8, ls=":")
    ax.set_ylim(min(-0.2, float(np.nanmin([min(r["cascade"][n]) for r in recs for n in names])) - 0.05), 1.05)
    ax.set_ylabel("Spearman ρ with the trained map")
    ax.set_xlabel("layers re-initialised, cumulatively from the top", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    n_photos = len(recs)
    return rc.mpl(
        fig,
        model="trained",
        kind="cascade-separate",
        caption=f"Cascading randomisation for the methods with their own passes, as in the sanity checks: "
        f"each method's Spearman ρ with its map on the {rc.labels['trained']} network after re-initialising the "
        f"classifier, then block5, ..., down to block1 (at the right end every weight is the untrained "
        f"model's); {'one photo' if n_photos == 1 else f'mean of {n_photos} photos, full range shaded'}. "
        f"Dotted: ρ = {PASSES_BELOW}.",
    )


def _side(interval: dict, above: str, below: str, at: float = 0.0) -> str:
    """Which side of ``at`` a bootstrap interval lies on: ``above``, ``below``, ``"inconclusive"`` (it straddles
    ``at``), ``"one photo"`` (no interval) or ``"n/a"`` (no value)."""
    if interval["mean"] is None:
        return "n/a"
    if interval["n"] < 2:
        return "one photo"
    if interval["low"] > at:
        return above
    if interval["high"] < at:
        return below
    return "inconclusive"


def verdict(weights: str, deletion: str, insertion: str) -> str:
    """The table's verdict from the three tests (see the chapter's "How the verdict is chosen")."""
    if weights == "ignores the weights" or deletion == "slower than random":
        return "do not trust"
    if weights == "depends on the weights" and deletion == "faster than random" and insertion == "faster than random":
        return "trust"
    return "inconclusive"


def _row(m: dict, recs: list[dict], network: str) -> dict:
    recs = [r for r in recs if m["name"] in r["networks"][network]["auc"]]  # a separate method: its photos only
    auc = [r["networks"][network]["auc"] for r in recs]
    seeds = [k for k in auc[0] if k.startswith("random")]
    rand = {k: [float(np.mean([a[s][k] for s in seeds])) for a in auc] for k in ("deletion", "insertion")}
    own = {k: [a[m["name"]][k] for a in auc] for k in ("deletion", "insertion")}
    sobel = {k: [a["sobel"][k] for a in auc] for k in ("deletion", "insertion")}
    rho = mean_interval([r["rho"][m["name"]] for r in recs])
    gain_del = mean_interval([rd - o for rd, o in zip(rand["deletion"], own["deletion"])])
    gain_ins = mean_interval([o - rd for rd, o in zip(rand["insertion"], own["insertion"])])
    weights = weight_dependence(rho)
    deletion = _side(gain_del, "faster than random", "slower than random")
    insertion = _side(gain_ins, "faster than random", "slower than random")
    cascade = [r["cascade"].get(m["name"]) for r in recs]
    half = None
    if all(c is not None for c in cascade):
        means = np.nanmean(np.array([[np.nan if v is None else v for v in c] for c in cascade], float), axis=0)
        half = next((k for k, v in enumerate(means) if k > 0 and v < PASSES_BELOW), None)
    passes = recs[0]["networks"][network]["passes"].get(m["name"]) if recs else None
    return {
        **m,
        "rho": rho,
        "deletion": mean_interval(own["deletion"]),
        "insertion": mean_interval(own["insertion"]),
        "random": {k: float(np.mean(v)) for k, v in rand.items()},
        "sobel": {k: float(np.mean(v)) for k, v in sobel.items()},
        "beats_sobel": float(np.mean(own["deletion"])) < float(np.mean(sobel["deletion"])),
        "weights": weights,
        "deletion_vs_random": deletion,
        "insertion_vs_random": insertion,
        "verdict": verdict(weights, deletion, insertion),
        "cascade_step": half,
        "in_cascade": cascade[0] is not None,
        "passes": passes,
    }


def _smoothgrad_copies(rc: RenderContext) -> int:
    """How many noisy copies SmoothGrad averages in this profile (the saliency chapter's setting)."""
    from generator.chapters import registry

    tech = registry().get("saliency")
    return int(tech.settings_for(rc.profile.name).get("smoothgrad_n", 0)) if tech else 0


def render(rc: RenderContext, results) -> dict:
    recs = {i: results[(i, "trained")].records for i, _ in results if results[(i, "trained")].records.get("in_scope")}
    ids = [img.id for img in rc.images if img.id in recs]
    if not ids:
        return {"photos": [], "rows": []}
    first = rc.featured(ids)
    ids = [first] + [i for i in ids if i != first]  # the featured photo first: the grid and the curves show it
    methods = [m.as_dict() for m in every_method()]
    featured = rc.image(ids[0])
    res = results[(ids[0], "trained")]
    missing = [m for m in methods if f"trained/{m['name']}/map" not in res.arrays]
    grid_methods = [m for m in methods if m not in missing]
    groups = [g for g in GROUPS if any(m["group"] == g for m in grid_methods)]
    figures = {group_key(g): _grid(rc, featured, res, grid_methods, g) for g in groups}
    curves = _curve_plot(rc, featured, res, methods)
    cascade_plot = _cascade_plot(rc, [recs[i] for i in ids], methods, ["none", *STEPS])
    rows = [_row(m, [recs[i] for i in ids], "trained") for m in methods]
    untrained = [_row(m, [recs[i] for i in ids], "untrained") for m in methods]
    # A shared-pass method that reads SmoothGrad's noisy copies costs them on top of the shared pass.
    noisy = {m.name for m in every_method() if "smooth" in getattr(m, "uses", ())}
    copies = _smoothgrad_copies(rc)
    for row in rows + untrained:
        if row["name"] in noisy and not row["passes"] and copies:
            row["passes"] = f"the shared pass + {copies} noisy forward and backward passes"
    cascade_steps = ["none", *STEPS]
    first = recs[ids[0]]
    flat = float(np.mean([recs[i]["networks"]["trained"]["auc"]["random0"]["deletion"] for i in ids]))
    return {
        **rc.featured_fields(ids),
        "photos": [{"id": i, "title": rc.image(i).title} for i in ids],
        "separate_titles": [m.title for m in SEPARATE.values()],
        # the photos the methods with their own passes ran on (the featured one alone, unless ``full``)
        "separate_photos": [
            {"id": i, "title": rc.image(i).title}
            for i in ids
            if any(m["name"] in recs[i]["networks"]["trained"]["auc"] for m in methods if m["name"] in SEPARATE)
        ],
        "rows": rows,
        "untrained": untrained,
        "figures": figures,
        "curves": curves,
        "cascade_plot": cascade_plot,
        "cascade_separate": [m["title"] for m in methods if m["name"] in recs[ids[0]].get("cascade_separate", [])],
        "groups": [{"name": g, "key": group_key(g), "title": GROUP_TITLES[g]} for g in GROUPS],
        "target_label": first["target_label"],
        "steps": len(res.arrays[f"trained/{methods[0]['name']}/deletion"]) - 1,
        "ig_completeness": {
            n: float(np.mean([c for i in ids if (c := recs[i]["networks"][n]["ig_completeness"]) is not None]))
            for n in ("trained", "untrained")
        },
        "passes_below": PASSES_BELOW,
        "trained_label": rc.labels["trained"],
        "random_deletion": flat,
        "zero_biases": {n: all(recs[i]["networks"][n]["zero_biases"] for i in ids) for n in ("trained", "untrained")},
        "settings": rc.settings,
        "grid_missing": [m["title"] for m in missing],
        "cascade_steps": cascade_steps,
    }
