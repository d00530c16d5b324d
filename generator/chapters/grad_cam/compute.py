"""Class activation maps: every CAM method of :data:`generator.lib.methods.METHODS` (Grad-CAM first).

For a layer with activations A^k (channel k, position ij) and class score S_c:

    alpha_k = (1/Z) sum_ij dS_c/dA^k_ij          (spatial mean of the gradient)
    L       = ReLU(sum_k alpha_k A^k)            (h x w, the layer's resolution)

Other CAM rules (Grad-CAM++) weight the channels differently.  ``L`` is
upsampled bilinearly to the input size and scaled to [0, 1] by its
own minimum and maximum (an all-zero map -- every weighted sum negative --
stays all zeros, never NaN).  Guided Grad-CAM multiplies guided
backpropagation's input gradient, pixel by pixel, by the upsampled ``L``.

The maps come from the ``saliency`` technique's single forward/backward pass,
which keeps the activations and gradients of the last conv of all five
blocks; this module turns them into figures' arrays and numbers.  On any
torchvision CNN, use the library::

    from generator.lib import grad_cam, guided_grad_cam
    cam = grad_cam(net, x, target=281, layer="features.29")   # or "block5_conv3", or "layer4" on a ResNet
"""

from __future__ import annotations

import numpy as np
import torch

from generator.chapters.grad_cam import spec as out
from generator.chapters.saliency import spec as saliency
from generator.chapters.saliency.compute import signals
from generator.chapters.saliency.spec import CAM_LAYERS
from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib.attr import saliency_map, upsample
from generator.lib.cam_rules import CAM_RULES
from generator.lib.methods import cam_methods


def cam_stats(cam01: np.ndarray, raw: np.ndarray) -> dict:
    """Numbers behind the chapter: is the map flat, how much of the image it covers, where it peaks."""
    flat = bool(raw.max() <= 0)
    h, w = cam01.shape
    peak = np.unravel_index(int(np.argmax(cam01)), cam01.shape)
    return {
        "shape": list(raw.shape),
        "flat": flat,
        "raw_max": float(raw.max()),
        "coverage": 0.0 if flat else float((cam01 >= 0.5).mean()),
        "zero_share": float((raw <= 0).mean()),
        "peak": [float((peak[0] + 0.5) / h), float((peak[1] + 0.5) / w)],
    }


def _layer_stats(base: Result, rule: str, size, res: Result) -> dict[str, dict]:
    """One CAM rule at every layer: the upsampled maps into ``res``, and their numbers."""
    layers: dict[str, dict] = {}
    for layer in CAM_LAYERS:
        raw = saliency.CAM(rule, layer).read(base)
        up = upsample(torch.from_numpy(raw), size).numpy().astype(np.float32)
        out.CAM(rule, layer).put(res, up)
        layers[layer] = cam_stats(up, raw)
        weights = saliency.CAM_WEIGHTS(rule, layer).get(base) if CAM_RULES[rule].kind == "channel" else None
        if weights is not None:
            layers[layer] |= {"positive_weights": float((weights > 0).mean()), "channels": int(weights.size)}
    return layers


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    base = ctx.result(saliency.TECHNIQUE, image.id, model.name)
    size = tuple(image.tensor.shape[-2:])
    res = Result()
    rules = {}
    for method in cam_methods():
        if method.cam_rule:
            rules[method.name] = _layer_stats(base, method.cam_rule, size, res)
        else:  # built on other signals (guided Grad-CAM): at the primary layer
            out.COMBINED(method.name).put(res, method.map(signals(base, size)))
    expected = None
    if saliency.EXPECTED.read(base) is not None:
        raw_e = saliency.EXPECTED_CAM.read(base)
        out.EXPECTED_CAM.put(res, upsample(torch.from_numpy(raw_e), size).numpy().astype(np.float32))
        # the vanilla gradient for both classes too (max |.| over colour), for the side-by-side figure
        out.EXPECTED_SALIENCY.put(res, saliency_map(saliency.EXPECTED_GRADIENT.read(base)).astype(np.float32))
        out.TARGET_SALIENCY.put(res, saliency_map(saliency.GRADIENT.read(base)).astype(np.float32))
        expected = cam_stats(out.EXPECTED_CAM.read(res), raw_e) | {
            "index": saliency.EXPECTED.read(base),
            "label": saliency.EXPECTED_LABEL.read(base),
        }
    res.records = {
        "layers": rules["grad_cam"],
        "rules": rules,
        "target": saliency.TARGET.read(base),
        "target_label": saliency.TARGET_LABEL.read(base),
        "expected": expected,
    }
    return res
