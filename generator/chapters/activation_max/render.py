"""Activation-maximisation figures: per-layer strips, overview grids, the naive comparison, objective curves."""

from __future__ import annotations

import numpy as np

from generator.chapters.activation_max.spec import IMAGES
from generator.render import MODEL_COLOURS, RenderContext, models_in, new_figure


def settings_text(s: dict) -> str:
    return (
        f"{s['steps']} steps of Adam at lr {s['lr']}, {s['size']}×{s['size']} px, Fourier parameterisation "
        f"(1/f, init sd 0.01) with decorrelated colour, transformations pad 12 → jitter 8 → scale 0.9–1.1 → "
        f"rotate ±10° → jitter 4, ReLU skipped for the first {s['relu_warmup']} steps"
    )


def naive_text(s: dict) -> str:
    return (
        f"{s['steps']} steps of pixel-space gradient ascent (step {s['naive_lr']} × RMS-normalised gradient), "
        f"{s['size']}×{s['size']} px, no parameterisation, no transformations, no regulariser"
    )


def _strip(images: np.ndarray, titles: list[str], width_per: float = 1.6):
    n = len(images)
    fig = new_figure(width_per * n, width_per + 0.35)
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, im, t in zip(axes, images, titles):
        ax.imshow(im, interpolation="nearest")
        ax.set_title(t, fontsize=9)
        ax.set_axis_off()
    return fig


def render(rc: RenderContext, results) -> dict:
    s = rc.settings
    models = models_in(results)
    any_res = results[(None, models[0])]
    layers = any_res.records["layer_names"]
    text = settings_text(s)
    table = []
    for layer in layers:
        row = {"layer": layer}
        for m in models:
            info = results[(None, m)].records["layers"][layer]
            ch = info["channels"]
            rc.mpl(
                _strip(IMAGES(layer).read(results[(None, m)]), [f"filter {c}" for c in ch]),
                model=m,
                layer=layer,
                kind="filters",
                caption=f"`{layer}`, {rc.labels[m]}: the {len(ch)} of {info['out_channels']} filters with the "
                f"largest mean activation over the photos (filters {', '.join(map(str, ch))}). {text}.",
            )
            row[f"channels_{m}"] = ch
            row[f"final_{m}"] = float(np.mean(info["final"]))
            row[f"photo_{m}"] = float(np.mean(info["photo_mean"]))
            nk = len(info.get("naive_final", []))
            row[f"naive_{m}"] = float(np.mean(info["naive_final"])) if nk else None
            row[f"ours_same_{m}"] = float(np.mean(info["final"][:nk])) if nk else None
            row[f"gain_{m}"] = float(np.mean(info["final"])) / max(float(np.mean(info["photo_mean"])), 1e-12)
        table.append(row)
    for m in models:
        _overview(rc, results[(None, m)], m, layers, text)
        if f"{layers[0]}.naive" in results[(None, m)].arrays:
            _naive(rc, results[(None, m)], m, layers, s)
    curves = _curves(rc, results, models, layers, s)
    shape = {
        m: {
            layer: curve_shape(results[(None, m)].arrays[f"{layer}.history"].mean(1), s["relu_warmup"])
            for layer in layers
        }
        for m in models
    }
    naive_wins = {
        m: sum(1 for r in table if r[f"naive_{m}"] is not None and r[f"naive_{m}"] > r[f"ours_same_{m}"])
        for m in models
    }
    return {
        "dream": _dream_figure(rc, results, models),
        "layers": layers,
        "models": models,
        "table": table,
        "settings_text": text,
        "featured": rc.featured(),
        "naive_text": naive_text(s),
        "curves": curves,
        "curve_shape": shape,
        "settings": s,
        "naive_wins": naive_wins,
        "has_naive": all(f"{layers[0]}.naive" in results[(None, m)].arrays for m in models),
    }


def _overview(rc, res, model, layers, text):
    k = len(res.records["layers"][layers[0]]["channels"])
    fig = new_figure(1.45 * k + 0.8, 1.45 * len(layers))
    axes = np.array(fig.subplots(len(layers), k, squeeze=False))
    for r, layer in enumerate(layers):
        ch = res.records["layers"][layer]["channels"]
        for c in range(k):
            _cell(axes[r, c], IMAGES(layer).read(res)[c], f"#{ch[c]}", layer if c == 0 else None)
    rc.mpl(
        fig,
        model=model,
        kind="overview",
        caption=f"{rc.labels[model]}: one row per block (its last conv layer), the filters the photos "
        f"excite most, left to right by mean activation. {text}.",
    )


def _dream_figure(rc: RenderContext, results, models: list[str]) -> dict:
    """The featured photo and what DeepDream made of it on each network; the objective's rise."""
    rec = {m: results[(None, m)].records["dream"] for m in models}
    img = rc.image(rec[models[0]]["photo"])
    s = rc.settings
    fig = new_figure(2.4 * (1 + len(models)), 2.7)
    axes = np.atleast_1d(fig.subplots(1, 1 + len(models)))
    axes[0].imshow(img.seen, interpolation="nearest")
    axes[0].set_title("photo (as the model saw it)", fontsize=9)
    for ax, m in zip(axes[1:], models):
        ax.imshow(results[(None, m)].arrays["dream.image"], interpolation="nearest")
        ax.set_title(f"{rc.labels[m]}: ×{rec[m]['final'] / max(rec[m]['start'], 1e-12):.1f}", fontsize=9)
    for ax in axes:
        ax.set_axis_off()
    figure = rc.mpl(
        fig,
        image=img.id,
        model="both",
        kind="deep-dream",
        caption=f"{img.title}: DeepDream amplifying `{s['dream_layer']}` ({s['dream_octaves']} octaves, each "
        f"{s['dream_octave_scale']}× larger than the last, {s['dream_steps']} normalised gradient steps of "
        f"{s['dream_lr']} per octave). Titles: how many times the layer's objective (half its mean squared "
        f"activation) grew.",
    )
    gain = {m: rec[m]["final"] / max(rec[m]["start"], 1e-12) for m in models}
    return {"figure": figure, "gain": gain, "photo_title": img.title}


def _cell(ax, image: np.ndarray, title: str, row_label: str | None) -> None:
    """One optimised image in a grid: no ticks, its filter above, the layer to the left of a row's first."""
    ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8, pad=2)
    if row_label is not None:
        ax.set_ylabel(row_label, fontsize=8)


def _naive(rc, res, model, layers, s):
    per = len(res.arrays[f"{layers[0]}.naive"])
    fig = new_figure(1.5 * 2 * per + 0.8, 1.5 * len(layers) + 0.3)
    axes = np.array(fig.subplots(len(layers), 2 * per, squeeze=False))
    for r, layer in enumerate(layers):
        ch = res.records["layers"][layer]["channels"]
        shown = (("naive", res.arrays[f"{layer}.naive"]), ("ours", IMAGES(layer).read(res)))
        for j in range(per):
            for q, (name, images) in enumerate(shown):
                _cell(axes[r, 2 * j + q], images[j], f"#{ch[j]} {name}", layer if j == 0 and q == 0 else None)
    rc.mpl(
        fig,
        model=model,
        kind="naive-vs-fourier",
        caption=f"{rc.labels[model]}, the same filters optimised two ways. *Naive*: {naive_text(s)}. "
        f"*Ours*: {settings_text(s)}.",
    )


def curve_shape(history, warmup: int) -> dict:
    """How an objective curve rose after the ReLU warm-up, in shares of its whole rise.

    ``early``: the share of the rise (from the end of the warm-up to the last step)
    made in the first quarter of the remaining steps; ``late``: the share made in the
    last quarter. ``rise``: the whole rise (negative if the objective fell);
    ``steps``: the steps after the warm-up. Fewer than 8 are too few to judge
    (``early`` and ``late`` are then None), and so is a curve that did not rise.

    The objective is measured on a randomly transformed image, so single steps are
    noisy. Each of the four points the shares use is therefore the value at that step
    of a straight line fitted to the steps around it (a quarter of a quarter either
    side, cut at the ends of the curve): exact on a straight curve, and far steadier
    than one step.
    """
    h = np.asarray(history, dtype=np.float64)
    start = min(max(int(warmup), 0), len(h) - 1)
    last = len(h) - 1
    rest = last - start
    quarter = max(rest // 4, 1)
    half = max(quarter // 4, 1)

    def level(i: int) -> float:
        lo, hi = max(i - half, start), min(i + half, last)
        t = np.arange(lo, hi + 1, dtype=np.float64)
        if len(t) < 2:
            return float(h[i])
        slope, icept = np.polyfit(t, h[lo : hi + 1], 1)
        return float(slope * i + icept)

    if rest < 8:
        return {"rise": float(h[-1] - h[start]), "steps": rest, "early": None, "late": None}
    first, end = level(start), level(last)
    rise = end - first
    if rise <= 0:
        return {"rise": rise, "steps": rest, "early": None, "late": None}
    return {
        "rise": rise,
        "steps": rest,
        "early": (level(start + quarter) - first) / rise,
        "late": (end - level(last - quarter)) / rise,
    }


def _curves(rc, results, models, layers, s):
    fig = new_figure(8, 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(models), sharey=False))
    for ax, m in zip(axes, models):
        res = results[(None, m)]
        for i, layer in enumerate(layers):
            h = res.arrays[f"{layer}.history"].mean(1)
            # Each layer's curve over its own largest value: layers differ in scale by orders of
            # magnitude, and the shape (steep start, flattening) is what the plot is for.
            h = h / max(float(np.abs(h).max()), 1e-12)
            ax.plot(np.arange(len(h)), h, label=layer, color=f"C{i}")
        ax.axvline(s["relu_warmup"], color="0.5", lw=0.8, ls="--")
        ax.set_title(rc.labels[m], fontsize=10, color=MODEL_COLOURS[m])
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("objective / its largest value")
    axes[0].legend(frameon=False, fontsize=8)
    return rc.mpl(
        fig,
        model="both",
        kind="objective",
        caption=f"The objective (mean activation of the target channel, averaged over a layer's filters, "
        f"measured on the transformed image) at every step, each layer's curve divided by its "
        f"largest value so that their shapes compare (the table gives the values). Dashed: end of "
        f"the ReLU warm-up "
        f"(step {s['relu_warmup']}). {settings_text(s)}.",
    )
