"""Saliency figures: every gradient-family method over the photo, trained vs untrained."""

from __future__ import annotations

import numpy as np

from generator.lib.methods import family
from generator.render import RenderContext, models_in
from generator.render.overlays import clip_scale, expected_note, overlay_grid


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


def _photo_figure(rc, img, rows, rec, methods, target_label):
    """One photo's maps, one row per network, with the caption that states the settings."""
    pct, alpha = rc.settings["clip_percentile"], rc.settings["alpha"]
    fig = overlay_grid(rows, img.seen, [m.title for m in methods.values()], alpha=alpha,
                       bar_label=f"map / its {pct:g}th percentile")  # fmt: skip
    note = expected_note(img, target_label)
    caption = (
        f"{img.title}: why class *{target_label}* (index {rec['target']}, the trained model's top-1; "
        + (f"the credits expect *{note}*; " if note else "")
        + f"the untrained model explains the same class). Top row trained, bottom row untrained. "
        f"Gradient: max over colour of |∂S/∂x|. SmoothGrad: max over colour of |∂S/∂x| averaged "
        f"over n = {rec['n']} noisy copies of the photo (noise σ = {rec['sigma_abs']:.3f}, that is "
        f"{rec['sigma']:g} × the normalised input's range of {rec['sigma_abs'] / rec['sigma']:.2f}). "
        f"Gradient × input: |Σ over colour of x · ∂S/∂x|, x the normalised photo. "
        f"Guided backprop: max over colour of |guided-backprop signal|, which is not ∂S/∂x: "
        f"negative gradients are zeroed at every ReLU on the way back. DeconvNet: the same with the "
        f"forward pass ignored at the ReLUs (only negative signals are zeroed). Each map is scaled by its "
        f"own {pct:g}th percentile and blended over the photo at {alpha:g} opacity."
    )
    return rc.mpl(fig, image=img.id, model="both", kind="saliency", caption=caption), note


def _summary(stats, methods, models) -> list[dict]:
    """Per method, the mean concentration and roughness over the photos, per network."""
    summary = []
    for key, method in methods.items():
        row = {"method": key, "title": method.title}
        for m in models:
            row[f"concentration_{m}"] = float(np.mean(stats[m]["concentration"][key]))
            row[f"roughness_{m}"] = float(np.mean(stats[m]["roughness"][key]))
        summary.append(row)
    return summary


def render(rc: RenderContext, results) -> dict:
    from generator.chapters.saliency.compute import method_maps

    pct = rc.settings["clip_percentile"]
    models = models_in(results)
    per_image = []
    methods = {m.name: m for m in family("gradient")}
    stats = {m: {key: {k: [] for k in methods} for key in ("concentration", "roughness")} for m in models}
    for img in rc.images:
        rows = []
        rec = results[(img.id, models[0])].records
        for model in models:
            maps = method_maps(results[(img.id, model)], img.seen.shape[:2], methods)
            for key in methods:
                stats[model]["concentration"][key].append(concentration(maps[key]))
                stats[model]["roughness"][key].append(roughness(maps[key]))
            rows.append((rc.labels[model], [clip_scale(maps[k], pct) for k in methods]))
        f, note = _photo_figure(rc, img, rows, rec, methods, rec["target_label"])
        per_image.append({"id": img.id, "title": img.title, "target": rec["target"],
                          "target_label": rec["target_label"], "expected": note, "figure": f,
                          "score": {m: results[(img.id, m)].records["score"] for m in models}})  # fmt: skip
    summary = _summary(stats, methods, models)
    by = {r["method"]: r for r in summary}
    r0 = results[(rc.featured(), models[0])].records
    smooth_ratio = {m: (by["smoothgrad"][f"roughness_{m}"] / by["gradient"][f"roughness_{m}"]
                        if by["gradient"][f"roughness_{m}"] > 0 else None) for m in models}  # fmt: skip
    return {**rc.featured_fields(), "images": per_image, "summary": summary, "by_method": by, "models": models,
            "n": r0["n"], "sigma": r0["sigma"], "sigma_abs": r0["sigma_abs"], "clip_percentile": pct,
            "n_images": len(rc.images), "smooth_ratio": smooth_ratio}  # fmt: skip
