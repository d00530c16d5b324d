"""Grad-CAM and guided Grad-CAM (Selvaraju et al., 2017).

For a layer with activations A^k (channel k, position ij) and class score S_c:

    alpha_k = (1/Z) sum_ij dS_c/dA^k_ij          (spatial mean of the gradient)
    L       = ReLU(sum_k alpha_k A^k)            (h x w, the layer's resolution)

``L`` is upsampled bilinearly to the input size and scaled to [0, 1] by its
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

from generator.lib.attr import saliency_map, upsample
from generator.core import Context, ImageInput, ModelInput, Result, Technique
from generator.chapters.saliency.compute import CAM_LAYERS, PRIMARY_CAM_LAYER


# --------------------------------------------------------------------------- technique


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


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    base = ctx.result("saliency", image.id, model.name)
    size = tuple(image.tensor.shape[-2:])
    arrays: dict[str, np.ndarray] = {}
    layers: dict[str, dict] = {}
    for layer in CAM_LAYERS:
        raw = torch.from_numpy(base.arrays[f"cam.{layer}"])
        up = upsample(raw, size)
        arrays[f"cam.{layer}"] = up.numpy().astype(np.float32)
        weights = base.arrays[f"cam_weights.{layer}"]
        layers[layer] = cam_stats(arrays[f"cam.{layer}"], raw.numpy()) | {
            "positive_weights": float((weights > 0).mean()), "channels": int(weights.size)}
    raw5 = torch.from_numpy(base.arrays[f"cam.{PRIMARY_CAM_LAYER}"])
    guided = torch.from_numpy(base.arrays["guided"])
    arrays["guided_grad_cam"] = (guided * upsample(raw5, size, scale=False)).abs().amax(0).numpy().astype(np.float32)
    expected = None
    if base.records.get("expected") is not None:
        raw_e = torch.from_numpy(base.arrays[f"expected.cam.{PRIMARY_CAM_LAYER}"])
        arrays["expected.cam"] = upsample(raw_e, size).numpy().astype(np.float32)
        # the vanilla gradient for both classes too (max |.| over colour), for the side-by-side figure
        arrays["expected.saliency"] = saliency_map(base.arrays["expected.gradient"]).astype(np.float32)
        arrays["target.saliency"] = saliency_map(base.arrays["gradient"]).astype(np.float32)
        expected = cam_stats(arrays["expected.cam"], raw_e.numpy()) | {
            "index": base.records["expected"], "label": base.records["expected_label"]}
    return Result(arrays=arrays, records={"layers": layers, "target": base.records["target"],
                                          "target_label": base.records["target_label"], "expected": expected})
