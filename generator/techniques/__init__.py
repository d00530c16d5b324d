"""Techniques: pure computation, one module per technique, one shape for all.

A technique module defines a module-level ``TECHNIQUE = Technique(...)``.  Its
``compute(ctx, model, image)`` runs the network and returns a ``Result``:
numpy arrays plus JSON-able records.  It never draws.  The pipeline discovers
every module in this package, so adding a technique means adding

* ``generator/techniques/<name>.py``   -- ``TECHNIQUE`` and ``compute``;
* ``generator/render/<name>.py``       -- ``render(rc, results)``, figures from arrays;
* ``generator/templates/<name>.md.j2`` -- the markdown fragment;
* ``docs/<chapter>.md``                -- the hand-written chapter that includes it.

``scope="image"`` techniques run once per (image, model); ``scope="model"``
ones once per model.  ``models`` lists which of the two VGG16s they run on.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torchvision.models import VGG

    from generator.config import Profile
    from generator.images import Credit

MODEL_NAMES = ("trained", "untrained")


@dataclass(frozen=True)
class ImageInput:
    """One photo, prepared: what every technique gets."""

    id: str
    title: str
    sha256: str
    seen: np.ndarray  # HxWx3 float32 in [0, 1]: the pixels the model sees
    tensor: "torch.Tensor"  # 1x3xHxW, normalised, on the CPU
    credit: "Credit | None" = None


@dataclass(frozen=True)
class ModelInput:
    name: str  # "trained" or "untrained"
    net: "VGG"  # eval mode, parameters frozen, out-of-place ReLUs


@dataclass
class Result:
    """What a technique returns: arrays for renderers, records for text."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)


class Context:
    """What ``compute`` may use besides its model and image.

    Attributes: ``profile``, ``settings`` (this technique's settings for the
    profile), ``device``, ``images`` (all prepared images), ``seed`` (this
    unit's seed; torch is already seeded with it).  ``result(technique,
    image_id, model_name)`` returns another technique's result (from the cache,
    computing it if needed); ``model(name)`` returns the other VGG16.
    """

    def __init__(self, *, profile, settings, device, images, seed, result_fn, model_fn):
        self.profile: Profile = profile
        self.settings: dict = settings
        self.device: torch.device = device
        self.images: list[ImageInput] = images
        self.seed: int = seed
        self._result_fn = result_fn
        self._model_fn = model_fn

    def result(self, technique: str, image_id: str | None, model_name: str) -> Result:
        return self._result_fn(technique, image_id, model_name)

    def model(self, name: str) -> ModelInput:
        return self._model_fn(name)


ComputeFn = Callable[[Context, ModelInput, "ImageInput | None"], Result]


@dataclass(frozen=True)
class Technique:
    name: str  # module name, used in file names and --only
    title: str  # human title
    chapter: str  # docs/<chapter> that shows it
    order: int  # position in the manifest and the site
    compute: ComputeFn
    settings: dict[str, dict]  # profile name -> settings (captions state them)
    scope: Literal["image", "model"] = "image"
    models: tuple[str, ...] = MODEL_NAMES
    version: str = "1"  # bump to invalidate cached results by hand
    summary: str = ""  # one line for `python -m generator list`

    def settings_for(self, profile: str) -> dict:
        if profile not in self.settings:
            raise ValueError(f"technique {self.name} has no settings for profile {profile!r}")
        return dict(self.settings[profile])


def registry() -> dict[str, Technique]:
    """Every technique in this package, in ``order``."""
    found: list[Technique] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        tech = getattr(module, "TECHNIQUE", None)
        if isinstance(tech, Technique):
            if tech.name != info.name:
                raise RuntimeError(f"generator/techniques/{info.name}.py: TECHNIQUE.name is "
                                   f"{tech.name!r}; it must equal the module name")
            found.append(tech)
    return {t.name: t for t in sorted(found, key=lambda t: (t.order, t.name))}
