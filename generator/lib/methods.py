"""The attribution methods, declared once: what each is, what it needs of the shared pass, its map.

Every map-producing attribution is one :class:`Method` in :data:`METHODS`.
The site iterates over this table: the saliency pass computes what the
methods need, and the Grad-CAM figures, the sanity checks, the methods table,
the gallery and the glossary list every method in it.  A method says which
signals of the shared pass (:func:`generator.lib.engine.explain`) it uses and
how they become one H x W map:

* ``"gradient"``, ``"guided"``, ``"deconvnet"``, ``"smooth"``: the input gradient, the guided
  backprop and DeconvNet signals, SmoothGrad's mean |gradient| (each 3 x H x W);
* ``"input"``: the photo as the network saw it (3 x H x W, normalised);
* a CAM rule's name (``"grad_cam"``, ``"grad_cam_plus_plus"``): that rule's raw
  h x w map at the method's layer.

Adding a method that the pass already supports is one ``Method(...)`` here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from generator.lib.attr import saliency_map, upsample
from generator.lib.cam_rules import CAM_RULES

INPUT_SIGNALS = ("gradient", "guided", "deconvnet", "smooth", "input")


@dataclass(frozen=True)
class Signals:
    """What one shared pass yields for one image and class, as numpy arrays (CPU, float32)."""

    size: tuple[int, int]  # the input's H x W
    gradient: np.ndarray | None = None  # 3 x H x W, signed
    guided: np.ndarray | None = None  # 3 x H x W, signed
    smooth: np.ndarray | None = None  # 3 x H x W, mean |gradient| over the noisy copies
    deconvnet: np.ndarray | None = None  # 3 x H x W, signed
    input: np.ndarray | None = None  # 3 x H x W, the photo in the network's input space
    cams: Mapping[str, np.ndarray] = field(default_factory=dict)  # CAM rule -> raw h x w at one layer

    def signal(self, name: str) -> np.ndarray:
        value = self.cams.get(name) if name in CAM_RULES else getattr(self, name)
        if value is None:
            raise KeyError(f"this pass did not compute {name!r}")
        return np.asarray(value)


def _gradient(s: Signals) -> np.ndarray:
    return saliency_map(s.signal("gradient"))


def _smoothgrad(s: Signals) -> np.ndarray:
    return s.signal("smooth").max(axis=0)


def _guided(s: Signals) -> np.ndarray:
    return saliency_map(s.signal("guided"))


def _input_x_gradient(s: Signals) -> np.ndarray:
    # an additive attribution: the colour channels' contributions sum, then the magnitude is shown
    return np.abs((s.signal("input") * s.signal("gradient")).sum(axis=0))


def _deconvnet(s: Signals) -> np.ndarray:
    return saliency_map(s.signal("deconvnet"))


def cam_map(rule: str) -> Callable[[Signals], np.ndarray]:
    def to_map(s: Signals) -> np.ndarray:
        return upsample(torch.as_tensor(s.signal(rule)), s.size).numpy()

    return to_map


def _guided_grad_cam(s: Signals) -> np.ndarray:
    cam = upsample(torch.as_tensor(s.signal("grad_cam")), s.size, scale=False).numpy()
    return np.abs(s.signal("guided") * cam).max(axis=0)


DESCRIBED = ("name", "title", "family", "question", "definition", "citation", "colour", "group")
"""What pages, the manifest and the glossary state about a method (its ``as_dict``)."""


@dataclass(frozen=True)
class Described:
    """What every attribution method states about itself (see :class:`Method` for the fields)."""

    name: str
    title: str
    family: str
    question: str
    definition: str
    citation: str
    colour: str

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in DESCRIBED}


@dataclass(frozen=True)
class Method(Described):
    """One attribution method.

    ``family``: ``"gradient"`` (a map from the input gradient's pass) or ``"cam"``
    (needs a layer).  ``group``: the family a reader knows it by (``"gradients"``, ``"backward
    rules"``, ``"perturbation"``, ``"cam"``), which the trust table and the glossary group by.
    ``question``: what its map answers, in one line;
    ``definition``: one plain sentence for the glossary; ``colour``: its line and
    dot colour in every plot.  ``uses``: the signals it reads (see the module
    docstring); ``to_map``: signals -> H x W map (non-negative, not yet scaled
    unless the method scales itself).  ``cam_rule``: the CAM rule it adds to
    the pass, for a CAM method.
    """

    uses: tuple[str, ...]
    to_map: Callable[[Signals], np.ndarray]
    group: str = "gradients"

    @property
    def needs_layer(self) -> bool:
        return any(u in CAM_RULES for u in self.uses)

    @property
    def cam_rule(self) -> str | None:
        """The CAM rule this method *is* (its own name when that is a rule), else None."""
        return self.name if self.name in CAM_RULES else None

    def map(self, signals: Signals) -> np.ndarray:
        """This method's H x W map, float32."""
        return np.asarray(self.to_map(signals)).astype(np.float32)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "gradient",
            "Gradient",
            "gradient",
            "Which pixels is the class score most sensitive to?",
            "The class score's gradient with respect to the input pixels, its largest absolute value over the "
            "colour channels: how much a small change of each pixel would move the score.",
            "Simonyan et al., 2013",
            "#1b6ca8",
            ("gradient",),
            _gradient,
        ),
        Method(
            "smoothgrad",
            "SmoothGrad",
            "gradient",
            "Which pixels matter once the gradient's noise is averaged away?",
            "The gradient's magnitude averaged over many copies of the photo with Gaussian noise added, "
            "which smooths away the speckle of a single gradient.",
            "Smilkov et al., 2017",
            "#6a4c93",
            ("smooth",),
            _smoothgrad,
        ),
        Method(
            "input_x_gradient",
            "Gradient × input",
            "gradient",
            "Which pixels contribute to the score, to first order?",
            "The gradient multiplied by the photo itself, summed over the colour channels: each pixel's "
            "first-order contribution to the class score (exact for a linear model).",
            "Shrikumar et al., 2016",
            "#3a86ff",
            ("gradient", "input"),
            _input_x_gradient,
        ),
        Method(
            "guided",
            "Guided backprop",
            "gradient",
            "Which input patterns pass positive signals back through every ReLU?",
            "A backward pass that, at every ReLU, also drops negative incoming gradients; its maps look sharp "
            "but depend little on the weights.",
            "Springenberg et al., 2014",
            "#2a9d8f",
            ("guided",),
            _guided,
            "backward rules",
        ),
        Method(
            "deconvnet",
            "DeconvNet",
            "gradient",
            "Which input patterns does the network's top-down pass reconstruct?",
            "A backward pass in which every ReLU passes only positive gradients, whatever the unit's own "
            "activation was: Zeiler and Fergus's reconstruction of what a unit responds to.",
            "Zeiler & Fergus, 2014",
            "#52796f",
            ("deconvnet",),
            _deconvnet,
            "backward rules",
        ),
        Method(
            "grad_cam",
            "Grad-CAM",
            "cam",
            "Where in the photo is the evidence for the class?",
            "A layer's channels weighted by the spatial mean of the class score's gradient, summed and passed "
            "through a ReLU: a coarse map of where the evidence is.",
            "Selvaraju et al., 2017",
            "#e76f51",
            ("grad_cam",),
            cam_map("grad_cam"),
            "cam",
        ),
        Method(
            "grad_cam_plus_plus",
            "Grad-CAM++",
            "cam",
            "Where is the evidence, counting every part of the photo that adds to the class?",
            "Grad-CAM with each channel weighted by its positive gradients only, each scaled by a factor from "
            "higher powers of the gradient, so that every region that raises the score counts, not just the largest.",
            "Chattopadhay et al., 2018",
            "#d4a017",
            ("grad_cam_plus_plus",),
            cam_map("grad_cam_plus_plus"),
            "cam",
        ),
        Method(
            "layer_cam",
            "LayerCAM",
            "cam",
            "Where is the evidence, location by location, even at a shallow layer?",
            "Each activation weighted by its own positive gradient (not by a channel's average), summed over "
            "the channels and passed through a ReLU: a CAM that keeps fine detail at early layers.",
            "Jiang et al., 2021",
            "#b5179e",
            ("layer_cam",),
            cam_map("layer_cam"),
            "cam",
        ),
        Method(
            "guided_grad_cam",
            "Guided Grad-CAM",
            "cam",
            "Which fine details inside the Grad-CAM region carry the evidence?",
            "Guided backprop multiplied pixel by pixel by the upsampled Grad-CAM map: fine detail, restricted "
            "to where Grad-CAM finds evidence.",
            "Selvaraju et al., 2017",
            "#8a5a44",
            ("guided", "grad_cam"),
            _guided_grad_cam,
            "cam",
        ),
    )
}
"""Every attribution method the site shows, in the order pages list them."""


def cam_rules_used(methods=None) -> list[str]:
    """The CAM rules the methods need from the pass (Grad-CAM first: it is the primary one)."""
    used = [u for m in (methods or METHODS).values() for u in m.uses if u in CAM_RULES]
    return sorted(set(used), key=lambda r: (r != "grad_cam", list(CAM_RULES).index(r)))


def family(name: str, methods=None) -> list[Method]:
    """The methods of one family, in table order."""
    return [m for m in (methods or METHODS).values() if m.family == name]


def cam_methods(methods=None) -> list[Method]:
    """The CAM family: the methods that need a layer."""
    return family("cam", methods)


def every_method() -> list:
    """Every attribution method the site shows: the shared pass's, then those with their own passes
    (:data:`generator.lib.separate.SEPARATE`)."""
    from generator.lib.separate import SEPARATE

    return [*METHODS.values(), *SEPARATE.values()]
