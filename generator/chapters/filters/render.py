"""Filter grids (first layer in colour, deeper kernels in greyscale) and the weight statistics plots."""

from __future__ import annotations

import numpy as np

from generator.models import CONV_LAYERS
from generator.render import (
    MODEL_COLOURS,
    RenderContext,
    display_scale,
    models_in,
    mosaic,
    new_figure,
    resize,
    to_uint8,
)

FIRST = CONV_LAYERS[0]
CHAPTER_LAYERS = ["block1_conv2", "block3_conv1", "block5_conv3"]


def rgb_grid(w: np.ndarray, px: int, cols: int = 8, gap: int = 2) -> np.ndarray:
    """``C_out × 3 × k × k`` weights -> one colour tile per filter (min-max scaled per filter), on a grid."""
    tiles = []
    for f in w:
        rgb = display_scale(np.transpose(f, (1, 2, 0)))  # k × k × 3, this filter's own range -> [0, 1]
        tiles.append(resize(to_uint8(rgb), px * f.shape[-1], nearest=True))
    return mosaic(tiles, cols=cols, gap=gap)


def grey_grid(w: np.ndarray, px: int, gap: int = 2) -> np.ndarray:
    """``N × M × k × k`` weights -> rows = filters, columns = input channels; grey 0.5 = zero weight.

    Each row (one filter) is scaled symmetrically around zero by its own largest magnitude.
    """
    tiles = []
    for f in w:
        scaled = display_scale(f, symmetric=True)
        for kernel in scaled:
            tiles.append(resize(to_uint8(kernel), px * kernel.shape[-1], nearest=True))
    return mosaic(tiles, cols=w.shape[1], gap=gap)


def _style(ax):
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def render(rc: RenderContext, results) -> dict:
    models = models_in(results)
    s = rc.settings
    figs: dict = {m: {} for m in models}
    for m in models:
        res = results[(None, m)]
        w1 = res.arrays[f"{FIRST}.weights"]
        figs[m][FIRST] = rc.png(
            rgb_grid(w1, s["px_rgb"]),
            model=m,
            layer=FIRST,
            kind="rgb",
            caption=f"`{FIRST}`, {rc.labels[m]}: all {w1.shape[0]} filters, each a {w1.shape[2]}×{w1.shape[3]} "
            f"kernel over red, green and blue shown as a tiny colour image (filter 0 top left, row by row). "
            f"Each filter is min-max scaled to its own range; one weight is one {s['px_rgb']}×{s['px_rgb']} "
            f"pixel square.",
        )
        for name in CONV_LAYERS[1:]:
            w = res.arrays[f"{name}.weights"]
            c_out, c_in = res.records["layers"][name]["shape"][:2]
            figs[m][name] = rc.png(
                grey_grid(w, s["px_grey"]),
                model=m,
                layer=name,
                kind="kernels",
                caption=f"`{name}`, {rc.labels[m]}: the first {w.shape[0]} of {c_out} filters (rows) × their "
                f"first {w.shape[1]} of {c_in} input channels (columns), one 3×3 kernel each. Mid-grey is "
                f"zero, white positive, black negative; each row is scaled by its own largest |weight|.",
            )

    layers = []
    for name in CONV_LAYERS:
        row = {"layer": name, "shape": results[(None, models[0])].records["layers"][name]["shape"]}
        for m in models:
            row[m] = results[(None, m)].records["layers"][name]
        layers.append(row)
    threshold = results[(None, models[0])].records["grey_threshold"]
    stats_plot = _stats_plot(rc, results, models)
    colour_plot = _colour_plot(rc, results, models, threshold)
    first = {m: results[(None, m)].records["layers"][FIRST] for m in models}
    deep = {
        m: float(np.mean([results[(None, m)].records["layers"][n]["smoothness"] for n in CONV_LAYERS[1:]]))
        for m in models
    }
    return {
        "models": models,
        "layers": layers,
        "first": first,
        "first_layer": FIRST,
        "chapter_layers": CHAPTER_LAYERS,
        "deep_layers": CONV_LAYERS[1:],
        "figures_by_model": figs,
        "stats_plot": stats_plot,
        "colour_plot": colour_plot,
        "grey_threshold": threshold,
        "deep_smoothness_mean": deep,
        "n_filters_shown": s["filters"],
        "n_inputs_shown": s["inputs"],
    }


def _short(layer: str) -> str:
    """block3_conv2 -> 3.2"""
    block, conv = layer.split("_")
    return f"{block[5:]}.{conv[4:]}"


def _stats_plot(rc, results, models):
    fig = new_figure(9, 3.3)
    axes = fig.subplots(1, 3)
    x = np.arange(len(CONV_LAYERS))
    # Each panel's axis spans at least a fixed range (``span``), wide enough for what trained filters
    # give: auto-zoomed to the data, a random network's sampling noise of 0.002 would fill the panel
    # and look like structure.
    panels = [
        ("smoothness", "neighbour correlation r", "Spatial smoothness", 0.0, (-0.1, 0.6)),
        ("mean_share", "energy share of the kernel mean", "Mean share", 1 / 9, (0.0, 0.5)),
        ("std_x_sqrt_fan_out", "weight std × √fan-out", "Weight scale", float(np.sqrt(2)), (0.0, 2.0)),
    ]
    for ax, (key, ylabel, title, ref, span) in zip(axes, panels):
        shown = list(span)
        for m in models:
            vals = [results[(None, m)].records["layers"][n][key] for n in CONV_LAYERS]
            ax.plot(x, vals, marker="o", ms=4, color=MODEL_COLOURS[m], label=rc.labels[m])
            shown += [v for v in vals if np.isfinite(v)]
        pad = 0.04 * (max(shown) - min(shown))
        ax.set_ylim(min(shown) - pad, max(shown) + pad)
        if ref is not None:
            ax.axhline(ref, color="0.3", ls="--", lw=1)
        ax.set_xticks(x, [_short(n) for n in CONV_LAYERS], fontsize=8, rotation=90)
        ax.set_xlabel("conv layer (block.conv)", fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
        ax.set_title(title, fontsize=10)
        _style(ax)
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=len(models), frameon=False, fontsize=9
    )
    return rc.mpl(
        fig,
        model="both",
        kind="statistics",
        caption="Per conv layer (3.2 is `block3_conv2`), for both models. Left: Pearson correlation "
        "between horizontally and vertically neighbouring weights inside each 3×3 kernel "
        "(dashed: 0, what independent random weights give). Middle: share of each kernel's energy "
        "in its mean (dashed: 1/9 for white noise). Right: standard deviation of the weights times "
        "√(output channels × 9), the fan-out (dashed: √2, where torchvision's Kaiming "
        "initialisation, mode fan-out, puts every layer). Each axis spans at least a fixed range, so that "
        "small sampling differences between random layers stay small on the plot.",
    )


def _colour_plot(rc, results, models, threshold):
    fig = new_figure(6, 3.0)
    ax = fig.subplots()
    for m in models:
        share = np.sort(results[(None, m)].arrays[f"{FIRST}.colour_share"])
        ax.plot(np.arange(1, len(share) + 1), share, marker="o", ms=3, lw=1, color=MODEL_COLOURS[m], label=rc.labels[m])
    ax.axhline(threshold, color="0.3", ls="--", lw=1)
    ax.text(1, threshold + 0.01, f"greyscale below {threshold:g}", fontsize=8, va="bottom")
    ax.axhline(2 / 3, color="0.6", ls=":", lw=1)
    ax.text(1, 2 / 3 + 0.01, "independent channels: 2/3", fontsize=8, va="bottom", color="0.4")
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"{FIRST} filters, sorted by colour share", fontsize=9)
    ax.set_ylabel("colour share", fontsize=9)
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    _style(ax)
    return rc.mpl(
        fig,
        model="both",
        layer=FIRST,
        kind="colour-share",
        caption=f"Colour share of each `{FIRST}` filter: the part of its energy that differs between "
        f"its red, green and blue kernels (0: the same kernel on all three channels, a pure "
        f"brightness filter). Filters below {threshold:g} count as greyscale.",
    )
