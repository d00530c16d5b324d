"""Before and after the ReLU: what a conv layer computes, and what its ReLU keeps.

A conv layer's output ``z = w * x + b`` can be any real number; the ReLU that follows keeps
``max(0, z)``. The feature maps chapter shows the kept part. This technique captures ``z`` itself,
at the conv module (torchvision's VGG16 applies its ReLUs as separate modules, so the conv's output is
the ReLU's input), and records per layer:

* ``positive``: the share of ``z`` above zero, which is the share of activations the ReLU lets through
  (one minus the sparsity of the feature maps chapter);
* ``bias_rms`` and ``z_rms``: the size of the layer's biases against the size of its outputs. With
  zero biases and weights drawn symmetrically around zero (torchvision's initialisation), ``z`` is as
  likely to be negative as positive whatever the input, so an untrained layer passes half its values;
* for ``block1_conv1`` and ``block3_conv1``, the ``channels`` maps nearest to half above zero (where
  the ReLU visibly removes something), before it: scaled by their largest magnitude, in [-1, 1].

From plain Python::

    from generator.lib.layers import activations, conv_layer
    conv = conv_layer(net, "block3_conv1")
    z = activations(net, x, [conv])[conv][0]          # C x H x W, before the ReLU
    share_passed = (z > 0).float().mean()
"""

from __future__ import annotations

import numpy as np
import torch

from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib.layers import activations, conv_layer
from generator.models import CONV_LAYERS

SHOWN = ("block1_conv1", "block3_conv1")
"""The layers whose maps are kept, before and after the ReLU: the first layer and the chapter's block 3."""


def most_divided(z: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` channels of ``z`` (C x H x W) whose outputs are nearest to half above zero, half below
    (ties: lower index): the maps in which the ReLU visibly removes something, in sorted order."""
    share = (z > 0).double().mean(dim=(1, 2))
    chosen = torch.sort((share - 0.5).abs(), stable=True).indices[: min(k, z.shape[0])]
    return torch.sort(chosen).values


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    k = ctx.settings["channels"]
    convs = [conv_layer(model.net, name) for name in CONV_LAYERS]
    outs = activations(model.net, image.tensor.to(ctx.device), convs)
    arrays: dict[str, np.ndarray] = {}
    layers: dict[str, dict] = {}
    for name, conv in zip(CONV_LAYERS, convs):
        z = outs[conv][0].float().cpu()
        bias = conv.bias.detach().float().cpu() if conv.bias is not None else torch.zeros(z.shape[0])
        layers[name] = {
            "positive": float((z > 0).float().mean()),
            "z_rms": float(z.double().pow(2).mean().sqrt()),
            "bias_rms": float(bias.double().pow(2).mean().sqrt()),
            "bias_positive": float((bias > 0).float().mean()),
        }
        if name in SHOWN:
            top = most_divided(z, k)
            scale = z[top].abs().amax(dim=(1, 2)).clamp_min(1e-12)
            arrays[f"{name}.channels"] = top.numpy().astype(np.int32)
            arrays[f"{name}.z"] = (z[top] / scale[:, None, None]).numpy().astype(np.float16)
    return Result(arrays=arrays, records={"layers": layers})
