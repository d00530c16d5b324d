"""Computing units: a technique's result for one (photo, model) or (model), from the cache or computed now.

:class:`Computing` is the part of :class:`generator.build.run.Build` that runs ``compute``: it seeds each
unit, hands it a :class:`generator.core.Context` that can read only the upstream units its cache key
covers, checks that both models are unchanged before and after, and stores the result once the unit
finished.  A unit that needs the trained weights while they are unavailable is skipped, not failed.
"""

from __future__ import annotations

import time

import numpy as np

from generator.build.keys import unit_seed
from generator.build.report import TechniqueStats
from generator.core import Context, Result, Technique

Unit = tuple  # (image_id or None, model name)


class SkipUnit(Exception):
    """A unit not attempted because something it needs already failed (reported once)."""


def _is_weights_error(exc: BaseException) -> bool:
    from generator.models import WeightsError

    return isinstance(exc, WeightsError)


class Computing:
    """Mixed into :class:`generator.build.run.Build` (which provides the attributes used here)."""

    # -- results -------------------------------------------------------------------------------
    def result(self, name: str, image_id: str | None, model: str) -> Result:
        """A technique's result for one unit: from the cache, or computed now."""
        tech = self.techniques.get(name)
        if tech is None:
            raise ValueError(f"unknown technique {name!r}; valid: {', '.join(self.techniques)}")
        if tech.scope == "model":
            image_id = None
        key = self.unit_key(tech, image_id, model)
        cached = self.cache.get(name, key)
        return cached if cached is not None else self._compute(tech, image_id, model, key)

    def _context(self, tech: Technique, image_id: str | None, seed: int) -> Context:
        allowed = set(self.upstream(tech, image_id))

        def upstream_result(name: str, i: str | None, m: str) -> Result:
            need = self.techniques.get(name)
            unit = (name, None if need is not None and need.scope == "model" else i, m)
            if unit not in allowed:
                raise RuntimeError(
                    f"internal error: {tech.name} read {'/'.join(p for p in unit if p)}, which it "
                    f"does not declare; add {name!r} to its needs=(...)"
                    if name not in tech.needs
                    else f"internal error: {tech.name} read {'/'.join(p for p in unit if p)}, "
                    f"a unit its cache key does not cover"
                )
            return self.result(*unit)

        return Context(
            profile=self.opts.profile,
            settings=tech.compute_settings_for(self.opts.profile.name),
            device=self.opts.device,
            images=self.images,
            seed=seed,
            result_fn=upstream_result,
            model_fn=self.models.get,
        )

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
            ctx = self._context(tech, image_id, seed)
            net = self.models.get(model)
            where = "/".join(p for p in (tech.name, image_id, model) if p)
            self.models.check_pristine(f"before {where},")
            torch.manual_seed(seed)
            np.random.seed(seed)
            t0 = time.perf_counter()
            result = tech.run(ctx, net, image)
            self.models.check_pristine(f"after {where},")
            result.seconds = time.perf_counter() - t0
            stats = self.report.stats.setdefault(tech.name, TechniqueStats())
            stats.compute_s += result.seconds
            stats.computed += 1
            self.cache.save(tech.name, key, result)
            return result
        finally:
            self._in_progress.discard(marker)

    def _unit_keys(self, tech: Technique, units: list[Unit]) -> tuple[dict[Unit, str] | None, bool]:
        """Every unit's key, and whether some unit needs the trained weights, which are unavailable
        (None for the keys: a failure, reported)."""
        keys: dict[Unit, str] = {}
        missing = False
        for unit in units:
            try:
                keys[unit] = self.unit_key(tech, *unit)
            except Exception as exc:  # e.g. the weights file vanished while hashing
                if not _is_weights_error(exc):
                    self._fail(tech.name, exc)
                    return None, missing
                self._weights_unavailable(exc)
                missing = True
        return keys, missing

    def _gather(self, tech: Technique, keys: dict[Unit, str], stats) -> tuple[dict[Unit, Result], bool]:
        """Every unit's result, from the cache or computed now; and whether one was skipped for want of the
        trained weights.  Other failures are reported and leave their unit out."""
        results: dict[Unit, Result] = {}
        skipped = False
        for image_id, model in self._bar(list(keys), f"{tech.name:>22}"):
            try:
                cached = self.cache.get(tech.name, keys[(image_id, model)])
                if cached is not None:
                    results[(image_id, model)] = cached
                    stats.cached += 1
                else:
                    results[(image_id, model)] = self._compute(tech, image_id, model, keys[(image_id, model)])
            except SkipUnit:
                skipped = True
            except Exception as exc:
                if not _is_weights_error(exc):
                    self._fail("/".join(p for p in (tech.name, image_id, model) if p), exc)
                else:
                    self._weights_unavailable(exc)
                    skipped = True
        return results, skipped
