"""The unit explorer's data: every channel of every layer, for every photo and both models, as grey atlases.

Written by the feature-maps renderer from the feature-maps results (the same forward pass), under
``figures/feature_maps/explorer/``:

* ``index.json``: the photos, models and layers (channels, map size, stored size, downsampling,
  receptive field), the atlas layout and the colour maps the page applies;
* ``<photo>/<model>.json``: per layer, every channel's scale (the activation that grey 255 stands for,
  the peak of the stored map) and its exact mean activation on the photo;
* ``<photo>/<model>/<layer>.png``: one grey PNG per layer, channel ``c`` in tile ``(c // cols, c % cols)``;
* ``<photo>/thumb.png``: the photo, 96 px, for the picker;
* ``units/<layer>.json`` and ``units/<layer>/<k>.png``: the same maps unit by unit, for the unit view:
  chunk ``k`` holds units ``k * CHUNK`` to ``k * CHUNK + CHUNK - 1``, one row each, and in that row one
  small map (at most ``UNIT_SIDE`` px, averaged down from full resolution by ``unit_factor``) per photo
  and model, all on one scale per unit and model, so a row compares the photos (within one step of it).
  The JSON holds those scales and, per model
  and photo, each unit's mean activation and its strongest response at full resolution: its value and
  where it is (``argmax``: row * width + column; the photo examples crop the receptive field around it).

A pixel's activation is ``grey * scale / 255``, within half a quantisation step
(``docs/javascripts/explorer/`` reads them; ``tests/test_explorer.py`` checks them).
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
from PIL import Image

from generator.chapters.feature_maps.compute import UNIT_MAX_SIDE as UNIT_SIDE  # block4's own size at 224 px
from generator.lib.geometry import vgg16_receptive_field as receptive_field
from generator.models import FEATURE_LAYERS
from generator.render import MODEL_COLOURS, RenderContext, to_uint8

EXPLORER = "explorer"
COLOUR_MAPS = ("viridis", "magma")
THUMB = 96  # px: the photo picker shows 48 px buttons, at twice the density
CHUNK = 32  # units per file of the unit view: one click on a unit fetches one such file


def atlas(maps: np.ndarray) -> tuple[np.ndarray, int]:
    """C x h x w uint8 maps laid out on a grid of ``cols = ceil(sqrt(C))`` columns, no gaps; (image, cols)."""
    c, h, w = maps.shape
    cols = math.ceil(math.sqrt(c))
    rows = -(-c // cols)
    out = np.zeros((rows * h, cols * w), np.uint8)
    for i in range(c):
        r, k = divmod(i, cols)
        out[r * h : (r + 1) * h, k * w : (k + 1) * w] = maps[i]
    return out, cols


def grey_png(grey: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def json_bytes(obj) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), sort_keys=True) + "\n").encode()


def float32_numbers(values: np.ndarray) -> list[float]:
    """float32 values as the shortest decimals that read back as the same float32."""
    return [float(np.format_float_positional(v, unique=True, trim="-")) for v in np.asarray(values, np.float32)]


def quantise(values: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Float maps (... x h x w) to uint8 with ``scale`` (broadcast over the last two axes) as grey 255."""
    s = np.maximum(np.asarray(scale, np.float32), np.float32(1e-30))[..., None, None]
    return np.clip(np.round(values / s * 255), 0, 255).astype(np.uint8)


def _units(rc: RenderContext, results, models: list[str], layer: dict) -> dict:
    """The unit view's files for one layer (see the module docstring); returns its index entry."""
    name = layer["name"]
    photos = [img.id for img in rc.images]
    small: dict[tuple[str, str], np.ndarray] = {}
    for p in photos:
        for m in models:
            # the technique's small maps (value = q * scale / 255), or the atlas where the layer is narrow
            arrays = results[(p, m)].arrays
            key = f"{name}.unit" if f"{name}.unit" in arrays else f"{name}.all"
            s = arrays[f"{key}_scale"].astype(np.float32)
            small[(p, m)] = arrays[key].astype(np.float32) * (s[:, None, None] / 255)
    columns = [(p, m) for p in photos for m in models]
    # one scale per unit and model: the largest value over the photos
    scale = {m: np.max(np.stack([small[(p, m)].max(axis=(1, 2)) for p in photos]), axis=0) for m in models}
    c, h, w = small[columns[0]].shape
    for k in range(-(-c // CHUNK)):
        units = range(k * CHUNK, min(c, (k + 1) * CHUNK))
        sheet = np.zeros((len(units) * h, len(columns) * w), np.uint8)
        for j, (p, m) in enumerate(columns):
            q = quantise(small[(p, m)][units.start : units.stop], scale[m][units.start : units.stop])
            for i in range(len(units)):
                sheet[i * h : (i + 1) * h, j * w : (j + 1) * w] = q[i]
        rc.data(f"{EXPLORER}/units/{name}/{k}.png", grey_png(sheet))
    means = {m: {p: float32_numbers(results[(p, m)].arrays[f"{name}.all_mean"]) for p in photos} for m in models}
    peaks = {m: {p: float32_numbers(results[(p, m)].arrays[f"{name}.all_peak"]) for p in photos} for m in models}
    where = {m: {p: results[(p, m)].arrays[f"{name}.all_argmax"].astype(int).tolist() for p in photos} for m in models}
    rc.data(
        f"{EXPLORER}/units/{name}.json",
        json_bytes(
            {
                "layer": name,
                "columns": [list(col) for col in columns],
                "height": h,
                "width": w,
                "scale": {m: float32_numbers(scale[m]) for m in models},
                "mean": means,
                "peak": peaks,
                "argmax": where,
            }
        ),
    )
    return {
        "unit_height": h,
        "unit_width": w,
        "unit_factor": results[(photos[0], models[0])].records["layers"][name]["unit_factor"],
    }


def write(rc: RenderContext, results, models: list[str]) -> dict:
    """Write the explorer's files; return what the page's fragment states (layers, sizes, budgets)."""
    from matplotlib import colormaps

    first = results[(rc.images[0].id, models[0])]
    layers = []
    for name in FEATURE_LAYERS:
        c, h, w = first.records["layers"][name]["shape"]
        _, sh, sw = first.arrays[f"{name}.all"].shape
        layers.append(
            {
                "name": name,
                "channels": c,
                "height": h,
                "width": w,
                "stored_height": sh,
                "stored_width": sw,
                "factor": first.records["layers"][name]["atlas_factor"],
                "cols": math.ceil(math.sqrt(c)),
                "receptive_field": receptive_field(name),
            }
        )
    for img in rc.images:
        # a small copy of the photo for the picker (shown 48 px wide): the full one would weigh 10x more
        thumb = Image.fromarray(to_uint8(img.seen)).resize((THUMB, THUMB), Image.Resampling.LANCZOS)
        buf = io.BytesIO()
        thumb.save(buf, format="PNG", optimize=False, compress_level=6)
        rc.data(f"{EXPLORER}/{img.id}/thumb.png", buf.getvalue())
        for model in models:
            res = results[(img.id, model)]
            stats = {}
            for layer in layers:
                name = layer["name"]
                grey, _ = atlas(res.arrays[f"{name}.all"])
                rc.data(f"{EXPLORER}/{img.id}/{model}/{name}.png", grey_png(grey))
                stats[name] = {
                    "scale": float32_numbers(res.arrays[f"{name}.all_scale"]),
                    "mean": float32_numbers(res.arrays[f"{name}.all_mean"]),
                }
            rc.data(f"{EXPLORER}/{img.id}/{model}.json", json_bytes({"photo": img.id, "model": model, "layers": stats}))
    for layer in layers:
        layer.update(_units(rc, results, models, layer))
    index = {
        "version": 2,
        "chunk": CHUNK,
        "input_size": rc.profile.input_size,
        "max_side": max(layer["stored_width"] for layer in layers),
        "photos": [
            {"id": i.id, "title": i.title, "thumb": f"{i.id}/thumb.png", "seen": f"figures/seen/{i.id}.png"}
            for i in rc.images
        ],
        "models": [{"name": m, "label": rc.labels[m], "colour": MODEL_COLOURS[m]} for m in models],
        "layers": layers,
        "colour_maps": {
            name: colormaps[name].resampled(256)(np.arange(256), bytes=True)[:, :3].tolist() for name in COLOUR_MAPS
        },
    }
    rc.data(f"{EXPLORER}/index.json", json_bytes(index))
    return {
        "layers": len(layers),
        "photos": len(rc.images),
        "models": models,
        "channels": sum(layer["channels"] for layer in layers),
        "downsampled": [layer["name"] for layer in layers if layer["factor"] > 1],
        "max_side": index["max_side"],
        "unit_side": UNIT_SIDE,
        "chunk": CHUNK,
        "unit_downsampled": [layer["name"] for layer in layers if layer["unit_factor"] > 1],
    }
