"""Before and after the ReLU: the maps of a few channels both ways, and the share each layer passes.

Per photo and shown layer, one figure with both networks: for each network a row of the channels'
outputs before the ReLU (a diverging map: blue negative, white zero, red positive, each channel scaled
by its largest magnitude) and a row of the same maps after it (``max(0, z)`` on that same scale, so
what the ReLU removed is simply gone). One plot of the share of each layer's outputs above zero.
"""

from __future__ import annotations

import numpy as np

from generator.models import CONV_LAYERS
from generator.render import MODEL_COLOURS, RenderContext, models_in, new_figure

from .compute import SHOWN

PASSED_HALF = 0.05
"""A layer whose share above zero is within this of 0.5 "passes half" of its values."""


def _short(layer: str) -> str:
    """block3_conv2 -> 3.2"""
    block, conv = layer.split("_")
    return f"{block[5:]}.{conv[4:]}"


def _maps_figure(rc: RenderContext, img, layer: str, results, models):
    k = len(results[(img.id, models[0])].arrays[f"{layer}.channels"])
    fig = new_figure(1.45 * k + 0.9, 1.55 * 2 * len(models) + 0.3)
    axes = np.asarray(fig.subplots(2 * len(models), k, squeeze=False))
    for i, m in enumerate(models):
        res = results[(img.id, m)]
        z = res.arrays[f"{layer}.z"].astype(np.float32)
        for j, c in enumerate(res.arrays[f"{layer}.channels"].tolist()):
            before, after = axes[2 * i, j], axes[2 * i + 1, j]
            before.imshow(z[j], cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
            after.imshow(np.maximum(z[j], 0), cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
            before.set_title(f"channel {c}", fontsize=8, color=MODEL_COLOURS[m])
        axes[2 * i, 0].set_ylabel(f"{rc.labels[m]}\nbefore", fontsize=8, color=MODEL_COLOURS[m])
        axes[2 * i + 1, 0].set_ylabel("after", fontsize=8, color=MODEL_COLOURS[m])
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    return rc.mpl(
        fig,
        image=img.id,
        model="both",
        layer=layer,
        kind="relu",
        caption=(
            f"{img.title}, `{layer}`: for each network the {k} channels whose outputs are nearest to half above "
            "zero, half below. Upper row: "
            "the conv layer's output before the ReLU (blue negative, white zero, red positive, each channel "
            "scaled by its largest magnitude). Lower row: the same map after the ReLU, on the same scale "
            "(dark: zero). Everything blue above is dark below."
        ),
    )


def _share_plot(rc: RenderContext, mean_positive: dict, models):
    fig = new_figure(6.5, 3.0)
    ax = fig.subplots()
    x = np.arange(len(CONV_LAYERS))
    for m in models:
        ax.plot(x, [mean_positive[m][n] for n in CONV_LAYERS], marker="o", ms=4, color=MODEL_COLOURS[m],
                label=rc.labels[m])  # fmt: skip
    ax.axhline(0.5, color="0.3", ls="--", lw=1)
    ax.set_ylim(0, 1)
    ax.set_xticks(x, [_short(n) for n in CONV_LAYERS], fontsize=8, rotation=90)
    ax.set_xlabel("conv layer (block.conv)", fontsize=9)
    ax.set_ylabel("share above zero", fontsize=9)
    ax.grid(alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(frameon=False, fontsize=8)
    return rc.mpl(
        fig,
        model="both",
        kind="passed",
        caption="Per conv layer (3.2 is `block3_conv2`), mean over the photos: the share of the layer's "
        "outputs that are above zero before the ReLU, which is the share the ReLU lets through (dashed: "
        "one half).",
    )


def render(rc: RenderContext, results) -> dict:
    models = models_in(results)
    ids = [i.id for i in rc.images if all((i.id, m) in results for m in models)]
    for img in (rc.image(i) for i in ids):
        for layer in SHOWN:
            _maps_figure(rc, img, layer, results, models)

    def mean(m: str, layer: str, key: str) -> float:
        return float(np.mean([results[(i, m)].records["layers"][layer][key] for i in ids]))

    positive = {m: {n: mean(m, n, "positive") for n in CONV_LAYERS} for m in models}
    rows = [
        {"layer": n} | {f"{key}_{m}": mean(m, n, key) for m in models for key in ("positive", "z_rms", "bias_rms")}
        for n in CONV_LAYERS
    ]
    near_half = {m: all(abs(positive[m][n] - 0.5) < PASSED_HALF for n in CONV_LAYERS) for m in models}
    zero_bias = {m: all(r[f"bias_rms_{m}"] == 0 for r in rows) for m in models}
    return {
        "models": models,
        "layers": rows,
        "shown": list(SHOWN),
        "share_plot": _share_plot(rc, positive, models) if ids else None,
        "near_half": near_half,
        "zero_bias": zero_bias,
        "passed_half": PASSED_HALF,
        "range": {m: [min(positive[m].values()), max(positive[m].values())] for m in models},
        **rc.featured_fields(ids),
    }
