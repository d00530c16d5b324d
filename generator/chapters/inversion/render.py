"""Inversion figures: reconstructions per photo and model, and the quality-per-layer plot."""

from __future__ import annotations

import numpy as np

from generator.models import CONV_LAYERS
from generator.render import MODEL_COLOURS, RenderContext, layer_axis, models_in, new_figure
from generator.site.markup import number


def settings_text(s: dict) -> str:
    return (
        f"{s['steps']} steps of Adam, lr {s['lr']} falling geometrically to {s['lr_end']}, "
        f"{s['size']}×{s['size']} px, α-norm α = {s['alpha']:g} with λ_α = {s['lambda_alpha']:g}, "
        f"TV β = {s['beta']:g} with λ_TV growing with depth (0.05, 0.1, 0.3, 1, 3 for blocks 1–5"
        + ("" if s["tv_scale"] == 1 else f", each multiplied by this profile's TV scale of {s['tv_scale']:g}")
        + ")"
    )


def _reconstructions(rc, res, pid, model, layers, title, text) -> None:
    """One photo and its reconstruction from every layer, for one network."""
    n = len(layers) + 1
    cols = min(n, 7)
    nr = -(-n // cols)
    fig = new_figure(1.5 * cols, 1.75 * nr)
    axes = np.array(fig.subplots(nr, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    axes[0].imshow(res.arrays[f"{pid}.original"], interpolation="nearest")
    axes[0].set_title("photo", fontsize=8)
    rows = {r["layer"]: r for r in res.records["rows"] if r["photo"] == pid}
    for ax, layer in zip(axes[1:], layers):
        ax.imshow(res.arrays[f"{pid}.{layer}"], interpolation="nearest")
        ax.set_title(f"{layer}\nSSIM {number(rows[layer]['ssim'], 2)}", fontsize=8)
    rc.mpl(fig, image=pid, model=model, kind="reconstructions",
           caption=f"{title}, {rc.labels[model]}: the photo and its reconstructions from each layer's "
           f"features, with SSIM to the photo. {text}.")  # fmt: skip


def _quality_table(results, layers, models) -> list[dict]:
    """Per layer, each network's mean relative error, SSIM and PSNR over the photos."""
    table = []
    for layer in layers:
        row = {"layer": layer}
        for m in models:
            rs = [r for r in results[(None, m)].records["rows"] if r["layer"] == layer]
            for key in ("relative_error", "ssim", "psnr"):
                row[f"{key}_{m}"] = float(np.mean([r[key] for r in rs]))
        table.append(row)
    return table


def _quality_plot(rc, table, layers, models, n_photos, text):
    fig = new_figure(9, 3.2)
    axes = fig.subplots(1, 3)
    x = np.arange(len(layers))
    keys = ("relative_error", "ssim", "psnr")
    labels = ("feature-space relative error", "SSIM to the photo", "PSNR to the photo (dB)")
    for ax, key, label in zip(axes, keys, labels):
        for m in models:
            ax.plot(x, [r[f"{key}_{m}"] for r in table], marker="o", color=MODEL_COLOURS[m], label=rc.labels[m])
        layer_axis(ax, x, layers, label, rotation=60, tick_size=8, title_size=9)
    axes[0].legend(frameon=False, fontsize=8)
    return rc.mpl(fig, model="both", kind="quality",
                  caption=f"Reconstruction quality per layer, mean over the {n_photos} photos: how far the "
                  f"reconstruction's features are from the photo's (left, lower is closer), and how much it "
                  f"resembles the photo (SSIM, PSNR; higher is closer). {text}.")  # fmt: skip


def render(rc: RenderContext, results) -> dict:
    models = models_in(results)
    text = settings_text(rc.settings)
    rec0 = results[(None, models[0])].records
    photos, layers = rec0["photos"], rec0["layers"]
    titles = {p: rc.image(p).title for p in photos}
    for pid in photos:
        for m in models:
            _reconstructions(rc, results[(None, m)], pid, m, layers, titles[pid], text)
    table = _quality_table(results, layers, models)
    plot = _quality_plot(rc, table, layers, models, len(photos), text)
    deep = [r for r in table if r["layer"] in layers[len(layers) // 2 :]]
    summary = {m: {"ssim_first": table[0][f"ssim_{m}"], "ssim_last": table[-1][f"ssim_{m}"],
                   "psnr_first": table[0][f"psnr_{m}"], "psnr_last": table[-1][f"psnr_{m}"],
                   "ssim_deep": float(np.mean([r[f"ssim_{m}"] for r in deep])),
                   "err_last": table[-1][f"relative_error_{m}"]} for m in models}  # fmt: skip
    wins = {m: sum(1 for r in table if all(r[f"ssim_{m}"] >= r[f"ssim_{o}"] for o in models)) for m in models}
    return {"models": models, "photos": [{"id": p, "title": titles[p]} for p in photos], "layers": layers,
            "table": table, "plot": plot, "summary": summary, "wins": wins, "settings_text": text,
            "all_layers": layers == CONV_LAYERS}  # fmt: skip
