"""The types every part of the site shares, with no torch import.

A technique of the site is one folder, ``generator/chapters/<name>/``, whose
``spec.py`` declares it (``TECHNIQUE = Technique(...)`` and its named
``Output``\\ s) using only this module.  The result cache, the output code, the
renderers and the no-change build read these types without importing torch;
only a technique's ``compute.py`` (and :mod:`generator.lib`) needs it.

* :class:`ImageInput`, :class:`ModelInput`: what ``compute`` gets;
* :class:`Result`: what it returns (arrays for renderers, records for text);
* :class:`Output`, :class:`OutputFamily`: a result's named outputs, declared
  once in the producer's spec and read by consumers through them, so that a
  misspelt output fails at import or in a test, not in a build;
* :class:`Context`: what ``compute`` may use besides its model and image;
* :class:`Technique`: one technique's declaration.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

    from generator.config import Profile
    from generator.credits import Credit

MODEL_NAMES = ("trained", "untrained")
"""The two VGG16s, in the order every page and plot lists them (``generator.models.MODELS`` describes them)."""


@dataclass(frozen=True)
class ImageInput:
    """One photo, prepared: what every technique gets."""

    id: str
    title: str
    sha256: str
    seen: np.ndarray  # HxWx3 float32 in [0, 1]: the pixels the model sees
    tensor: torch.Tensor  # 1x3xHxW, normalised, on the CPU
    credit: Credit | None = None


@dataclass(frozen=True)
class ModelInput:
    name: str  # "trained" or "untrained"
    net: Any  # a torchvision VGG: eval mode, parameters frozen, out-of-place ReLUs


@dataclass
class Result:
    """What a technique returns: arrays for renderers, records for text."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    records: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None  # compute time, measured by the run that computed it (kept in the cache)


def records_json(obj):
    """Make records JSON-able (numpy scalars and arrays to Python; objects with ``as_dict``)."""
    import numpy as np

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


# --------------------------------------------------------------------------- named outputs


@dataclass(frozen=True)
class Output:
    """One named output of a technique: an array or a record of its ``Result``.

    The producer declares it in its spec and writes it with :meth:`put`; a
    consumer reads it with :meth:`read` (or :meth:`get` when it is
    ``optional``, i.e. not in every result).
    """

    technique: str
    key: str
    doc: str
    kind: Literal["array", "record"] = "array"
    optional: bool = False

    def _store(self, result: Result) -> dict:
        return result.arrays if self.kind == "array" else result.records

    def put(self, result: Result, value) -> None:
        self._store(result)[self.key] = value

    def read(self, result: Result):
        store = self._store(result)
        if self.key not in store:
            raise KeyError(
                f"{self.technique}'s result has no {self.kind} {self.key!r} ({self.doc}); "
                f"it holds {', '.join(sorted(store)) or 'none'}"
            )
        return store[self.key]

    def get(self, result: Result, default=None):
        return self._store(result).get(self.key, default)

    def present(self, result: Result) -> bool:
        return self.key in self._store(result)


@dataclass(frozen=True)
class OutputFamily:
    """Outputs named by one or more members (a layer, a method): ``family(member, ...)`` is an :class:`Output`.

    ``axes`` gives each member position's allowed values (a tuple, or a function returning one, for values
    that only the science knows, such as the CAM rules in use), so an unknown member fails where it is asked for.
    """

    technique: str
    key: str
    doc: str
    axes: tuple  # of tuple[str, ...] or Callable[[], tuple[str, ...]]
    kind: Literal["array", "record"] = "array"
    optional: bool = False

    def __call__(self, *members: str) -> Output:
        if len(members) != len(self.axes):
            raise TypeError(f"{self.technique} output {self.key!r} takes {len(self.axes)} member(s), got {members}")
        for m, allowed in zip(members, self.allowed()):
            if m not in allowed:
                raise KeyError(f"{self.technique} output {self.key!r} has no member {m!r}; valid: {', '.join(allowed)}")
        return Output(self.technique, ".".join((self.key, *members)), self.doc, self.kind, self.optional)

    def allowed(self) -> list[tuple[str, ...]]:
        """Each member position's allowed values."""
        return [tuple(a() if callable(a) else a) for a in self.axes]

    def all(self) -> list[Output]:
        """Every member's output."""
        combos: list[tuple[str, ...]] = [()]
        for allowed in self.allowed():
            combos = [c + (m,) for c in combos for m in allowed]
        return [self(*c) for c in combos]


def declared(outputs) -> list[Output]:
    """Every single :class:`Output` among ``outputs`` (a module's or a namespace's values), families expanded."""
    found: list[Output] = []
    for value in outputs:
        if isinstance(value, Output):
            found.append(value)
        elif isinstance(value, OutputFamily):
            found.extend(value.all())
    return found


# --------------------------------------------------------------------------- context and technique


class Context:
    """What ``compute`` may use besides its model and image.

    Attributes: ``profile``, ``settings`` (this technique's compute settings
    for the profile), ``device``, ``images`` (all prepared images), ``seed``
    (this unit's seed; torch is already seeded with it).
    ``result(technique, image_id, model_name)`` returns an upstream result
    (from the cache, computing it if needed): only techniques listed in
    ``needs``, and only units that the unit's key covers (see
    :meth:`generator.build.run.Build.upstream`).  ``technique`` is a name or
    a :class:`Technique`.  ``model(name)`` returns the other VGG16.
    """

    def __init__(self, *, profile, settings, device, images, seed, result_fn, model_fn):
        self.profile: Profile = profile
        self.settings: dict = settings
        self.device: torch.device = device
        self.images: list[ImageInput] = images
        self.seed: int = seed
        self._result_fn = result_fn
        self._model_fn = model_fn

    def result(self, technique: str | Technique, image_id: str | None, model_name: str) -> Result:
        name = technique.name if isinstance(technique, Technique) else technique
        return self._result_fn(name, image_id, model_name)

    def model(self, name: str) -> ModelInput:
        return self._model_fn(name)

    def pick(self, *names: str) -> dict:
        """Some of the compute settings, by name, to pass on as keyword arguments."""
        return {n: self.settings[n] for n in names}


ComputeFn = Callable[[Context, ModelInput, "ImageInput | None"], Result]


@dataclass(frozen=True)
class Technique:
    """One technique of the site, declared in ``generator/chapters/<name>/spec.py``.

    Its code lives beside the spec: ``compute.py`` defines ``compute(ctx, model,
    image) -> Result`` (imported only when a unit is computed, so reading the
    registry needs no torch), ``render.py`` defines ``render(rc, results)``,
    and ``templates/<name>*.md.j2`` are its fragments.

    ``compute_settings`` (profile -> dict) go into every unit's cache key;
    ``render_settings`` only into the render key, so changing one re-renders
    the figures without recomputing anything.  Templates and captions see
    both, merged.  ``needs`` names the techniques whose results ``compute``
    reads through ``ctx.result``: the build runs them first and chains their
    unit keys into this technique's keys.  ``compute`` may be given directly
    (tests do, to swap in a function).
    """

    name: str  # the chapter folder's name, used in file names and --only
    title: str  # human title
    chapter: str  # docs/<chapter> that shows it
    order: int  # position in the manifest and the site
    compute_settings: dict[str, dict]  # profile name -> settings that change results
    render_settings: dict[str, dict] = field(default_factory=dict)  # profile name -> figure-only settings
    needs: tuple[str, ...] = ()
    scope: Literal["image", "model"] = "image"
    models: tuple[str, ...] = MODEL_NAMES
    summary: str = ""  # one line for `python -m generator list`
    family: str | None = None  # the attribution family (generator.lib.methods) whose methods this chapter shows
    compute: ComputeFn | None = None  # default: compute() in generator/chapters/<name>/compute.py

    @property
    def package(self) -> str:
        """The chapter's package, ``generator.chapters.<name>``."""
        return f"generator.chapters.{self.name}"

    @property
    def compute_module(self) -> str:
        return f"{self.package}.compute"

    @property
    def render_module(self) -> str:
        return f"{self.package}.render"

    def run(self, ctx: Context, model: ModelInput, image: ImageInput | None) -> Result:
        """Compute one unit (importing ``compute.py`` now, with torch)."""
        fn = self.compute or importlib.import_module(self.compute_module).compute
        return fn(ctx, model, image)

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
