"""Class-model figures: a grid of class images per model and the score curves."""

from __future__ import annotations

import math
import textwrap

import numpy as np

from generator.render import MODEL_COLOURS, RenderContext, models_in, new_figure


def settings_text(s: dict) -> str:
    return (
        f"{s['steps']} steps, {s['size']}×{s['size']} px, step {s['lr']} × RMS-normalised gradient, "
        f"L2 weight λ = {s['l2']} (on the mean squared normalised pixel), jitter ±{s['jitter']} px every step, "
        f"Gaussian blur σ = {s['blur_sigma']} px every {s['blur_every']} steps"
    )


def _class_grid(rc: RenderContext, res, model: str, text: str) -> None:
    """One model's class images, five to a row, each titled with its class and final score."""
    rows = res.records["classes"]
    n = len(rows)
    cols = min(5, n)
    nr = math.ceil(n / cols)
    fig = new_figure(1.75 * cols, 2.05 * nr)
    axes = np.array(fig.subplots(nr, cols, squeeze=False)).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, im, row in zip(axes, res.arrays["images"], rows):
        ax.imshow(im, interpolation="nearest")
        label = textwrap.shorten(row["label"], 22, placeholder="…")
        ax.set_title(f"{label}\nscore {row['final']:.3g}", fontsize=8)
    rc.mpl(
        fig,
        model=model,
        kind="classes",
        caption=f"{rc.labels[model]}: one image per class, each maximising that class's pre-softmax score. {text}.",
    )


def _score_curves(rc: RenderContext, results, models: list[str], text: str):
    """Every class's score at every step, one panel per model."""
    fig = new_figure(8, 3.0)
    axes = np.atleast_1d(fig.subplots(1, len(models), sharey=False))
    for ax, m in zip(axes, models):
        h = results[(None, m)].arrays["history"]
        for i in range(h.shape[1]):
            ax.plot(h[:, i], color=MODEL_COLOURS[m], alpha=0.5, lw=1)
        ax.set_title(rc.labels[m], fontsize=10, color=MODEL_COLOURS[m])
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("target class score (logit)")
    return rc.mpl(
        fig,
        model="both",
        kind="scores",
        caption=f"The target class's score at every step, one line per class (on the jittered image). {text}.",
    )


def render(rc: RenderContext, results) -> dict:
    text = settings_text(rc.settings)
    models = models_in(results)
    classes = results[(None, models[0])].records["classes"]
    for m in models:
        _class_grid(rc, results[(None, m)], m, text)
    curves = _score_curves(rc, results, models, text)
    table = []
    for i, c in enumerate(classes):
        row = {"index": c["index"], "label": c["label"], "source": c["source"]}
        for m in models:
            r = results[(None, m)].records["classes"][i]
            row[m] = {k: r[k] for k in ("start", "final", "best_other", "best_other_label", "rank", "prob")}
        table.append(row)
    summary = {}
    for m in models:
        rows = results[(None, m)].records["classes"]
        summary[m] = {
            "mean_gain": float(np.mean([r["final"] - r["start"] for r in rows])),
            "top1": sum(1 for r in rows if r["rank"] == 1),
            "mean_margin": float(np.mean([r["final"] - r["best_other"] for r in rows])),
            "mean_prob": float(np.mean([r["prob"] for r in rows])),
        }
    return {
        "models": models,
        "table": table,
        "summary": summary,
        "n": len(classes),
        "settings_text": text,
        "curves": curves,
    }
