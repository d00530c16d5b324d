"""The attribution methods with their own passes: Integrated Gradients, LRP, occlusion and Score-CAM.

Each needs many forward or backward passes (or rules of its own), so none is a map of the shared gradient
pass (:mod:`generator.lib.methods`); the trust chapter computes them, on both networks, for the photos in
its scope.  Each is declared once here, with what pages and the glossary say about it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from generator.lib.methods import Described


@dataclass(frozen=True)
class SeparateMethod(Described):
    """An attribution method with its own passes (many forward or backward passes, or its own rules), so not a
    map of the shared pass: ``compute(model, x, target, settings) -> (H x W map, info)``: the map is
    non-negative (the evidence *for* the class, which is how its pixels are ranked), ``info`` holds numbers
    the method reports about itself (Integrated Gradients: its completeness error).  The other fields are
    :class:`Method`'s."""

    group: str
    compute: Callable


def _positive_sum(a: torch.Tensor) -> np.ndarray:
    """A signed 3 x H x W attribution as the evidence for the class: its colour channels summed, then the
    positive part."""
    return a.double().sum(0).clamp(min=0).float().numpy()


def _integrated_gradients(model, x, target, s) -> tuple[np.ndarray, dict]:
    from generator.lib.integrated import completeness_error, integrated_gradients

    attr = integrated_gradients(model, x, target, steps=s["ig_steps"], baseline="black")
    info = {"completeness_error": completeness_error(model, x, target, attr), "passes": f"{s['ig_steps']} gradients"}
    return _positive_sum(attr), info


def _lrp(model, x, target, s) -> tuple[np.ndarray, dict]:
    from generator.lib.lrp import lrp

    return _positive_sum(lrp(model, x, target)), {"passes": "1 forward, 1 relevance pass"}


def _occlusion(model, x, target, s) -> tuple[np.ndarray, dict]:
    from generator.lib.perturbation import occlusion

    stats: dict = {}
    m = occlusion(
        model, x, target, window=s["window"], stride=s["stride"], batch_size=s["batch_size"], stats=stats,
        channels_last=s.get("channels_last", False),
    )  # fmt: skip
    return m.clamp(min=0).float().numpy(), {"passes": f"{stats['passes']} forward"}


def _score_cam(model, x, target, s) -> tuple[np.ndarray, dict]:
    from generator.lib.perturbation import score_cam

    stats: dict = {}
    channels = s.get("score_cam_channels") or None
    m = score_cam(
        model, x, target, s["score_cam_layer"], batch_size=s["batch_size"], stats=stats, channels=channels,
        channels_last=s.get("channels_last", False),
    )  # fmt: skip
    kept = f", scoring only its {channels} most active channels" if channels else ""
    n = stats.get("constant", 0)
    shared = f" ({n} constant channel{'s' if n != 1 else ''} of the layer share one)" if n else ""
    return m.float().numpy(), {"passes": f"{stats['passes']} forward{kept}{shared}"}


SEPARATE: dict[str, SeparateMethod] = {
    m.name: m
    for m in (
        SeparateMethod(
            "integrated_gradients",
            "Integrated Gradients",
            "separate",
            "Which pixels account for the score's rise from the mean-colour image to the photo?",
            "The gradient averaged along the straight path from a baseline image to the photo, times the photo "
            "minus the baseline: the attributions add up to the score's difference (completeness).",
            "Sundararajan et al., 2017",
            "#0077b6",
            "gradients",
            _integrated_gradients,
        ),
        SeparateMethod(
            "lrp",
            "LRP",
            "separate",
            "How does the class score divide among the pixels, layer by layer?",
            "Layer-wise relevance propagation: the score is handed down layer by layer in proportion to each "
            "input's contribution, with rules chosen by depth (z^B, gamma, epsilon, LRP-0 for VGG).",
            "Bach et al., 2015; Montavon et al., 2019",
            "#9d4edd",
            "backward rules",
            _lrp,
        ),
        SeparateMethod(
            "occlusion",
            "Occlusion",
            "separate",
            "Which regions, when covered, lower the class score the most?",
            "A grey square slid over the photo; each pixel gets the mean drop of the class score over the "
            "positions that cover it. It asks the network directly and needs no gradient.",
            "Zeiler & Fergus, 2014",
            "#6c757d",
            "perturbation",
            _occlusion,
        ),
        SeparateMethod(
            "score_cam",
            "Score-CAM",
            "separate",
            "Which of a layer's maps, used as masks on the photo, keep the class score high?",
            "Each channel of a layer, upsampled and scaled, masks the photo; the class score of each masked "
            "photo (through a softmax) weighs that channel. Forward passes only, no gradient.",
            "Wang et al., 2020",
            "#f4a261",
            "cam",
            _score_cam,
        ),
    )
}
"""The attribution methods with their own passes (the trust chapter computes them)."""
