"""Building blocks (after Olah et al., Distill 2018): the units behind one decision, shown two ways.

For the photo the chapters follow, and the class the trained network chose,
Grad-CAM's channel weights αₖ at ``block5_conv3`` and the activations they
multiply (both read from the saliency pass, so no forward pass is run twice)
say how much each of the layer's 512 channels raises the class score.
The ``k`` channels with the largest weighted contribution αₖ · mean(Aₖ) are
"the units that matter". For each, this keeps:

* its activation map on the photo (14 × 14 at 224 px): *where* the unit fires;
* an activation-maximisation image (the same optimisation as the
  activation-maximisation chapter): *what* the unit responds to on its own.

Both models are shown, each with its own top channels. Only the featured photo
is done in the quick and default profiles (the optimisation is the cost); the
full profile does every photo.
"""

from __future__ import annotations

import numpy as np
import torch

from generator.chapters.saliency import spec as saliency
from generator.chapters.saliency.spec import PRIMARY_CAM_LAYER
from generator.config import featured_among
from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib import optvis
from generator.lib.arrays import to_uint8


def is_shown(ctx: Context, image: ImageInput) -> bool:
    """Whether this build does ``image``: every photo, or only the featured one (else the first)."""
    if ctx.settings["photos"] == "all":
        return True
    ids = [i.id for i in ctx.images]
    return image.id == featured_among(ids)


def top_units(weights: np.ndarray, activation: np.ndarray, k: int) -> tuple[list[int], list[float]]:
    """The ``k`` channels with the largest contribution αₖ · mean(Aₖ) (ties: lower index), and those values."""
    contribution = np.asarray(weights, np.float64) * np.asarray(activation, np.float64).mean(axis=(1, 2))
    order = np.lexsort((np.arange(len(contribution)), -contribution))[:k]
    return [int(i) for i in order], [float(contribution[i]) for i in order]


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    if not is_shown(ctx, image):
        return Result(records={"shown": False})
    s = ctx.settings
    base = ctx.result(saliency.TECHNIQUE, image.id, model.name)
    weights = saliency.CAM_WEIGHTS("grad_cam", PRIMARY_CAM_LAYER).read(base)
    act = saliency.CAM_ACTIVATIONS(PRIMARY_CAM_LAYER).read(base)  # from the saliency pass: no second forward
    channels, contribution = top_units(weights, act, s["k"])
    gen = torch.Generator().manual_seed(ctx.seed)
    res = optvis.activation_maximisation(
        model.net, PRIMARY_CAM_LAYER, channels, generator=gen, **ctx.pick("steps", "size", "lr", "relu_warmup")
    )
    return Result(
        arrays={"maps": act[channels].astype(np.float32), "images": to_uint8(res.images.permute(0, 2, 3, 1).numpy())},
        records={
            "shown": True,
            "layer": PRIMARY_CAM_LAYER,
            "channels": channels,
            "contribution": contribution,
            "alpha": [float(weights[c]) for c in channels],
            "mean_activation": [float(act[c].mean()) for c in channels],
            "positive_share": float((weights > 0).mean()),
            "n_channels": int(weights.size),
            "target": int(saliency.TARGET.read(base)),
            "target_label": saliency.TARGET_LABEL.read(base),
            "final": res.final.tolist(),
        },
    )
