"""The unit explorer's files, under ``figures/explorer/`` (``index.json`` lists each kind's URL template):

* ``index.json``: the photos, models and layers (channels, map size, stored size, downsampling, receptive
  field), the atlas layout, the colour maps the page applies, and ``files``: the URL of every file below,
  relative to this folder, with ``{photo}``, ``{model}``, ``{layer}``, ``{chunk}`` and ``{unit}`` to fill in;
* ``<photo>/<model>.json``: per layer, every channel's scale (the activation that grey 255 stands for, the
  peak of the stored map) and its exact mean activation on the photo;
* ``<photo>/<model>/<layer>.png``: one grey PNG per layer, channel ``c`` in tile ``(c // cols, c % cols)``;
* ``<photo>/thumb.png``: the photo, 96 px, for the picker;
* ``units/<layer>.json`` and ``units/<layer>/<k>.png``: the same maps unit by unit, for the unit view:
  chunk ``k`` holds units ``k * CHUNK`` to ``k * CHUNK + CHUNK - 1``, one row each, and in that row one small
  map (at most ``UNIT_MAX_SIDE`` px, averaged down from full resolution by ``unit_factor``) per photo and
  model, all on one scale per unit and model, so a row compares the photos.  The JSON holds those scales
  and, per model and photo, each unit's mean activation and its strongest response at full resolution: its
  value and where it is (``argmax``: row * width + column; the photo examples crop the receptive field
  around it);
* ``weights/<model>.json`` and ``weights/<model>/<layer>.png``: per conv layer one row per filter, one grey
  pixel per input channel, the L2 norm of that 3x3 kernel, each row scaled to its own largest norm (grey
  255, stored in the JSON with the layer whose channels are the inputs; the first layer's raw RGB weights);
* ``optimised.json`` and ``optimised/<model>/<layer>-<unit>.png``: which units the activation-maximisation
  chapter optimised, and each image.

A pixel's activation is ``grey * scale / 255``, within half a quantisation step
(``docs/javascripts/explorer/`` reads them; ``tests/test_explorer.py`` checks them).
"""

from __future__ import annotations

import io
import json
import math

import numpy as np
from PIL import Image

from generator.chapters.explorer.spec import CONV_LAYERS, FEATURE_LAYERS, UNIT_MAX_SIDE, key, weights_key
from generator.lib.geometry import vgg16_receptive_field as receptive_field
from generator.render import MODEL_COLOURS, RenderContext, models_in, to_uint8

COLOUR_MAPS = ("viridis", "magma")
THUMB = 96  # px: the photo picker shows 48 px buttons, at twice the density
CHUNK = 32  # units per file of the unit view: one click on a unit fetches one such file
FILES = {
    "thumb": "{photo}/thumb.png",
    "scales": "{photo}/{model}.json",
    "atlas": "{photo}/{model}/{layer}.png",
    "units": "units/{layer}.json",
    "unit_sheet": "units/{layer}/{chunk}.png",
    "weights": "weights/{model}.json",
    "weight_norms": "weights/{model}/{layer}.png",
    "optimised": "optimised.json",
    "optimised_image": "optimised/{model}/{layer}-{unit}.png",
}
"""Every kind of file the page fetches, relative to ``figures/explorer/`` (written into ``index.json``)."""


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


def png_bytes(pixels: np.ndarray) -> bytes:
    """A grey (H x W) or RGB (H x W x 3) uint8 array as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(pixels, mode="L" if pixels.ndim == 2 else None).save(
        buf, format="PNG", optimize=False, compress_level=6
    )
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


def path(kind: str, **fields) -> str:
    """One file's path under ``figures/explorer/``, from :data:`FILES`."""
    return FILES[kind].format(**fields)


def _layer_table(first, photo: str) -> list[dict]:
    """The index's layer entries, from one result and photo (every photo has the same sizes)."""
    layers = []
    for name in FEATURE_LAYERS:
        info = first.records["layers"][name]
        c, h, w = info["shape"]
        _, sh, sw = first.arrays[key(photo, name, "atlas")].shape
        layers.append(
            {
                "name": name,
                "channels": c,
                "height": h,
                "width": w,
                "stored_height": sh,
                "stored_width": sw,
                "factor": info["atlas_factor"],
                "cols": math.ceil(math.sqrt(c)),
                "receptive_field": receptive_field(name),
                "unit_factor": info["unit_factor"],
            }
        )
    return layers


def _photo_files(rc: RenderContext, results, models: list[str]) -> None:
    """Each photo's thumbnail, and per model its layers' atlases and their scales and means."""
    for img in rc.images:
        # a small copy of the photo for the picker (shown 48 px wide): the full one would weigh 10x more
        thumb = Image.fromarray(to_uint8(img.seen)).resize((THUMB, THUMB), Image.Resampling.LANCZOS)
        rc.data(path("thumb", photo=img.id), png_bytes(np.asarray(thumb)))
        for model in models:
            arrays = results[(None, model)].arrays
            stats = {}
            for name in FEATURE_LAYERS:
                grey, _ = atlas(arrays[key(img.id, name, "atlas")])
                rc.data(path("atlas", photo=img.id, model=model, layer=name), png_bytes(grey))
                stats[name] = {
                    "scale": float32_numbers(arrays[key(img.id, name, "scale")]),
                    "mean": float32_numbers(arrays[key(img.id, name, "mean")]),
                }
            rc.data(
                path("scales", photo=img.id, model=model),
                json_bytes({"photo": img.id, "model": model, "layers": stats}),
            )


def _small_maps(arrays, photo: str, name: str) -> np.ndarray:
    """One photo's small maps of a layer as float (value = q * scale / 255): the unit view's own maps, or
    the atlas where the layer is narrow enough."""
    what = "unit" if key(photo, name, "unit") in arrays else "atlas"
    scale = arrays[key(photo, name, "unit_scale" if what == "unit" else "scale")].astype(np.float32)
    return arrays[key(photo, name, what)].astype(np.float32) * (scale[:, None, None] / 255)


def _units(rc: RenderContext, results, models: list[str], name: str) -> dict:
    """The unit view's files for one layer (see the module docstring); returns its index entry."""
    photos = [img.id for img in rc.images]
    columns = [(p, m) for p in photos for m in models]
    small = {(p, m): _small_maps(results[(None, m)].arrays, p, name) for p, m in columns}
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
        rc.data(path("unit_sheet", layer=name, chunk=k), png_bytes(sheet))

    def per_photo(what: str, as_list) -> dict:
        return {m: {p: as_list(results[(None, m)].arrays[key(p, name, what)]) for p in photos} for m in models}

    table = {
        "layer": name,
        "columns": [list(col) for col in columns],
        "height": h,
        "width": w,
        "scale": {m: float32_numbers(scale[m]) for m in models},
        "mean": per_photo("mean", float32_numbers),
        "peak": per_photo("peak", float32_numbers),
        "argmax": per_photo("argmax", lambda a: a.astype(int).tolist()),
    }
    rc.data(path("units", layer=name), json_bytes(table))
    return {"unit_height": h, "unit_width": w}


def _weights(rc: RenderContext, arrays, model: str) -> None:
    """The unit view's weights of one model (see the module docstring)."""
    layers = {}
    for name in CONV_LAYERS:
        norms = arrays[weights_key(name)]
        top = norms.max(axis=1)
        rc.data(path("weight_norms", model=model, layer=name), png_bytes(quantise(norms[:, None, :], top)[:, 0, :]))
        at = FEATURE_LAYERS.index(name)
        layers[name] = {
            "inputs": int(norms.shape[1]),
            "input_layer": FEATURE_LAYERS[at - 1] if at else None,
            "row_max": float32_numbers(top),
        }
    first = CONV_LAYERS[0]
    rgb = arrays[f"{weights_key(first)}/rgb"]
    layers[first]["rgb"] = [[[float32_numbers(row) for row in ch] for ch in f] for f in rgb]
    rc.data(path("weights", model=model), json_bytes({"model": model, "layers": layers}))


def _optimised(rc: RenderContext, results, models: list[str]) -> None:
    """Each activation-maximisation image on its own, and which units have one."""
    from generator.chapters.activation_max import spec as activation_max
    from generator.chapters.activation_max.render import settings_text

    units = {m: results[(None, m)].records["optimised"] for m in models}
    for m in models:
        for layer, channels in units[m].items():
            for c, image in zip(channels, results[(None, m)].arrays[f"optimised/{layer}"]):
                rc.data(path("optimised_image", model=m, layer=layer, unit=c), png_bytes(image))
    s = activation_max.TECHNIQUE.settings_for(rc.profile.name)
    rc.data(
        path("optimised"),
        json_bytes({"size": s["size"], "steps": s["steps"], "settings": settings_text(s), "units": units}),
    )


def render(rc: RenderContext, results) -> dict:
    """Write the explorer's files; return what the page's fragment states (layers, sizes, budgets)."""
    from matplotlib import colormaps

    models = models_in(results)
    layers = _layer_table(results[(None, models[0])], rc.images[0].id)
    _photo_files(rc, results, models)
    for layer in layers:
        layer.update(_units(rc, results, models, layer["name"]))
    for m in models:
        _weights(rc, results[(None, m)].arrays, m)
    _optimised(rc, results, models)
    index = {
        "version": 3,
        "chunk": CHUNK,
        "input_size": rc.profile.input_size,
        "max_side": max(layer["stored_width"] for layer in layers),
        "files": FILES,
        "photos": [{"id": i.id, "title": i.title, "seen": f"figures/seen/{i.id}.png"} for i in rc.images],
        "models": [{"name": m, "label": rc.labels[m], "colour": MODEL_COLOURS[m]} for m in models],
        "layers": layers,
        "colour_maps": {
            name: colormaps[name].resampled(256)(np.arange(256), bytes=True)[:, :3].tolist() for name in COLOUR_MAPS
        },
    }
    rc.data("index.json", json_bytes(index))
    return {
        "layers": len(layers),
        "photos": len(rc.images),
        "models": models,
        "channels": sum(layer["channels"] for layer in layers),
        "downsampled": [layer["name"] for layer in layers if layer["factor"] > 1],
        "max_side": index["max_side"],
        "unit_side": UNIT_MAX_SIDE,
        "chunk": CHUNK,
        "unit_downsampled": [layer["name"] for layer in layers if layer["unit_factor"] > 1],
    }
