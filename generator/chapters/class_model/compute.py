"""Class model visualisation (Simonyan, Vedaldi & Zisserman 2013).

For each class, an image that maximises the network's unnormalised class
score (the pre-softmax logit) minus an L2 penalty on the image, with jitter
and a Gaussian blur every few steps.  The classes are the trained model's
top-1 classes for the photos plus a few well-known ones; all of them are
optimised as one batch (:func:`generator.lib.optvis.class_model`).
"""

from __future__ import annotations

import numpy as np
import torch

from generator.chapters.predictions.compute import target_class
from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib import optvis
from generator.lib.arrays import to_uint8
from generator.models import CATEGORIES


def chosen_classes(ctx: Context, extra: list[int]) -> list[dict]:
    """The trained model's top-1 class of every photo (first photo wins a tie), then ``extra``."""
    rows: list[dict] = []
    seen: set[int] = set()
    for img in ctx.images:
        c = target_class(ctx, img)
        if c not in seen:
            seen.add(c)
            rows.append({"index": c, "label": CATEGORIES[c], "source": img.id})
    for c in extra:
        if not 0 <= c < len(CATEGORIES):
            raise ValueError(f"class index {c} out of range; valid classes are 0..{len(CATEGORIES) - 1}")
        if c not in seen:
            seen.add(c)
            rows.append({"index": c, "label": CATEGORIES[c], "source": None})
    return rows


def compute(ctx: Context, model: ModelInput, image: ImageInput | None) -> Result:
    s = ctx.settings
    classes = chosen_classes(ctx, s["extra_classes"])
    gen = torch.Generator().manual_seed(ctx.seed)
    res = optvis.class_model(
        model.net,
        [c["index"] for c in classes],
        **ctx.pick("steps", "size", "lr", "l2", "jitter", "blur_every", "blur_sigma"),
        generator=gen,
    )
    for i, row in enumerate(classes):
        row.update({k: res.extra[k][i] for k in ("start", "final", "best_other", "rank", "prob")})
        row["best_other_label"] = CATEGORIES[res.extra["best_other_index"][i]]
    images = to_uint8(res.images.permute(0, 2, 3, 1).numpy())
    return Result(
        arrays={"images": images, "history": res.history.numpy().astype(np.float32)}, records={"classes": classes}
    )
