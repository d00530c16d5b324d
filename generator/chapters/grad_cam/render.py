"""Grad-CAM figures: the five blocks side by side, guided Grad-CAM, and how the maps change with depth."""

from __future__ import annotations

import numpy as np

from generator.chapters.grad_cam import spec as out
from generator.chapters.saliency.spec import CAM_LAYERS, PRIMARY_CAM_LAYER
from generator.lib.methods import cam_methods
from generator.render import MODEL_COLOURS, RenderContext, layer_axis, models_in, new_figure
from generator.render.overlays import clip_scale, expected_note, overlay_grid


def method_panels(res, methods) -> list:
    """Each CAM method's map at the primary layer, as drawn: own-rule maps as they are (already in [0, 1]),
    maps built on other signals scaled by their 99th percentile."""
    return [
        out.CAM(m.name, PRIMARY_CAM_LAYER).read(res) if m.cam_rule else clip_scale(out.COMBINED(m.name).read(res), 99.0)
        for m in methods
    ]


def method_caption(methods) -> str:
    """What the per-photo CAM figure's panels are."""
    own = [m.title for m in methods if m.cam_rule]
    built = [m for m in methods if not m.cam_rule]
    each = "each " if len(own) > 1 else ""
    text = " and ".join(own) + f" at `{PRIMARY_CAM_LAYER}` ({each}scaled to [0, 1] by its own minimum and maximum)"
    for m in built:
        text += (
            f", {m.title} ({m.definition[0].lower() + m.definition[1:].rstrip('.')}; max |·| over colour, "
            f"scaled by its 99th percentile)"
        )
    return text


def _blocks_figure(rc, results, img, models, label, note, alpha):
    """Grad-CAM at the last conv of every block, one row per network."""
    rows = [(rc.labels[m], [out.CAM("grad_cam", layer).read(results[(img.id, m)]) for layer in CAM_LAYERS])
            for m in models]  # fmt: skip
    sizes = [results[(img.id, models[0])].records["layers"][lyr]["shape"] for lyr in CAM_LAYERS]
    titles = [f"{lyr}\n({h}×{w})" for lyr, (h, w) in zip(CAM_LAYERS, sizes)]
    fig = overlay_grid(rows, img.seen, titles, alpha=alpha, bar_label="Grad-CAM, scaled to its own maximum", panel=1.8)
    flat = {m: [lyr for lyr in CAM_LAYERS if results[(img.id, m)].records["layers"][lyr]["flat"]] for m in models}
    flat_note = "".join(f" All-zero (flat) maps, {m}: {', '.join(v)}." for m, v in flat.items() if v)
    return rc.mpl(
        fig,
        image=img.id,
        model="both",
        kind="grad-cam-blocks",
        caption=(
            f"{img.title}: Grad-CAM for *{label}* at the last conv layer of every block "
            + (f"(the credits expect *{note}*) " if note else "")
            + f"— top row trained, bottom row untrained. Each map (its h×w in the title) "
            f"is ReLU(Σₖ αₖ Aᵏ), upsampled bilinearly to the photo's size, then scaled to [0, 1] "
            f"by its own minimum and maximum, and blended over the photo at {alpha:g} "
            f"opacity.{flat_note}"
        ),
    )


def _methods_figure(rc, results, img, models, methods, label, alpha):
    """Every CAM method at the primary layer, one row per network."""
    rows = [(rc.labels[m], method_panels(results[(img.id, m)], methods)) for m in models]
    titles = [m.title + (f" ({PRIMARY_CAM_LAYER})" if m.cam_rule else "") for m in methods]
    fig = overlay_grid(
        rows, img.seen, titles, alpha=alpha, bar_label="scaled map (guided: by its 99th percentile)", panel=2.2
    )
    return rc.mpl(
        fig,
        image=img.id,
        model="both",
        kind="grad-cam",
        caption=f"{img.title}: {method_caption(methods)}, for *{label}*; top row trained, bottom row untrained.",
    )


def _expected_figure(rc, results, img, models, label, alpha):
    """Grad-CAM and the gradient for the top-1 and for the credits' class, when they differ (else None)."""
    rec_e = results[(img.id, models[0])].records.get("expected")
    if rec_e is None or not all(results[(img.id, m)].records.get("expected") for m in models):
        return None
    rows = []
    for m in models:
        res = results[(img.id, m)]
        rows.append((rc.labels[m], [out.CAM("grad_cam", PRIMARY_CAM_LAYER).read(res), out.EXPECTED_CAM.read(res),
                                    clip_scale(out.TARGET_SALIENCY.read(res), 99.0),
                                    clip_scale(out.EXPECTED_SALIENCY.read(res), 99.0)]))  # fmt: skip
    titles = [f"Grad-CAM: {label}", f"Grad-CAM: {rec_e['label']}", f"gradient: {label}", f"gradient: {rec_e['label']}"]
    fig = overlay_grid(
        rows, img.seen, titles, alpha=alpha, bar_label="scaled map (gradient: by its 99th percentile)", panel=2.0
    )
    flat_e = [rc.labels[m] for m in models if results[(img.id, m)].records["expected"]["flat"]]
    flat_note = (
        f" The expected class's Grad-CAM map is flat (no positive evidence) on the {' and the '.join(flat_e)} network."
        if flat_e
        else ""
    )
    return rc.mpl(
        fig,
        image=img.id,
        model="both",
        kind="grad-cam-expected",
        caption=(
            f"{img.title}: Grad-CAM at `{PRIMARY_CAM_LAYER}` and the vanilla gradient (max over "
            f"colour of |∂S/∂x|) for the trained model's top-1, *{label}*, and for the class the "
            f"credits expect, *{rec_e['label']}* (index {rec_e['index']}); top row trained, bottom "
            f"row untrained." + flat_note
        ),
    )


def _per_layer(results, ids, models, key) -> dict:
    """photos x layers of one Grad-CAM statistic, per network."""
    return {m: np.array([[results[(i, m)].records["layers"][lyr][key] for lyr in CAM_LAYERS] for i in ids])
            for m in models}  # fmt: skip


def _depth(rc, results, ids, models):
    """The depth plot (coverage and zeroed share per layer) and the per-layer table."""
    cov, zero = _per_layer(results, ids, models, "coverage"), _per_layer(results, ids, models, "zero_share")
    nflat = {m: v.sum(0).astype(int).tolist() for m, v in _per_layer(results, ids, models, "flat").items()}
    positive = _per_layer(results, ids, models, "positive_weights")
    fig = new_figure(8, 3.2)
    axes = fig.subplots(1, 2)
    x = np.arange(len(CAM_LAYERS))
    for ax, data, title in ((axes[0], cov, "area at ≥ half the peak"), (axes[1], zero, "positions where the map is 0")):
        for m in models:
            ax.plot(x, 100 * data[m].mean(0), marker="o", color=MODEL_COLOURS[m], label=rc.labels[m])
            ax.fill_between(x, 100 * data[m].min(0), 100 * data[m].max(0), color=MODEL_COLOURS[m], alpha=0.15)
        layer_axis(ax, x, CAM_LAYERS, title)
        ax.set_ylabel("% of the map", fontsize=9)
        ax.set_ylim(0, 100)
    axes[0].legend(frameon=False, fontsize=8)
    depth_fig = rc.mpl(
        fig,
        model="both",
        kind="grad-cam-depth",
        caption=f"How Grad-CAM changes with depth: the share of the image where the map is at least "
        f"half its peak (left) and where the ReLU zeroed it (right), per layer; mean over the "
        f"{len(ids)} photos, full range shaded.",
    )
    table = []
    for j, lyr in enumerate(CAM_LAYERS):
        row = {"layer": lyr, "shape": results[(ids[0], models[0])].records["layers"][lyr]["shape"]}
        for m in models:
            row[f"coverage_{m}"] = float(cov[m][:, j].mean())
            row[f"zero_{m}"] = float(zero[m][:, j].mean())
            row[f"flat_{m}"] = nflat[m][j]
            row[f"positive_{m}"] = float(np.mean(positive[m][:, j]))
        table.append(row)
    return depth_fig, table


def render(rc: RenderContext, results) -> dict:
    alpha = rc.settings["alpha"]
    models = models_in(results)
    methods = cam_methods()
    per_image = []
    for img in rc.images:
        label = results[(img.id, models[0])].records["target_label"]
        note = expected_note(img, label)
        blocks_fig = _blocks_figure(rc, results, img, models, label, note, alpha)
        main_fig = _methods_figure(rc, results, img, models, methods, label, alpha)
        expected_fig = _expected_figure(rc, results, img, models, label, alpha)
        per_image.append({"id": img.id, "title": img.title, "target_label": label, "expected": note,
                          "blocks": blocks_fig, "main": main_fig, "expected_fig": expected_fig,
                          "layers": {m: results[(img.id, m)].records["layers"] for m in models}})  # fmt: skip
    ids = [i.id for i in rc.images]
    depth_fig, table = _depth(rc, results, ids, models)
    return {"featured": rc.featured(), "images": per_image, "layers": table, "depth_plot": depth_fig,
            "models": models, "n_images": len(ids), "primary": PRIMARY_CAM_LAYER, "alpha": alpha}  # fmt: skip
