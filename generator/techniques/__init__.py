"""Techniques: pure computation, one module per technique, one shape for all.

A technique module defines a module-level ``TECHNIQUE = Technique(...)``.  Its
``compute(ctx, model, image)`` runs the network and returns a ``Result``:
numpy arrays plus JSON-able records.  It never draws, and the science itself
lives in :mod:`generator.lib`.  The build discovers every module in this
package and runs them in the order of their ``needs``, so adding a technique
means adding

* ``generator/techniques/<name>.py``        -- ``TECHNIQUE`` and ``compute``;
* ``generator/render/<name>.py``            -- ``render(rc, results)``, figures from arrays;
* ``generator/site/templates/<name>.md.j2`` -- the markdown fragment;
* ``docs/<chapter>.md``                     -- the hand-written chapter that includes it.

``scope="image"`` techniques run once per (image, model); ``scope="model"``
ones once per model.  ``models`` lists which of the two VGG16s they run on.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np

from generator.models import MODEL_NAMES

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torchvision.models import VGG

    from generator.config import Profile
    from generator.images import Credit



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
    seconds: float | None = None  # compute time, measured by the run that computed it (kept in the cache)


def records_json(obj):
    """Make records JSON-able (numpy scalars and arrays to Python; objects with ``as_dict``)."""
    if isinstance(obj, dict):
        return {str(k): records_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [records_json(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "as_dict"):
        return obj.as_dict()
    return obj


class Context:
    """What ``compute`` may use besides its model and image.

    Attributes: ``profile``, ``settings`` (this technique's compute settings
    for the profile), ``device``, ``images`` (all prepared images), ``seed``
    (this unit's seed; torch is already seeded with it).
    ``result(technique, image_id, model_name)`` returns an upstream result
    (from the cache, computing it if needed): only techniques listed in
    ``needs``, and only units that the unit's key covers (see
    :meth:`generator.build.run.Build.upstream`).  ``model(name)`` returns the
    other VGG16.
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
PROFILE_NAMES = ("quick", "default", "full")


@dataclass(frozen=True)
class Technique:
    """One technique of the site.

    ``compute_settings`` (profile -> dict) go into every unit's cache key;
    ``render_settings`` only into the render key, so changing one re-renders
    the figures without recomputing anything.  Templates and captions see
    both, merged.  ``needs`` names the techniques whose results ``compute``
    reads through ``ctx.result``: the build runs them first and chains their
    unit keys into this technique's keys.
    """

    name: str  # module name, used in file names and --only
    title: str  # human title
    chapter: str  # docs/<chapter> that shows it
    order: int  # position in the manifest and the site
    compute: ComputeFn
    compute_settings: dict[str, dict]  # profile name -> settings that change results
    render_settings: dict[str, dict] = field(default_factory=dict)  # profile name -> figure-only settings
    needs: tuple[str, ...] = ()
    scope: Literal["image", "model"] = "image"
    models: tuple[str, ...] = MODEL_NAMES
    summary: str = ""  # one line for `python -m generator list`

    def _for(self, table: dict[str, dict], profile: str, what: str, required: bool) -> dict:
        if profile not in table:
            if required or table:
                raise ValueError(f"technique {self.name} has no {what} for profile {profile!r}")
            return {}
        return dict(table[profile])

    def compute_settings_for(self, profile: str) -> dict:
        return self._for(self.compute_settings, profile, "compute_settings", True)

    def render_settings_for(self, profile: str) -> dict:
        return self._for(self.render_settings, profile, "render_settings", False)

    def settings_for(self, profile: str) -> dict:
        """Compute and render settings together (what templates and captions state)."""
        return self.compute_settings_for(profile) | self.render_settings_for(profile)


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


def run_order(techniques: dict[str, Technique], wanted: list[str] | None = None) -> list[Technique]:
    """``wanted`` (default: all) plus everything they need, each after its needs.

    Among techniques whose needs are met, the order of ``techniques`` is kept.
    Raises a one-line ``ValueError`` for an unknown name or a cycle.
    """
    names = list(techniques)
    for tech in techniques.values():
        unknown = [n for n in tech.needs if n not in techniques]
        if unknown:
            raise ValueError(f"technique {tech.name} needs unknown technique(s) {', '.join(unknown)}; "
                             f"valid: {', '.join(names)}")
    unknown = [n for n in (wanted or []) if n not in techniques]
    if unknown:
        raise ValueError(f"unknown technique(s) {', '.join(unknown)}; valid: {', '.join(names)}")
    chosen: set[str] = set()
    todo = list(wanted) if wanted else list(names)
    while todo:
        n = todo.pop()
        if n not in chosen:
            chosen.add(n)
            todo.extend(techniques[n].needs)
    ordered: list[Technique] = []
    done: set[str] = set()
    pending = [n for n in names if n in chosen]
    while pending:
        ready = [n for n in pending if all(d in done for d in techniques[n].needs)]
        if not ready:
            raise ValueError(f"techniques {', '.join(pending)} need each other in a cycle; "
                             f"break it in their needs=(...)")
        n = ready[0]
        ordered.append(techniques[n])
        done.add(n)
        pending.remove(n)
    return ordered
