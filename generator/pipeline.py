"""The build: what to run, what is already up to date, and what failed.

For each technique (in registry order):

1. **compute** every unit -- (image, model) or (model) -- whose cache key is
   new.  A key hashes the image bytes, the weights' identity, the technique's
   settings, the profile and the source of the code involved.  A unit's result
   is stored only after it finished, so a failed unit reruns next time.
2. **render** the figures, unless the render key (all unit keys plus the
   renderer's source) is unchanged and every figure is still on disk.
3. **write the fragment** from the template and the renderer's records.

Failures are collected, reported in one line each, and summarised at the end
instead of stopping the build.  Models are loaded lazily: a rebuild with
nothing changed never touches one.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import logging
import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from generator import __version__
from generator.atomic import atomic_write_bytes, atomic_write_text
from generator.config import SEED, Profile
from generator.techniques import ImageInput, ModelInput, Result, Technique, registry

log = logging.getLogger("generator")

STATE_DIR = ".state"  # inside the output dir: per-technique records and figure lists


# --------------------------------------------------------------------------- hashing


def _sha(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(json.dumps(p, sort_keys=True, default=str).encode() if not isinstance(p, bytes) else p)
        h.update(b"\0")
    return h.hexdigest()


_SOURCE_MEMO: dict[str, str] = {}


def source_hash(module_name: str) -> str:
    """Hash of a module's source file: any edit to the code invalidates its results."""
    if module_name not in _SOURCE_MEMO:
        module = importlib.import_module(module_name)
        try:
            src = Path(inspect.getsourcefile(module)).read_bytes()
        except (TypeError, OSError):
            src = module_name.encode()
        _SOURCE_MEMO[module_name] = hashlib.sha256(src).hexdigest()
    return _SOURCE_MEMO[module_name]


def code_hash(module_name: str) -> str:
    """Hash of a module's source and of every ``generator`` module it uses directly.

    A technique or renderer that imports helpers from another module (say
    ``render/saliency.py`` or ``optvis.py``) is invalidated when they change too.
    """
    import types

    module = importlib.import_module(module_name)
    deps = {module_name}
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and name.startswith("generator") and name in sys.modules:
            deps.add(name)
    return _sha(sorted((d, source_hash(d)) for d in deps))


def unit_seed(technique: str, image_id: str | None, model: str) -> int:
    digest = hashlib.sha256(f"{SEED}|{technique}|{image_id}|{model}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


# --------------------------------------------------------------------------- cache


class ResultCache:
    """Results stored as ``<dir>/<technique>/<key>.npz`` (arrays + records as JSON)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, technique: str, key: str) -> Path:
        return self.root / technique / f"{key}.npz"

    def has(self, technique: str, key: str) -> bool:
        return self._path(technique, key).is_file()

    def load(self, technique: str, key: str) -> Result:
        with np.load(self._path(technique, key), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k != "__records__"}
            records = json.loads(str(data["__records__"])) if "__records__" in data.files else {}
        return Result(arrays=arrays, records=records)

    def save(self, technique: str, key: str, result: Result) -> None:
        import io

        from generator.render import records_json

        buf = io.BytesIO()
        payload = {k: np.asarray(v) for k, v in result.arrays.items()}
        payload["__records__"] = np.asarray(json.dumps(records_json(result.records), sort_keys=True))
        np.savez(buf, **payload)
        atomic_write_bytes(self._path(technique, key), buf.getvalue())


# --------------------------------------------------------------------------- models


class ModelPool:
    """Loads each VGG16 on first use only."""

    def __init__(self, weights, device):
        from generator.models import WeightsSource

        self.weights: WeightsSource = weights
        self.device = device
        self._nets: dict[str, ModelInput] = {}
        self._ids: dict[str, str] = {}

    def identity(self, name: str) -> str:
        if name not in self._ids:
            import torchvision

            if name == "trained":
                self._ids[name] = "trained:" + self.weights.identity()
            elif name == "untrained":
                self._ids[name] = f"untrained:seed{SEED}:torchvision{torchvision.__version__}"
            else:
                raise ValueError(f"unknown model {name!r}; valid models: trained, untrained")
        return self._ids[name]

    def get(self, name: str) -> ModelInput:
        from generator import models

        if name not in self._nets:
            log.info("loading the %s VGG16", name)
            if name == "trained":
                net = models.build_trained(self.weights, self.device)
            elif name == "untrained":
                net = models.build_untrained(SEED, self.device)
            else:
                raise ValueError(f"unknown model {name!r}; valid models: trained, untrained")
            self._nets[name] = ModelInput(name, net)
        return self._nets[name]

    def check_pristine(self, when: str) -> None:
        """Raise ``ModelStateError`` if a loaded model is in training mode or has trainable parameters.

        Every technique must get (and leave) both VGG16s in eval mode with frozen
        parameters: Dropout in training mode changes every later result, so a
        leak would make the published numbers depend on build order.  A model
        found in that state is dropped from the pool (the next unit reloads it).
        """
        for name, model in list(self._nets.items()):
            bad = next((n or "the model" for n, m in model.net.named_modules() if m.training), None)
            what = f"module {bad} in training mode"
            if bad is None:
                bad = next((n for n, p in model.net.named_parameters() if p.requires_grad), None)
                what = f"parameter {bad} requiring grad"
            if bad is not None:
                del self._nets[name]
                raise ModelStateError(f"internal error: {when} the {name} VGG16 had {what}; "
                                      f"a technique must leave models in eval mode with frozen parameters")


# --------------------------------------------------------------------------- build


class ModelStateError(RuntimeError):
    """A model was not in eval mode with frozen parameters around a unit (a bug in a technique)."""


class SkipUnit(Exception):
    """A unit not attempted because something it needs already failed (reported once)."""


@dataclass
class Failure:
    where: str
    message: str


@dataclass
class TechniqueStats:
    computed: int = 0
    cached: int = 0
    compute_s: float = 0.0
    render_s: float = 0.0
    rendered: bool = False
    figures: int = 0


@dataclass
class BuildReport:
    failures: list[Failure] = field(default_factory=list)
    stats: dict[str, TechniqueStats] = field(default_factory=dict)
    images: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures


@dataclass
class BuildOptions:
    profile: Profile
    images_dir: Path
    out_dir: Path
    cache_dir: Path
    weights: Any  # generator.models.WeightsSource
    device: Any  # torch.device
    only: list[str] | None = None
    progress: bool = True


class Build:
    def __init__(self, opts: BuildOptions, techniques: dict[str, Technique] | None = None):
        self.opts = opts
        self.techniques = techniques or registry()
        self.cache = ResultCache(opts.cache_dir)
        self.models = ModelPool(opts.weights, opts.device)
        self.report = BuildReport()
        self.images: list[ImageInput] = []
        self._keys: dict[tuple[str, str | None, str], str] = {}
        self._in_progress: set[tuple] = set()
        self._weights_failed = False

    # -- small helpers ------------------------------------------------------------------
    def _bar(self, iterable, desc: str, total: int | None = None):
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, disable=not self.opts.progress, leave=False,
                    unit="unit", file=sys.stderr, dynamic_ncols=True)

    def _fail(self, where: str, exc: BaseException | str) -> None:
        if isinstance(exc, BaseException):
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if not isinstance(exc, (ValueError, OSError, ModelStateError)) and type(exc).__module__ != "generator.models":
                msg = f"{type(exc).__name__}: {msg}"
                log.debug("%s\n%s", where, "".join(traceback.format_exception(exc)))
        else:
            msg = exc
        self.report.failures.append(Failure(where, msg))
        log.error("%s: %s", where, msg)

    # -- images ---------------------------------------------------------------------------
    def load_images(self) -> None:
        from generator import images as imgmod

        found, problems = imgmod.discover(self.opts.images_dir)
        for p in problems:
            log.warning("%s", p)
        for src in self._bar(found, "images"):
            try:
                pil = imgmod.load_rgb(src.path)
                prep = imgmod.prepare(pil, self.opts.profile.input_size)
            except imgmod.ImageError as exc:
                self._fail(f"image {src.path.name}", str(exc))
                continue
            title = src.credit.title if src.credit and src.credit.title else src.id
            self.images.append(ImageInput(src.id, title, src.sha256, prep.seen, prep.tensor, src.credit))
        self.report.images = len(self.images)

    # -- keys and results ------------------------------------------------------------------
    def technique_settings(self, tech: Technique) -> dict:
        return tech.settings_for(self.opts.profile.name)

    def unit_key(self, tech: Technique, image_id: str | None, model: str) -> str:
        k = (tech.name, image_id, model)
        if k not in self._keys:
            if tech.scope == "image":
                image_part: Any = next(i.sha256 for i in self.images if i.id == image_id)
            else:
                image_part = sorted((i.id, i.sha256) for i in self.images)
            self._keys[k] = _sha(
                "unit", __version__, tech.name, tech.version, self.technique_settings(tech),
                self.opts.profile.as_dict(), image_part, self.models.identity(model),
                code_hash(f"generator.techniques.{tech.name}"), source_hash("generator.models"),
                source_hash("generator.images"), source_hash("generator.techniques"),
                source_hash("generator.config"),
            )
        return self._keys[k]

    def units(self, tech: Technique) -> list[tuple[str | None, str]]:
        ids: list[str | None] = [i.id for i in self.images] if tech.scope == "image" else [None]
        return [(i, m) for i in ids for m in tech.models]

    def result(self, name: str, image_id: str | None, model: str) -> Result:
        """A technique's result for one unit: from the cache, or computed now."""
        tech = self.techniques.get(name)
        if tech is None:
            raise ValueError(f"unknown technique {name!r}; valid: {', '.join(self.techniques)}")
        if tech.scope == "model":
            image_id = None
        key = self.unit_key(tech, image_id, model)
        if self.cache.has(name, key):
            return self.cache.load(name, key)
        return self._compute(tech, image_id, model, key)

    def _compute(self, tech: Technique, image_id: str | None, model: str, key: str) -> Result:
        import torch

        marker = (tech.name, image_id, model)
        if marker in self._in_progress:
            raise RuntimeError(f"dependency cycle while computing {marker}")
        self._in_progress.add(marker)
        try:
            if model == "trained" and self._weights_failed:
                raise SkipUnit("skipped: the trained weights are unavailable (see the error above)")
            image = next(i for i in self.images if i.id == image_id) if image_id else None
            seed = unit_seed(tech.name, image_id, model)
            ctx = _context(self, tech, seed)
            net = self.models.get(model)
            where = "/".join(p for p in (tech.name, image_id, model) if p)
            self.models.check_pristine(f"before {where},")
            torch.manual_seed(seed)
            np.random.seed(seed)
            t0 = time.perf_counter()
            result = tech.compute(ctx, net, image)
            self.models.check_pristine(f"after {where},")
            stats = self.report.stats.setdefault(tech.name, TechniqueStats())
            stats.compute_s += time.perf_counter() - t0
            stats.computed += 1
            self.cache.save(tech.name, key, result)
            return result
        finally:
            self._in_progress.discard(marker)

    # -- one technique ------------------------------------------------------------------------
    def _state_path(self, name: str) -> Path:
        return self.opts.out_dir / STATE_DIR / f"{name}.json"

    def _read_state(self, name: str) -> dict | None:
        try:
            return json.loads(self._state_path(name).read_text())
        except (OSError, ValueError):
            return None

    def run_technique(self, tech: Technique) -> None:
        stats = self.report.stats.setdefault(tech.name, TechniqueStats())
        units = self.units(tech)
        try:
            keys = {u: self.unit_key(tech, *u) for u in units}
        except Exception as exc:  # e.g. weights file missing when hashing
            if not (_is_weights_error(exc) and self._weights_failed):
                self._fail(tech.name, exc)
            self._weights_failed = self._weights_failed or _is_weights_error(exc)
            return
        render_key = _sha("render", sorted((str(u), k) for u, k in keys.items()),
                          code_hash(f"generator.render.{tech.name}"), source_hash("generator.render"),
                          source_hash("generator.config"))
        state = self._read_state(tech.name)
        if (state and state.get("render_key") == render_key
                and all((self.opts.out_dir / f["path"]).is_file() for f in state["figures"])):
            stats.cached += len(units)
            self._write_fragments(tech, state)
            return

        results: dict[tuple[str | None, str], Result] = {}
        failed = False
        for image_id, model in self._bar(units, f"{tech.name:>22}"):
            try:
                if self.cache.has(tech.name, keys[(image_id, model)]):
                    results[(image_id, model)] = self.cache.load(tech.name, keys[(image_id, model)])
                    stats.cached += 1
                else:
                    results[(image_id, model)] = self._compute(tech, image_id, model, keys[(image_id, model)])
            except SkipUnit:
                failed = True
                break
            except Exception as exc:
                where = "/".join(p for p in (tech.name, image_id, model) if p)
                self._fail(where, exc)
                failed = True
                if _is_weights_error(exc):
                    self._weights_failed = True
                    break
        if failed:
            return

        t0 = time.perf_counter()
        try:
            state = self._render(tech, results, render_key)
        except Exception as exc:
            self._fail(f"{tech.name} (render)", exc)
            return
        stats.render_s += time.perf_counter() - t0
        stats.rendered = True
        stats.figures = len(state["figures"])
        self._write_fragments(tech, state)

    def _render(self, tech: Technique, results, render_key: str) -> dict:
        from generator.render import RenderContext, records_json

        renderer = importlib.import_module(f"generator.render.{tech.name}")
        rc = RenderContext(technique=tech.name, out_dir=self.opts.out_dir, profile=self.opts.profile,
                           settings=self.technique_settings(tech), images=self.images,
                           other_results=self._other_results)
        records = renderer.render(rc, results) or {}
        # Drop figures this render no longer produces.
        keep = {f.path for f in rc.figures}
        fig_root = self.opts.out_dir / "figures" / tech.name
        if fig_root.is_dir():
            for p in sorted(fig_root.rglob("*")):
                if p.is_file() and p.relative_to(self.opts.out_dir).as_posix() not in keep:
                    p.unlink()
        state = {"technique": tech.name, "render_key": render_key,
                 "figures": [f.as_dict() for f in rc.figures], "records": records_json(records)}
        atomic_write_text(self._state_path(tech.name), json.dumps(state, indent=1, sort_keys=True))
        return state

    def _other_results(self, name: str) -> dict:
        tech = self.techniques[name]
        return {u: self.result(name, *u) for u in self.units(tech)}

    def _write_fragments(self, tech: Technique, state: dict) -> None:
        from generator import fragments

        try:
            fragments.write_technique(self, tech, state)
        except Exception as exc:
            self._fail(f"{tech.name} (fragment)", exc)

    # -- the whole build ---------------------------------------------------------------------
    def selected(self) -> list[Technique]:
        if not self.opts.only:
            return list(self.techniques.values())
        unknown = [n for n in self.opts.only if n not in self.techniques]
        if unknown:
            raise ValueError(f"unknown technique(s) {', '.join(unknown)}; valid: {', '.join(self.techniques)}")
        return [t for t in self.techniques.values() if t.name in self.opts.only]

    def run(self) -> BuildReport:
        from generator import fragments

        t0 = time.perf_counter()
        self.opts.out_dir.mkdir(parents=True, exist_ok=True)
        selected = self.selected()
        try:
            self.load_images()
        except Exception as exc:
            self._fail("images", exc)
            self.report.seconds = time.perf_counter() - t0
            return self.report
        if not self.images:
            self._fail("images", f"{self.opts.images_dir}: no usable images. Add photos (JPEG or PNG) there")
            self.report.seconds = time.perf_counter() - t0
            return self.report
        fragments.write_site_fragments(self)
        for tech in selected:
            self.run_technique(tech)
        fragments.write_manifest(self)
        self.report.seconds = time.perf_counter() - t0
        return self.report


def _is_weights_error(exc: BaseException) -> bool:
    from generator.models import WeightsError

    return isinstance(exc, WeightsError)


def _context(build: Build, tech: Technique, seed: int):
    from generator.techniques import Context

    return Context(profile=build.opts.profile, settings=build.technique_settings(tech),
                   device=build.opts.device, images=build.images, seed=seed,
                   result_fn=build.result, model_fn=build.models.get)


def clean(out_dir: Path, cache_dir: Path) -> None:
    for d in (out_dir, cache_dir):
        if Path(d).exists():
            shutil.rmtree(d)
