"""Architecture: VGG16's layers, shapes, parameters and receptive fields, read from the model.

Nothing here is typed in by hand: the table comes from running a 224×224
input through the network (:func:`describe`) and from the conv
and pool modules' own kernel sizes, strides and paddings.

The *receptive field* of a layer is the side of the input square that one of
its output pixels can see.  Walking the layers in order with ``r`` (receptive
field) and ``j`` (distance in input pixels between neighbouring outputs, the
"jump"), starting from ``r = 1, j = 1``:

    r ← r + (k − 1)·j,    j ← j·s

for a layer with kernel ``k`` and stride ``s``.  A 3×3 conv adds ``2j``; a
2×2 pool with stride 2 adds ``j`` and doubles ``j``.

The walk is :func:`generator.lib.geometry.receptive_fields`, on any chain of conv / pool layers
(it also tracks where each field is centred, which the unit explorer draws)::

    from generator.lib.geometry import receptive_fields
    receptive_fields(torchvision.models.vgg16().features)   # per module: (size, jump, centre of pixel 0)
"""

from __future__ import annotations

import torch
from torch import nn

from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib.geometry import receptive_fields
from generator.models import DENSE_LAYERS, FEATURE_LAYERS, LAYERS, activations, conv_module, feature_index

INPUT_SIZE = 224  # the size VGG16 was designed and trained for, whatever the profile


def describe(net: nn.Module, input_size: int = 224) -> list[dict]:
    """Name, type, output shape and parameter count of every named layer."""
    rows = []
    x = torch.zeros(1, 3, input_size, input_size, device=next(net.parameters()).device)
    with torch.no_grad():
        feats = activations(net, x, FEATURE_LAYERS)
        flat = torch.flatten(net.avgpool(feats["block5_pool"]), 1)
        dense = {}
        h = flat
        for i, module in enumerate(net.classifier):
            h = module(h)
            dense[f"classifier.{i}"] = h
    for name, path in LAYERS.items():
        if name in feats:
            out = feats[name]
            mod = conv_module(net, name) if "_conv" in name else None
        else:
            out = dense[path]
            idx = int(path.split(".")[1])
            mod = net.classifier[idx - 1] if name != "predictions" else net.classifier[idx]
        params = sum(p.numel() for p in mod.parameters()) if mod is not None else 0
        kind = (
            "conv 3×3 + ReLU"
            if "_conv" in name
            else "max-pool 2×2"
            if "_pool" in name
            else ("dense + ReLU" if name != "predictions" else "dense (class scores)")
        )
        rows.append({"name": name, "kind": kind, "shape": list(out.shape[1:]), "params": params, "module": path})
    return rows


def layer_table(net: nn.Module, input_size: int = INPUT_SIZE) -> list[dict]:
    """One row per named VGG16 layer: name, kind, output shape, parameters, multiply-adds, receptive field."""
    rows = describe(net, input_size)
    rf = receptive_fields(net.features)
    prev_channels = 3
    for row in rows:
        name = row["name"]
        if name in FEATURE_LAYERS:
            r, j, _ = rf[feature_index(name)]
            row["receptive_field"], row["jump"] = r, j
            c, h, w = row["shape"]
            row["macs"] = c * h * w * prev_channels * 9 if "_conv" in name else 0
            prev_channels = c
        else:
            row["receptive_field"], row["jump"] = input_size, None  # a dense unit sees the whole input
            row["macs"] = row["params"] - row["shape"][0]  # weights of a dense layer = one multiply-add each
        row["outputs"] = int(torch.tensor(row["shape"]).prod())
    return rows


def compute(ctx: Context, model: ModelInput, image: ImageInput | None) -> Result:
    rows = layer_table(model.net, INPUT_SIZE)
    total = sum(r["params"] for r in rows)
    conv = sum(r["params"] for r in rows if "_conv" in r["name"])
    dense = sum(r["params"] for r in rows if r["name"] in DENSE_LAYERS)
    macs = sum(r["macs"] for r in rows)
    check = sum(p.numel() for p in model.net.parameters())
    biggest = max(rows, key=lambda r: r["params"])
    return Result(
        records={
            "input_size": INPUT_SIZE,
            "rows": rows,
            "totals": {
                "params": total,
                "params_check": check,
                "conv_params": conv,
                "dense_params": dense,
                "macs": macs,
                "conv_macs": sum(r["macs"] for r in rows if "_conv" in r["name"]),
                "biggest": biggest["name"],
                "biggest_params": biggest["params"],
                "n_conv": sum(1 for r in rows if "_conv" in r["name"]),
                "n_dense": sum(1 for r in rows if r["name"] in DENSE_LAYERS),
                "activations": sum(r["outputs"] for r in rows),
            },
        }
    )
