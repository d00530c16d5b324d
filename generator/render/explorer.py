"""The unit explorer's data: every channel of every layer, for every photo and both models, as grey atlases.

Written by the feature-maps renderer from the feature-maps results (the same forward pass), under
``figures/feature_maps/explorer/``:

* ``index.json``: the photos, models and layers (channels, map size, stored size, downsampling,
  receptive field), the atlas layout and the colour maps the page applies;
* ``<photo>/<model>.json``: per layer, every channel's scale (the activation that grey 255 stands for)
  and its exact mean and maximum activation on the photo;
* ``<photo>/<model>/<layer>.png``: one grey PNG per layer, channel ``c`` in tile ``(c // cols, c % cols)``;
* ``<photo>/thumb.png``: the photo, 96 px, for the picker.

A pixel's activation is ``grey * scale / 255``, within half a quantisation step
(``docs/javascripts/explorer.js`` reads them; ``tests/test_explorer.py`` checks them).
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
from PIL import Image

from generator.models import FEATURE_LAYERS
from generator.render import MODEL_COLOURS, RenderContext, to_uint8

EXPLORER = "explorer"
COLOUR_MAPS = ("viridis", "magma")
THUMB = 96  # px: the photo picker shows 48 px buttons, at twice the density


def receptive_field(layer: str) -> dict:
    """Receptive field of one output pixel of ``layer`` in input pixels: its side ``size``, the ``jump``
    between neighbouring pixels' fields, and ``start``, the centre of pixel (0, 0)'s field (VGG16: 3x3
    convolutions with padding 1, 2x2 max-pools with stride 2)."""
    size, jump, start = 1, 1, 0.5
    for name in FEATURE_LAYERS:
        if "_conv" in name:
            size += 2 * jump
        else:
            size += jump
            start += 0.5 * jump
            jump *= 2
        if name == layer:
            return {"size": size, "jump": jump, "start": start}
    raise ValueError(f"unknown layer {layer!r}")


def atlas(maps: np.ndarray) -> tuple[np.ndarray, int]:
    """C x h x w uint8 maps laid out on a grid of ``cols = ceil(sqrt(C))`` columns, no gaps; (image, cols)."""
    c, h, w = maps.shape
    cols = math.ceil(math.sqrt(c))
    rows = -(-c // cols)
    out = np.zeros((rows * h, cols * w), np.uint8)
    for i in range(c):
        r, k = divmod(i, cols)
        out[r * h:(r + 1) * h, k * w:(k + 1) * w] = maps[i]
    return out, cols


def _png(grey: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(grey, mode="L").save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def _json(obj) -> bytes:
    return (json.dumps(obj, separators=(",", ":"), sort_keys=True) + "\n").encode()


def _numbers(values: np.ndarray) -> list[float]:
    """float32 values as the shortest decimals that read back as the same float32."""
    return [float(np.format_float_positional(v, unique=True, trim="-")) for v in np.asarray(values, np.float32)]


def write(rc: RenderContext, results, models: list[str]) -> dict:
    """Write the explorer's files; return what the page's fragment states (layers, sizes, budgets)."""
    from matplotlib import colormaps

    first = results[(rc.images[0].id, models[0])]
    layers = []
    for name in FEATURE_LAYERS:
        c, h, w = first.records["layers"][name]["shape"]
        _, sh, sw = first.arrays[f"{name}.all"].shape
        layers.append({"name": name, "channels": c, "height": h, "width": w, "stored_height": sh,
                       "stored_width": sw, "factor": first.records["layers"][name]["atlas_factor"],
                       "cols": math.ceil(math.sqrt(c)), "receptive_field": receptive_field(name)})
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
                rc.data(f"{EXPLORER}/{img.id}/{model}/{name}.png", _png(grey))
                stats[name] = {"scale": _numbers(res.arrays[f"{name}.all_scale"]),
                               "mean": _numbers(res.arrays[f"{name}.all_mean"])}
            rc.data(f"{EXPLORER}/{img.id}/{model}.json", _json({"photo": img.id, "model": model, "layers": stats}))
    index = {
        "version": 1,
        "input_size": rc.profile.input_size,
        "max_side": max(layer["stored_width"] for layer in layers),
        "photos": [{"id": i.id, "title": i.title, "thumb": f"{i.id}/thumb.png", "seen": f"figures/seen/{i.id}.png"}
                   for i in rc.images],
        "models": [{"name": m, "label": rc.labels[m], "colour": MODEL_COLOURS[m]} for m in models],
        "layers": layers,
        "colour_maps": {name: colormaps[name].resampled(256)(np.arange(256), bytes=True)[:, :3].tolist()
                        for name in COLOUR_MAPS},
    }
    rc.data(f"{EXPLORER}/index.json", _json(index))
    return {"layers": len(layers), "photos": len(rc.images), "models": models,
            "channels": sum(layer["channels"] for layer in layers),
            "downsampled": [layer["name"] for layer in layers if layer["factor"] > 1],
            "max_side": index["max_side"]}
