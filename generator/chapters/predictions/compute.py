"""Top-5 predictions: what the whole network says about each photo.

Keeps the pre-softmax class scores (``logits``) and the softmax
probabilities of all 1000 ImageNet classes, the top 5 with torchvision's
class names, and two numbers that tell a confident answer from a guess: the
top-1 probability and the entropy of the distribution (a uniform guess over
1000 classes has ln 1000 ≈ 6.91 nats).  Other techniques explain the trained
model's top-1 class; they read it from here.

The scores come from VGG16's dense head applied to the ``block5_pool`` output that
the feature-maps technique keeps, so each (photo, model) goes through the conv
layers once per build.  On any ImageNet classifier, ``top_k(net(x)[0])`` gives
the same list.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from generator.chapters.feature_maps import spec as feature_maps
from generator.chapters.predictions import spec
from generator.core import Context, ImageInput, ModelInput, Result
from generator.models import CATEGORIES

UNIFORM_ENTROPY = math.log(len(CATEGORIES))


def top_k(logits: torch.Tensor, k: int = 5) -> list[dict]:
    """The ``k`` most probable classes, ordered by logit.

    Never by probability: classes whose softmax underflows to 0 would tie, and
    their order (and any rank read from it) would be arbitrary.
    """
    logits = logits.double()
    probs = torch.softmax(logits, dim=0)
    _, indices = torch.topk(logits, k)
    return [
        {"index": int(i), "label": CATEGORIES[int(i)], "prob": float(probs[i]), "logit": float(logits[i])}
        for i in indices
    ]


def rank_of(logits: torch.Tensor, index: int) -> int:
    """1 + the number of classes with a strictly larger logit (ties share the better rank)."""
    return int((logits > logits[index]).sum()) + 1


def classify(net: torch.nn.Module, pooled: torch.Tensor) -> torch.Tensor:
    """VGG's head on a ``block5_pool`` output: the same class scores as ``net(x)``."""
    return net.classifier(torch.flatten(net.avgpool(pooled), 1))


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    # The conv layers already ran for the feature maps of this (image, model): reuse
    # their block5_pool output (computed now if it is not cached) and run the head only.
    pooled = feature_maps.BLOCK5_POOL.read(ctx.result(feature_maps.TECHNIQUE, image.id, model.name))
    with torch.no_grad():
        logits = classify(model.net, torch.from_numpy(pooled)[None].to(ctx.device))[0].double().cpu()
    probs = torch.softmax(logits, dim=0)
    entropy = float(-(probs * probs.clamp_min(1e-300).log()).sum())
    top = top_k(logits, ctx.settings["k"])
    expected = image.credit.label_index if image.credit else None
    rank = rank_of(logits, expected) if expected is not None else None
    return Result(
        arrays={"logits": logits.numpy().astype(np.float32), "probs": probs.numpy().astype(np.float64)},
        records={
            "top": top,
            "entropy": entropy,
            "max_prob": top[0]["prob"],
            "sum": float(probs.sum()),
            "expected_index": expected,
            "expected_rank": rank,
            "expected_prob": float(probs[expected]) if expected is not None else None,
        },
    )


def target_class(ctx: Context, image: ImageInput) -> int:
    """The class every explanation of ``image`` targets: the trained model's top-1."""
    return int(spec.TOP.read(ctx.result(spec.TECHNIQUE, image.id, "trained"))[0]["index"])
