"""The unit explorer's data: every channel of every layer on every photo, each filter's weights, and the
activation-maximisation images, for one network.

One forward pass per photo gives all 18 layers.  Each layer's channels are kept as uint8 maps with one scale
per channel (a value is ``q * scale / 255``, within half a step of the network's), together with each
channel's exact mean, its strongest response at full resolution and where it is.  The weights are the L2
norm of every 3x3 kernel (filter x input channel).

From plain Python, on any torchvision CNN::

    from generator.lib import activations
    from generator.chapters.explorer.compute import atlas_maps
    maps = activations(net, x, ["block3_conv1"])["block3_conv1"][0]   # C x H x W, >= 0
    q, scale, mean, factor = atlas_maps(maps)                          # q * scale / 255 ~ maps
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from generator.chapters.activation_max import spec as activation_max
from generator.chapters.explorer.spec import (
    ATLAS_MAX_SIDE,
    CONV_LAYERS,
    FEATURE_LAYERS,
    UNIT_MAX_SIDE,
    key,
    weights_key,
)
from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib.layers import activations, conv_layer


def atlas_maps(act: torch.Tensor, max_side: int = ATLAS_MAX_SIDE) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Every channel of one layer (C x H x W, >= 0): the maps as uint8 with one scale per channel (value =
    q * scale / 255, so the error is at most half a step, scale / 510), the scales, the exact per-channel
    means, and the downsampling factor (maps wider than ``max_side`` are average-pooled by 2 until they fit)."""
    factor = 1
    while act.shape[-1] // factor > max_side:
        factor *= 2
    small = F.avg_pool2d(act[None], factor)[0] if factor > 1 else act
    scale = small.amax(dim=(1, 2))
    q = torch.round(small / scale.clamp_min(1e-30)[:, None, None] * 255).clamp(0, 255).to(torch.uint8)
    return q.numpy(), scale.numpy().astype(np.float32), act.mean(dim=(1, 2)).numpy().astype(np.float32), factor


def photo_layers(act_by_layer: dict[str, torch.Tensor], photo: str, arrays: dict) -> dict[str, dict]:
    """One photo's arrays (see :func:`generator.chapters.explorer.spec.key`) into ``arrays``; per layer its
    shape and the two downsampling factors."""
    layers = {}
    for name in FEATURE_LAYERS:
        act = act_by_layer[name][0].float().cpu()
        q, scale, mean, factor = atlas_maps(act)
        arrays[key(photo, name, "atlas")], arrays[key(photo, name, "scale")] = q, scale
        arrays[key(photo, name, "mean")] = mean
        # each channel's strongest response at full resolution (value, and where: row * W + column), for the
        # photo examples (the page crops the receptive field around it)
        flat = act.flatten(1)
        arrays[key(photo, name, "peak")] = flat.amax(dim=1).numpy().astype(np.float32)
        arrays[key(photo, name, "argmax")] = flat.argmax(dim=1).numpy().astype(np.int32)
        # the unit view's small maps, averaged down from full resolution (from the atlas they would be
        # rounded twice); narrower layers use the atlas as it is
        unit_factor = 1
        if act.shape[-1] > UNIT_MAX_SIDE:
            arrays[key(photo, name, "unit")], arrays[key(photo, name, "unit_scale")], _, unit_factor = atlas_maps(
                act, UNIT_MAX_SIDE
            )
        layers[name] = {"shape": list(act.shape), "atlas_factor": factor, "unit_factor": unit_factor}
    return layers


def kernel_norms(net, name: str) -> np.ndarray:
    """C_out x C_in: the L2 norm of each 3x3 kernel of conv layer ``name`` (how strongly a filter weighs each
    input channel)."""
    w = conv_layer(net, name).weight.detach().cpu().numpy().astype(np.float64)
    return np.sqrt((w**2).sum(axis=(2, 3))).astype(np.float32)


def compute(ctx: Context, model: ModelInput, image: ImageInput | None) -> Result:
    arrays: dict[str, np.ndarray] = {}
    layers: dict[str, dict] = {}
    with torch.no_grad():
        for img in ctx.images:
            outs = activations(model.net, img.tensor.to(ctx.device), list(FEATURE_LAYERS))
            layers = photo_layers(outs, img.id, arrays)  # the same sizes for every photo
    for name in CONV_LAYERS:
        arrays[weights_key(name)] = kernel_norms(model.net, name)
    # the first layer's raw weights too: its inputs are red, green and blue, so the page draws them in colour
    first = CONV_LAYERS[0]
    arrays[f"{weights_key(first)}/rgb"] = conv_layer(model.net, first).weight.detach().float().cpu().numpy()
    am = ctx.result(activation_max.TECHNIQUE, None, model.name)
    optimised = {}
    for layer, info in activation_max.LAYER_RECORDS.read(am).items():
        arrays[f"optimised/{layer}"] = activation_max.IMAGES(layer).read(am)
        optimised[layer] = list(info["channels"])
    return Result(arrays=arrays, records={"layers": layers, "optimised": optimised})
