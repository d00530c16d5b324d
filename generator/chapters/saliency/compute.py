"""Saliency maps (the site's unit of work): the one gradient pass behind every attribution method.

For one (photo, model) this runs :func:`generator.lib.engine.explain` once
for the trained model's top-1 class and stores what every method in
:data:`generator.lib.methods.METHODS` needs: the signed input gradient, the
guided-backprop gradient, SmoothGrad's mean |gradient| and the raw map of
every CAM rule the methods use at the last conv of every block.  When the
photo's credits name an expected class that differs from that top-1, a
second, cheaper pass (input gradient and ``block5_conv3`` Grad-CAM, no
SmoothGrad) explains the expected class too, so that a wrong prediction can
be debugged.  The outputs are named in ``spec.py``; :func:`signals` turns
them back into a :class:`generator.lib.methods.Signals` for one layer.
"""

from __future__ import annotations

import hashlib

import numpy as np

from generator.chapters.predictions.compute import target_class
from generator.chapters.saliency import spec
from generator.chapters.saliency.spec import CAM_LAYERS, PRIMARY_CAM_LAYER
from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib.cam_rules import CAM_RULES
from generator.lib.engine import explain
from generator.lib.methods import METHODS, Signals, cam_rules_used
from generator.models import CATEGORIES


def noise_seed(image: ImageInput, base: int) -> int:
    """SmoothGrad's noise seed: from the photo only, so both models (and every cascade step) see the same noise."""
    digest = hashlib.sha256(f"{base}|{image.sha256}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def _f32(t) -> np.ndarray:
    return t.float().numpy()


def _publish(res: Result, e, rules: list[str]) -> None:
    """The pass's signals into ``res`` under the names ``spec.py`` declares."""
    spec.GRADIENT.put(res, _f32(e.gradient))
    spec.GUIDED.put(res, _f32(e.guided))
    spec.DECONVNET.put(res, _f32(e.deconvnet))
    spec.SMOOTHGRAD.put(res, _f32(e.smooth))
    for rule in rules:
        for layer in CAM_LAYERS:
            spec.CAM(rule, layer).put(res, _f32(e.variants[rule][layer]))
            if CAM_RULES[rule].kind == "channel":
                spec.CAM_WEIGHTS(rule, layer).put(res, _f32(e.variant_weights[rule][layer]))
    # The activations the Grad-CAM weights multiply, for building_blocks (no second forward pass there).
    spec.CAM_ACTIVATIONS(PRIMARY_CAM_LAYER).put(res, _f32(e.cam_activations[PRIMARY_CAM_LAYER]))


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    s = ctx.settings
    target = target_class(ctx, image)
    seed = noise_seed(image, s["noise_seed"])
    rules = cam_rules_used()
    x = image.tensor.to(ctx.device)
    e = explain(model.net, x, target, cam_layers=CAM_LAYERS, guided=True, deconvnet=True, smooth_n=s["smoothgrad_n"],
                sigma=s["sigma"], seed=seed, batch_size=s["batch_size"], channels_last=s["channels_last"],
                cam=rules[0], cam_variants=rules)  # fmt: skip
    res = Result()
    _publish(res, e, rules)
    spec.INPUT.put(res, image.tensor[0].float().numpy())
    expected = image.credit.label_index if image.credit else None
    expected_score = None
    if expected is not None and expected != target:
        ex = explain(model.net, x, expected, cam_layers=[PRIMARY_CAM_LAYER], guided=False, smooth_n=0,
                     channels_last=s["channels_last"])  # fmt: skip
        spec.EXPECTED_GRADIENT.put(res, _f32(ex.gradient))
        spec.EXPECTED_CAM.put(res, _f32(ex.cams[PRIMARY_CAM_LAYER]))
        expected_score = ex.score
    res.records = {
        "expected": expected if expected_score is not None else None,
        "expected_label": CATEGORIES[expected] if expected_score is not None else None,
        "expected_score": expected_score, "target": target, "target_label": CATEGORIES[target], "score": e.score,
        "sigma": s["sigma"], "sigma_abs": e.sigma_abs, "n": s["smoothgrad_n"], "seed": seed,
        "batch_size": s["batch_size"], "channels_last": s["channels_last"],
        "input_range": float(image.tensor.max() - image.tensor.min()),
    }  # fmt: skip
    return res


def signals(res: Result, size: tuple[int, int], layer: str = PRIMARY_CAM_LAYER) -> Signals:
    """A saliency result as the methods read it, with every CAM rule's raw map at ``layer``."""
    return Signals(
        size=tuple(size),
        gradient=spec.GRADIENT.read(res),
        guided=spec.GUIDED.read(res),
        deconvnet=spec.DECONVNET.read(res),
        input=spec.INPUT.read(res),
        smooth=spec.SMOOTHGRAD.get(res),
        cams={rule: spec.CAM(rule, layer).read(res) for rule in cam_rules_used()},
    )


def method_maps(res: Result, size: tuple[int, int], methods=None) -> dict[str, np.ndarray]:
    """Every method's H x W map (float32) from a saliency result, at the primary CAM layer."""
    sig = signals(res, size)
    return {m.name: m.map(sig) for m in (methods or METHODS).values()}
