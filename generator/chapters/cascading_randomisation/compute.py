"""Sanity checks for the gradient explanations (Adebayo et al., 2018).

Two model-randomisation tests, run on the trained VGG16 for every photo:

* **trained vs untrained**: each method's map from the trained model is
  compared with the same method's map from the untrained model (same photo,
  same target class, same SmoothGrad noise);
* **cascading randomisation**: starting from the trained weights, the layers
  are re-initialised from the top down, one group at a time -- the classifier
  (fc1, fc2, predictions), then block5, block4, ..., block1 -- and every map
  is recomputed after each step.  "Re-initialised" means replaced by the
  untrained VGG16's weights (torchvision's default initialisation, seed 0),
  so after the last step the network *is* the untrained model and the
  cascade ends exactly at the trained-vs-untrained comparison.

Similarity is measured on maps scaled to [0, 1]: Spearman rank correlation
and SSIM (:mod:`generator.lib.metrics`).  A method whose map barely changes while
the weights are destroyed is not explaining what the network learned.

The number shown for "edges" is each map's Spearman correlation with the
edge magnitude of the photo as the network is given it, both averaged over
8 × 8 pixel squares (:func:`generator.lib.metrics.edge_agreement`): a map that
mostly traces the photo's edges will look plausible whatever the weights are.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from generator.chapters.cascading_randomisation.spec import STEPS
from generator.chapters.saliency import spec as saliency
from generator.chapters.saliency.compute import method_maps
from generator.chapters.saliency.spec import PRIMARY_CAM_LAYER
from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib import metrics
from generator.lib.engine import explain
from generator.lib.methods import METHODS, Signals, cam_rules_used
from generator.models import LAYERS


def _feature_blocks() -> list[str]:
    """The block every index of ``vgg.features`` belongs to."""
    out: list[str] = []
    for name, path in LAYERS.items():
        if name.endswith("_pool"):
            idx = int(path.split(".")[1])
            out.extend([name.split("_")[0]] * (idx + 1 - len(out)))
    return out


class CascadeVGG(nn.Module):
    """A VGG16 whose ``randomised`` groups come from ``untrained`` and the rest from ``trained``.

    The modules are shared, not copied, so building one costs nothing.
    """

    def __init__(self, trained: nn.Module, untrained: nn.Module, randomised: set[str]):
        super().__init__()
        unknown = set(randomised) - set(STEPS)
        if unknown:
            raise ValueError(f"unknown layer group(s) {', '.join(sorted(unknown))}; valid: {', '.join(STEPS)}")
        blocks = _feature_blocks()
        self.features = nn.Sequential(
            *[u if blocks[i] in randomised else t for i, (t, u) in enumerate(zip(trained.features, untrained.features))]
        )
        self.avgpool = trained.avgpool
        self.classifier = untrained.classifier if "classifier" in randomised else trained.classifier
        # nn.Module starts in training mode; the wrapper itself must not be, or anything that
        # saves and restores its mode would see "training" (its shared modules are in eval mode).
        self.training = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def cascade_methods(with_smooth: bool) -> dict:
    """The methods the cascade recomputes at every step (SmoothGrad only when the profile pays for it)."""
    return {n: m for n, m in METHODS.items() if with_smooth or "smooth" not in m.uses}


def pass_maps(e, size, methods, x) -> dict[str, np.ndarray]:
    """Every method's map from one :func:`explain` result (of the photo ``x``) at the primary CAM layer."""
    sig = Signals(
        size=tuple(size),
        gradient=e.gradient.numpy(),
        guided=e.guided.numpy(),
        deconvnet=e.deconvnet.numpy(),
        input=x[0].float().cpu().numpy(),
        smooth=None if e.smooth is None else e.smooth.numpy(),
        cams={rule: e.variants[rule][PRIMARY_CAM_LAYER].numpy() for rule in cam_rules_used()},
    )
    return {n: m.map(sig) for n, m in methods.items()}


def _store(m: np.ndarray) -> np.ndarray:
    """A non-negative map scaled by its own peak, as float16 (for the cascade figures)."""
    peak = float(m.max())
    return (m / peak if peak > 0 else np.zeros_like(m)).astype(np.float16)


def _step_pass(net, x, target, base, with_smooth: bool, size, methods) -> tuple[dict, bool]:
    """Every method's map on one cascade network, with the saliency pass's class, noise and settings;
    and whether its raw Grad-CAM is flat."""
    rules = cam_rules_used()
    e = explain(net, x, target, cam_layers=[PRIMARY_CAM_LAYER], guided=True, deconvnet=True,
                smooth_n=saliency.SMOOTH_N.read(base) if with_smooth else 0, sigma=saliency.SIGMA.read(base),
                seed=saliency.NOISE_SEED.read(base), batch_size=saliency.BATCH_SIZE.read(base),
                channels_last=saliency.CHANNELS_LAST.read(base), cam=rules[0], cam_variants=rules)  # fmt: skip
    return pass_maps(e, size, methods, x), bool(e.cams[PRIMARY_CAM_LAYER].max() <= 0)


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    base = ctx.result(saliency.TECHNIQUE, image.id, "trained")
    other = ctx.result(saliency.TECHNIQUE, image.id, "untrained")
    untrained = ctx.model("untrained").net
    size = tuple(image.tensor.shape[-2:])
    target = int(saliency.TARGET.read(base))
    with_smooth = bool(ctx.settings["smoothgrad"])
    original, random_maps = method_maps(base, size), method_maps(other, size)
    methods = cascade_methods(with_smooth)
    photo = image.tensor[0].float().cpu().numpy()  # the input the maps explain, as the network is given it
    sanity = {m: metrics.compare(original[m], random_maps[m]) for m in METHODS}
    edge_rho = {m: {"trained": metrics.edge_agreement(original[m], photo),
                    "untrained": metrics.edge_agreement(random_maps[m], photo)} for m in METHODS}  # fmt: skip
    arrays: dict[str, np.ndarray] = {f"step0.{m}": _store(original[m]) for m in methods}
    # Is each step's raw Grad-CAM flat (ReLU of a weighted sum that is negative everywhere)?
    cam = saliency.CAM("grad_cam", PRIMARY_CAM_LAYER)
    cam_flat = [bool(cam.read(base).max() <= 0)]
    similarity = {m: {"spearman": [1.0], "ssim": [1.0]} for m in methods}
    x = image.tensor.to(ctx.device)
    for k in range(1, len(STEPS) + 1):
        if k == len(STEPS):
            # every group re-initialised: the network *is* the untrained model, whose maps the
            # saliency technique has already computed with the same class and noise (bit for bit
            # what explain() would return here; tests/test_sanity.py checks that)
            maps, flat = random_maps, bool(cam.read(other).max() <= 0)
        else:
            net = CascadeVGG(model.net, untrained, set(STEPS[:k]))
            maps, flat = _step_pass(net, x, target, base, with_smooth, size, methods)
        cam_flat.append(flat)
        for m in methods:
            c = metrics.compare(original[m], maps[m])
            similarity[m]["spearman"].append(c["spearman"])
            similarity[m]["ssim"].append(c["ssim"])
            arrays[f"step{k}.{m}"] = _store(maps[m])
    return Result(arrays=arrays, records={
        "steps": ["none"] + STEPS, "methods": list(methods), "similarity": similarity, "sanity": sanity,
        "edges": edge_rho, "target": target, "target_label": saliency.TARGET_LABEL.read(base),
        "smoothgrad_n": saliency.SMOOTH_N.read(base), "cam_flat": cam_flat,
    })  # fmt: skip
