"""Saliency figures: gradient, SmoothGrad and guided backprop over the photo, trained vs untrained.

Also the drawing helpers the Grad-CAM and sanity-check renderers share
(overlay panels with a colour bar, percentile scaling).
"""

from __future__ import annotations

import numpy as np

from generator.render import models_in, new_figure, overlay, RenderContext

CMAP = "inferno"  # perceptually uniform, dark = no evidence, bright = strong evidence
SALIENCY_METHODS = [("gradient", "Gradient"), ("smoothgrad", "SmoothGrad"), ("guided", "Guided backprop")]


def clip_scale(m: np.ndarray, percentile: float) -> np.ndarray:
    """Scale a non-negative map to [0, 1] by its ``percentile``-th value, clipping above; flat -> zeros."""
    m = np.asarray(m, dtype=np.float32)
    top = float(np.percentile(m, percentile)) if m.size else 0.0
    if top <= 0:
        top = float(m.max()) if m.size else 0.0
    return np.zeros_like(m) if top <= 0 else np.clip(m / top, 0.0, 1.0)


def colourbar(fig, axes, label: str, cmap: str = CMAP):
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    cb = fig.colorbar(ScalarMappable(norm=Normalize(0, 1), cmap=cmap), ax=axes, shrink=0.8, pad=0.01, aspect=30)
    cb.set_label(label, fontsize=9)
    cb.ax.tick_params(labelsize=8)
    return cb


def overlay_grid(rows: list[tuple[str, list[np.ndarray]]], seen: np.ndarray, titles: list[str], *,
                 alpha: float, bar_label: str, show_photo: bool = True, panel: float = 2.0):
    """A figure: one row per (label, heat maps in [0, 1]); the photo first, then each map blended over it."""
    ncols = len(titles) + (1 if show_photo else 0)
    fig = new_figure(panel * ncols + 0.8, panel * len(rows) + 0.4)
    axes = np.atleast_2d(fig.subplots(len(rows), ncols, squeeze=False))
    for r, (label, heats) in enumerate(rows):
        c0 = 0
        if show_photo:
            axes[r, 0].imshow(seen, interpolation="nearest")
            axes[r, 0].set_ylabel(label, fontsize=9)
            c0 = 1
        for j, heat in enumerate(heats):
            axes[r, c0 + j].imshow(overlay(seen, heat, alpha=alpha, cmap=CMAP), interpolation="nearest")
            if not show_photo and j == 0:
                axes[r, 0].set_ylabel(label, fontsize=9)
    for j, t in enumerate((["photo (as the model saw it)"] if show_photo else []) + titles):
        axes[0, j].set_title(t, fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    colourbar(fig, axes, bar_label)
    return fig


def concentration(m: np.ndarray, top: float = 0.05) -> float:
    """Share of a map's total mass in its brightest ``top`` fraction of pixels (uniform map: = top)."""
    flat = np.sort(np.asarray(m, dtype=np.float64).ravel())[::-1]
    total = flat.sum()
    return float(flat[: max(1, int(round(top * flat.size)))].sum() / total) if total > 0 else 0.0


def roughness(m: np.ndarray) -> float:
    """Mean absolute difference between neighbouring pixels, relative to the map's mean (0 = perfectly smooth)."""
    m = np.asarray(m, dtype=np.float64)
    mean = m.mean()
    if mean <= 0:
        return 0.0
    d = np.abs(np.diff(m, axis=0)).mean() + np.abs(np.diff(m, axis=1)).mean()
    return float(d / 2 / mean)


def expected_note(img, target_label: str) -> str | None:
    """The credits' expected label when it differs from the class explained, else None."""
    c = img.credit
    if c and c.label and c.label != target_label:
        return c.label
    return None


def render(rc: RenderContext, results) -> dict:
    from generator.lib.attr import saliency_map

    s = rc.settings
    pct = s["clip_percentile"]
    alpha = s["alpha"]
    models = models_in(results)
    per_image = []
    stats = {m: {key: {k: [] for k, _ in SALIENCY_METHODS} for key in ("concentration", "roughness")} for m in models}
    for img in rc.images:
        rows = []
        res0 = results[(img.id, models[0])]
        target_label = res0.records["target_label"]
        for model in models:
            a = results[(img.id, model)].arrays
            maps = {"gradient": saliency_map(a["gradient"]), "smoothgrad": a["smoothgrad"].max(0),
                    "guided": saliency_map(a["guided"])}
            for key, _ in SALIENCY_METHODS:
                stats[model]["concentration"][key].append(concentration(maps[key]))
                stats[model]["roughness"][key].append(roughness(maps[key]))
            rows.append((rc.labels[model], [clip_scale(maps[k], pct) for k, _ in SALIENCY_METHODS]))
        rec = res0.records
        fig = overlay_grid(rows, img.seen, [t for _, t in SALIENCY_METHODS], alpha=alpha,
                           bar_label=f"|gradient| / its {pct:g}th percentile")
        note = expected_note(img, target_label)
        f = rc.mpl(fig, image=img.id, model="both", kind="saliency",
                   caption=(f"{img.title}: why class *{target_label}* (index {rec['target']}, the trained model's top-1; "
                            + (f"the credits expect *{note}*; " if note else "")
                            + f"the untrained model explains the same class). Top row trained, bottom row untrained. "
                            f"Gradient: max over colour of |∂S/∂x|. SmoothGrad: max over colour of |∂S/∂x| averaged "
                            f"over n = {rec['n']} noisy copies of the photo (noise σ = {rec['sigma_abs']:.3f}, that is "
                            f"{rec['sigma']:g} × the normalised input's range of {rec['sigma_abs'] / rec['sigma']:.2f}). "
                            f"Guided backprop: max over colour of |guided-backprop signal|, which is not ∂S/∂x: "
                            f"negative gradients are zeroed at every ReLU on the way back. Each map is scaled by its "
                            f"own {pct:g}th percentile and blended over the photo at {alpha:g} opacity."))
        per_image.append({"id": img.id, "title": img.title, "target": rec["target"], "target_label": target_label,
                          "expected": note, "figure": f,
                          "score": {m: results[(img.id, m)].records["score"] for m in models}})
    summary = []
    for key, title in SALIENCY_METHODS:
        row = {"method": key, "title": title}
        for m in models:
            row[f"concentration_{m}"] = float(np.mean(stats[m]["concentration"][key]))
            row[f"roughness_{m}"] = float(np.mean(stats[m]["roughness"][key]))
        summary.append(row)
    by = {r["method"]: r for r in summary}
    featured = rc.featured()
    r0 = results[(featured, models[0])].records
    return {
        **rc.featured_fields(),
        "images": per_image,
        "summary": summary,
        "by_method": by,
        "models": models,
        "n": r0["n"], "sigma": r0["sigma"], "sigma_abs": r0["sigma_abs"],
        "clip_percentile": pct,
        "n_images": len(rc.images),
        "smooth_ratio": {m: (by["smoothgrad"][f"roughness_{m}"] / by["gradient"][f"roughness_{m}"]
                             if by["gradient"][f"roughness_{m}"] > 0 else None) for m in models},
    }
