"""Saliency maps (the site's unit of work): vanilla gradient, SmoothGrad and guided backprop.

For one (photo, model) this runs :func:`generator.lib.engine.explain` once
for the trained model's top-1 class and stores the signed input gradient,
the guided-backprop gradient, SmoothGrad's mean |gradient| and the raw
Grad-CAM of the last conv of every block.  When the photo's credits name an
expected class that differs from that top-1, a second, cheaper pass (input
gradient and ``block5_conv3`` Grad-CAM, no SmoothGrad) explains the expected
class too, so that a wrong prediction can be debugged (``expected.*`` arrays).  ``grad_cam`` and
``cascading_randomisation`` read these (they declare ``needs=("saliency",)``).
The methods themselves live in :mod:`generator.lib.attr`.
"""

from __future__ import annotations

import hashlib

from generator.lib.engine import explain
from generator.models import CATEGORIES
from generator.core import Context, ImageInput, ModelInput, Result, Technique
from generator.chapters.predictions.compute import target_class

# The Grad-CAM layers the site shows: the last conv (after its ReLU) of every block.
CAM_LAYERS = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]
PRIMARY_CAM_LAYER = "block5_conv3"


# --------------------------------------------------------------------------- technique


def noise_seed(image: ImageInput, base: int) -> int:
    """SmoothGrad's noise seed: from the photo only, so both models (and every cascade step) see the same noise."""
    digest = hashlib.sha256(f"{base}|{image.sha256}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    s = ctx.settings
    target = target_class(ctx, image)
    seed = noise_seed(image, s["noise_seed"])
    e = explain(model.net, image.tensor.to(ctx.device), target, cam_layers=CAM_LAYERS, guided=True,
                smooth_n=s["smoothgrad_n"], sigma=s["sigma"], seed=seed, batch_size=s["batch_size"],
                channels_last=s["channels_last"])
    arrays = {
        "gradient": e.gradient.float().numpy(),
        "guided": e.guided.float().numpy(),
        "smoothgrad": e.smooth.float().numpy(),
    }
    for layer in CAM_LAYERS:
        arrays[f"cam.{layer}"] = e.cams[layer].float().numpy()
        arrays[f"cam_weights.{layer}"] = e.cam_weights[layer].float().numpy()
    # The activations the Grad-CAM weights multiply, for building_blocks (no second forward pass there).
    arrays[f"cam_activations.{PRIMARY_CAM_LAYER}"] = e.cam_activations[PRIMARY_CAM_LAYER].float().numpy()
    expected = image.credit.label_index if image.credit else None
    expected_score = None
    if expected is not None and expected != target:
        ex = explain(model.net, image.tensor.to(ctx.device), expected, cam_layers=[PRIMARY_CAM_LAYER],
                     guided=False, smooth_n=0, channels_last=s["channels_last"])
        arrays["expected.gradient"] = ex.gradient.float().numpy()
        arrays[f"expected.cam.{PRIMARY_CAM_LAYER}"] = ex.cams[PRIMARY_CAM_LAYER].float().numpy()
        expected_score = ex.score
    return Result(arrays=arrays, records={
        "expected": expected if expected_score is not None else None,
        "expected_label": CATEGORIES[expected] if expected_score is not None else None,
        "expected_score": expected_score,
        "target": target, "target_label": CATEGORIES[target], "score": e.score,
        "sigma": s["sigma"], "sigma_abs": e.sigma_abs, "n": s["smoothgrad_n"], "seed": seed,
        "batch_size": s["batch_size"], "channels_last": s["channels_last"],
        "input_range": float(image.tensor.max() - image.tensor.min()),
    })
