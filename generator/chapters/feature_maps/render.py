"""Feature-map grids, block aggregates and the sparsity / similarity plots."""

from __future__ import annotations

import math

import numpy as np

from generator.models import BLOCKS, CONV_LAYERS, FEATURE_LAYERS
from generator.render import (
    MODEL_COLOURS,
    RenderContext,
    colormap,
    display_scale,
    models_in,
    mosaic,
    new_figure,
    palette_for,
    resize,
    to_indices,
    to_uint8,
)

CHAPTER_LAYERS = ["block1_conv1", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]


def _grid(result, layer: str, which: str, tile: int) -> tuple[np.ndarray, list[int]]:
    """Grid of palette indices (viridis) of the chosen maps, each scaled to its own peak.

    Maps are resized as values (nearest neighbour up, box filter down) and coloured
    after, so a downscaled map never blends colours that are not on the colour map.
    """
    channels = result.arrays[f"{layer}.channels"].tolist()
    chosen = result.arrays[f"{layer}.{which}"].tolist()
    maps = result.arrays[f"{layer}.maps"].astype(np.float32)
    tiles = [to_indices(resize(maps[channels.index(c)], tile)) for c in chosen]
    return mosaic(tiles, cols=math.ceil(math.sqrt(len(tiles))), indices=True), chosen


def _channel_list(chosen: list[int]) -> str:
    shown = ", ".join(str(c) for c in chosen[:8])
    return shown + (", …" if len(chosen) > 8 else "")


def render(rc: RenderContext, results) -> dict:
    tile = rc.profile.tile
    palette = palette_for("viridis")
    models = models_in(results)
    for img in rc.images:
        for model in models:
            res = results[(img.id, model)]
            for layer in FEATURE_LAYERS:
                c, h, w = res.records["layers"][layer]["shape"]
                for which, label in (("top", "top-k"), ("first", "first-k")):
                    grid, chosen = _grid(res, layer, which, tile)
                    what = (
                        f"the {len(chosen)} of {c} maps with the largest total activation"
                        if which == "top"
                        else f"the first {len(chosen)} of {c} maps"
                    )
                    rc.png(
                        grid,
                        image=img.id,
                        model=model,
                        layer=layer,
                        kind=label,
                        palette=palette,
                        caption=f"`{layer}`, {rc.labels[model]}: {what} ({h}×{w} each; "
                        f"channels {_channel_list(chosen)}). Each map is scaled to its own peak.",
                    )
            _aggregate_strip(rc, img, model, res)
    records = _summaries(rc, results, models)
    return records


def _font(px: int):
    """DejaVu Sans (shipped with matplotlib, so every machine draws the same pixels)."""
    from matplotlib import font_manager
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont("DejaVu Sans", fallback_to_default=True), px)


def _aggregate_strip(rc, img, model, res) -> None:
    """The input and the five block aggregates, titled, on two rows of three (drawn with PIL: ~50x faster
    than a matplotlib figure, and byte-identical on rerun)."""
    from PIL import Image, ImageDraw

    panel = round(1.75 * rc.profile.tile)
    # 11 px text at the least, on two rows of three panels: narrow enough for half the column at 1280 px
    gap, font_px, cols = max(4, panel // 20), max(11, panel // 12), 3
    head = 2 * font_px + font_px // 2 + 4
    panels = [resize(to_uint8(img.seen), panel)]
    titles = [("input", f"{img.seen.shape[0]}×{img.seen.shape[1]} pixels")]
    for block in BLOCKS:
        agg = res.arrays[f"{block}.aggregate"].astype(np.float32)
        panels.append(colormap(display_scale(resize(agg, panel))))
        info = res.records["blocks"][block]
        titles.append((f"{block}_pool", f"{info['channels']} maps, {agg.shape[0]}×{agg.shape[1]}"))
    rows = -(-len(panels) // cols)
    width = cols * panel + (cols - 1) * gap
    canvas = Image.new("RGB", (width, rows * (head + panel) + (rows - 1) * gap), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = _font(font_px)
    for i, (arr, (t1, t2)) in enumerate(zip(panels, titles)):
        x, y = (i % cols) * (panel + gap), (i // cols) * (head + panel + gap)
        canvas.paste(Image.fromarray(np.ascontiguousarray(arr)), (x + (panel - arr.shape[1]) // 2, y + head))
        for line, text in enumerate((t1, t2)):
            w = draw.textlength(text, font=font)
            draw.text(
                (x + (panel - w) / 2, y + 2 + line * (font_px + font_px // 4)), text, fill=(40, 40, 40), font=font
            )
    rc.png(
        np.asarray(canvas),
        image=img.id,
        model=model,
        layer=None,
        kind="aggregates",
        text_px=font_px,
        caption=f"{img.title}, {rc.labels[model]}: the sum of all maps of each block output, "
        f"scaled to [0, 1] (viridis: dark low, yellow high).",
    )


def _sparsity_plot(rc, sparsity, models, n_photos):
    """Share of zero activations per layer, mean over the photos with the range shaded."""
    fig = new_figure(8, 3.4)
    ax = fig.subplots()
    x = np.arange(len(FEATURE_LAYERS))
    for m in models:
        ax.plot(x, 100 * sparsity[m].mean(0), marker="o", color=MODEL_COLOURS[m], label=rc.labels[m])
        ax.fill_between(x, 100 * sparsity[m].min(0), 100 * sparsity[m].max(0), color=MODEL_COLOURS[m], alpha=0.15)
    ax.set_xticks(x, FEATURE_LAYERS, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("zero activations (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return rc.mpl(fig, model="both", kind="sparsity",
                  caption=f"Share of activations that are exactly zero after the ReLU, per layer: mean over "
                  f"the {n_photos} photos, band from the lowest to the highest photo.")  # fmt: skip


def _similarity_plot(rc, corr, models):
    """Each block aggregate's correlation with the input's edges and brightness."""
    fig = new_figure(8, 3.2)
    axes = fig.subplots(1, 2, sharey=True)
    xb = np.arange(len(BLOCKS))
    keys = ("corr_edges", "corr_luminance")
    for ax, key, title in zip(axes, keys, ("with the input's edges", "with the input's brightness")):
        for m in models:
            vals = corr[m][key]
            ax.plot(xb, vals.mean(0), marker="o", color=MODEL_COLOURS[m], label=rc.labels[m])
            ax.fill_between(xb, vals.min(0), vals.max(0), color=MODEL_COLOURS[m], alpha=0.15)
        ax.set_xticks(xb, [f"{b}_pool" for b in BLOCKS], rotation=30, ha="right", fontsize=8)
        ax.set_title(f"correlation {title}", fontsize=10)
        ax.axhline(0, color="0.5", lw=0.8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Pearson r")
    axes[0].legend(frameon=False, fontsize=8)
    return rc.mpl(fig, model="both", kind="aggregate-similarity",
                  caption="Pearson correlation between each block aggregate (upsampled to the input size) and "
                  "the input's Sobel edge magnitude (left) or brightness (right); mean over the photos "
                  "with the full range shaded.")  # fmt: skip


def _summaries(rc, results, models) -> dict:
    ids = [i.id for i in rc.images]

    def per_layer(key):
        return {m: np.array([[results[(i, m)].records["layers"][lyr][key] for lyr in FEATURE_LAYERS] for i in ids])
                for m in models}  # fmt: skip

    sparsity, dead = per_layer("sparsity"), per_layer("dead_channels")
    corr = {m: {key: np.array([[results[(i, m)].records["blocks"][b][key] for b in BLOCKS] for i in ids])
                for key in ("corr_edges", "corr_luminance")} for m in models}  # fmt: skip
    sp_fig = _sparsity_plot(rc, sparsity, models, len(ids))
    sim_fig = _similarity_plot(rc, corr, models)
    shapes = results[(ids[0], models[0])].records["layers"]
    table = [{"layer": layer, "shape": shapes[layer]["shape"],
              **{f"sparsity_{m}": float(sparsity[m][:, j].mean()) for m in models},
              **{f"dead_{m}": float(dead[m][:, j].mean()) for m in models}}
             for j, layer in enumerate(FEATURE_LAYERS)]  # fmt: skip
    blocks = []
    for j, b in enumerate(BLOCKS):
        row = {"block": b}
        for m in models:
            row[f"edges_{m}"] = float(corr[m]["corr_edges"][:, j].mean())
            row[f"luminance_{m}"] = float(corr[m]["corr_luminance"][:, j].mean())
        blocks.append(row)
    conv_idx = [FEATURE_LAYERS.index(lyr) for lyr in CONV_LAYERS]
    first_last = {m: [float(sparsity[m][:, conv_idx[0]].mean()), float(sparsity[m][:, conv_idx[-1]].mean())]
                  for m in models}  # fmt: skip
    return {**rc.featured_fields(ids), "chapter_layers": CHAPTER_LAYERS, "layers": table, "blocks": blocks,
            "models": models, "n_images": len(ids), "sparsity_plot": sp_fig, "similarity_plot": sim_fig,
            "sparsity_first_last": first_last}  # fmt: skip
