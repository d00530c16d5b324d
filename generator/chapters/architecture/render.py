"""A block diagram of VGG16 and a receptive-field plot, both drawn from the layer table."""

from __future__ import annotations

import math

import numpy as np

from generator.render import FULL_WIDTH_IN, RenderContext, new_figure

KIND_COLOURS = {"conv": "#4c78a8", "pool": "#e45756", "dense": "#9d9d9d"}


def _kind(name: str) -> str:
    return "conv" if "_conv" in name else "pool" if name.endswith("_pool") else "dense"


def _box(row: dict, kind: str, max_side: float) -> tuple[float, float]:
    """A layer's box in the diagram, (height, width): height grows with the map's side (log scale), width
    with its channels; dense layers by their units."""
    if kind == "dense":
        return 0.3 + 0.5 * math.log2(row["shape"][0] / 1000) / math.log2(4096 / 1000), 0.12
    c, h, _ = row["shape"]
    return 0.22 + 0.78 * math.log2(h / 7) / max_side, (0.1 + 0.06 * math.log2(c / 64)) if kind == "conv" else 0.06


def _legend(ax) -> None:
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color=KIND_COLOURS["conv"], label="conv 3×3 + ReLU (width: channels)"),
            Patch(color=KIND_COLOURS["pool"], label="max-pool 2×2 (halves height and width)"),
            Patch(color=KIND_COLOURS["dense"], label="dense layer"),
        ],
        loc="lower right",
        frameon=False,
        fontsize=8,
        ncols=3,
        bbox_to_anchor=(1.0, -0.02),
    )


def _diagram(rc: RenderContext, rows: list[dict], input_size: int):
    from matplotlib.patches import Rectangle

    fig = new_figure(FULL_WIDTH_IN, 3.8)
    ax = fig.subplots()
    x = 0.0
    gap = 0.08
    max_side = math.log2(input_size / 7)
    label_y = -0.08
    ax.add_patch(Rectangle((x, -0.5), 0.12, 1.0, color="#f2a541"))
    ax.text(
        x + 0.06, label_y - 0.5, f"input 3×{input_size}×{input_size}", rotation=60, ha="right", va="top", fontsize=8
    )
    x += 0.12 + 2 * gap
    block_start = None
    for row in rows:
        name, kind = row["name"], _kind(row["name"])
        height, width = _box(row, kind, max_side)
        if block_start is None and kind != "dense":
            block_start = x
        ax.add_patch(Rectangle((x, -height / 2), width, height, color=KIND_COLOURS[kind], lw=0))
        ax.text(x + width / 2, -0.55, name, rotation=60, ha="right", va="top", fontsize=8)
        if kind == "pool":
            c, h, w = row["shape"]
            ax.text(
                (block_start + x + width) / 2,
                0.56,
                f"{name.split('_')[0]}\n→ {c}×{h}×{w}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
            block_start = None
            x += width + 3 * gap
        else:
            x += width + gap
    ax.set_xlim(-0.05, x + 0.05)
    ax.set_ylim(-1.3, 0.85)
    ax.set_aspect("auto")
    ax.set_axis_off()
    _legend(ax)
    return rc.mpl(
        fig,
        kind="diagram",
        caption=f"VGG16 drawn from its own layer table for a {input_size}×{input_size} input: one box "
        f"per layer, its height growing with the map's height and width (log scale, "
        f"{input_size} down to 7) and its width with the number of channels (64 to 512). "
        f"Above each block: the shape of its output.",
    )


def _receptive(rc: RenderContext, rows: list[dict], input_size: int):
    feats = [r for r in rows if _kind(r["name"]) != "dense"]
    fig = new_figure(8, 3.2)
    ax = fig.subplots()
    x = np.arange(len(feats))
    rf = [r["receptive_field"] for r in feats]
    side = [r["shape"][1] for r in feats]
    ax.plot(x, rf, marker="o", color="#4c78a8", label="receptive field (input pixels)")
    ax.plot(x, side, marker="s", color="#e45756", label="map height and width")
    ax.axhline(input_size, color="0.3", ls="--", lw=1)
    ax.text(0, input_size + 4, f"input: {input_size} px", fontsize=8, va="bottom")
    for xi, v in zip(x, rf):
        ax.text(xi, v + 5, str(v), ha="center", va="bottom", fontsize=8, color="#4c78a8")
    ax.set_xticks(x, [r["name"] for r in feats], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("pixels")
    ax.set_ylim(0, input_size * 1.15)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(0.1, 0.8))
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)
    return rc.mpl(
        fig,
        kind="receptive-field",
        caption="How much of the input one output pixel of each layer can see (its receptive field, "
        "computed from the kernel sizes and strides), against the height and width of the layer's "
        "map. The field grows by 2 × the current stride with every 3×3 conv, while pooling "
        "halves the map.",
    )


def render(rc: RenderContext, results) -> dict:
    ((key, res),) = [(k, v) for k, v in results.items()]
    rec = res.records
    rows = rec["rows"]
    diagram = _diagram(rc, rows, rec["input_size"])
    rf_plot = _receptive(rc, rows, rec["input_size"])
    t = rec["totals"]
    return {
        **rec,
        "diagram": diagram,
        "rf_plot": rf_plot,
        "fc1_share": next(r["params"] for r in rows if r["name"] == "fc1") / t["params"],
        "dense_share": t["dense_params"] / t["params"],
        "conv_mac_share": t["conv_macs"] / t["macs"],
        "block5_rf": next(r["receptive_field"] for r in rows if r["name"] == "block5_conv3"),
        "block1_rf": next(r["receptive_field"] for r in rows if r["name"] == "block1_conv2"),
    }
