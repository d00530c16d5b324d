"""The build: what to run, in which order, what is already up to date, and what failed.

Techniques run in the order of their ``needs`` (``run_order``).  For each one:

1. **compute** every unit -- (image, model) or (model) -- whose cache key is
   new.  A key hashes the image bytes, the model's identity, the technique's
   compute settings, the profile, the code hash of everything the technique
   can import, and the keys of the upstream units it reads.  A result is
   stored only after its unit finished, so a failed unit reruns next time.
   Both models are checked to be in eval mode with frozen parameters before
   and after every unit.
2. **render** the figures, unless the render key (unit keys, render settings,
   the renderer's code hash) is unchanged and every figure is still on disk.
3. **write the fragment** from the template and the renderer's records.

Failures are collected, reported in one line each, and summarised at the end
instead of stopping the build.  Models are loaded lazily: a rebuild with
nothing changed never touches one.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.atomic import DiskFull, atomic_write_text
from generator.build.cache import ResultCache
from generator.build.compute import Computing, Unit
from generator.build.inputs import load_inputs
from generator.build.keys import UnitKeys
from generator.build.output import INCOMPLETE, INCOMPLETE_TEXT, figure_files, file_stats
from generator.build.pool import ModelPool, ModelStateError
from generator.build.render_jobs import RenderJob, RenderPool, default_jobs, light_images
from generator.build.report import BuildReport, Failure, TechniqueStats
from generator.build.site_output import SiteOutput
from generator.build.state import StateStore
from generator.chapters import registry, run_order
from generator.config import Profile
from generator.core import ImageInput, Technique
from generator.errors import ImageError

log = logging.getLogger("generator")


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
    jobs: int | None = None  # render worker processes; None: one per CPU core; 1: render in this process


class Build(SiteOutput, Computing):
    def __init__(self, opts: BuildOptions, techniques: dict[str, Technique] | None = None):
        self.opts = opts
        self.techniques = techniques or registry()
        self.cache = ResultCache(opts.cache_dir)
        self.state = StateStore(opts.out_dir)
        self.models = ModelPool(opts.weights, opts.device)
        self.report = BuildReport(profile=opts.profile.name, device=str(opts.device))
        self.images: list[ImageInput] = []
        self.keys = UnitKeys(self.techniques, self.images, opts.profile, self.models.identity)
        self._in_progress: set[tuple] = set()
        self._weights_failed = False
        self._weights_reason = ""
        self._weights_identity = None
        # on a CPU, rendering waits for the compute (see RenderPool); on a GPU it runs beside it
        self.renders = RenderPool(opts.jobs or default_jobs(), defer=getattr(opts.device, "type", "cpu") != "cuda")
        self._pending: list[tuple[Technique, Any]] = []  # (technique, Future of (state, seconds))

    # -- small helpers ------------------------------------------------------------------
    def _bar(self, iterable, desc: str, total: int | None = None):
        from tqdm.auto import tqdm

        return tqdm(
            iterable,
            desc=desc,
            total=total,
            disable=not self.opts.progress,
            leave=False,
            unit="unit",
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def _fail(self, where: str, exc: BaseException | str) -> None:
        if isinstance(exc, DiskFull):
            raise exc  # nothing more can be written: stop the whole build (run() reports it once)
        if isinstance(exc, BaseException):
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if not isinstance(exc, (ValueError, OSError, ModelStateError, ImageError)) and type(exc).__module__ not in (
                "generator.models",
                "generator.weights",
            ):
                msg = f"{type(exc).__name__}: {msg}"
                log.debug("%s\n%s", where, "".join(traceback.format_exception(exc)))
        else:
            msg = exc
        self.report.failures.append(Failure(where, msg))
        log.error("%s: %s", where, msg)

    # -- images ---------------------------------------------------------------------------
    def load_images(self) -> None:
        for where, message in load_inputs(self.opts.images_dir, self.opts.profile.input_size, self.images, self._bar):
            self._fail(where, message)
        self.report.images = len(self.images)

    # -- keys -------------------------------------------------------------------------------
    def units(self, tech: Technique) -> list[Unit]:
        return self.keys.units(tech)

    def upstream(self, tech: Technique, image_id: str | None) -> list[tuple[str, str | None, str]]:
        return self.keys.upstream(tech, image_id)

    def unit_key(self, tech: Technique, image_id: str | None, model: str) -> str:
        return self.keys.unit(tech, image_id, model)

    # -- one technique ------------------------------------------------------------------------
    def run_technique(self, tech: Technique) -> None:
        """Compute what is stale, then render (or, with nothing changed, only rewrite the fragments)."""
        stats = self.report.stats.setdefault(tech.name, TechniqueStats())
        units = self.units(tech)
        keys, missing = self._unit_keys(tech, units)
        if keys is None:
            return
        labels = {m.name: m.label for m in self.model_table().values()}
        render_key = None if missing else self.keys.render(tech, keys, labels)
        if render_key is not None and self._rendered(tech, render_key):
            stats.cached += len(units)
            self._write_fragments(tech, self.state.read(tech.name))
            return
        results, skipped = self._gather(tech, keys, stats)
        if missing or skipped:  # what could be computed is cached; the chapter says what is missing
            self._write_missing(tech)
            return
        if len(results) < len(units):
            return
        # Rendering runs in a worker process (or here, with --jobs 1) from the cached results: on a GPU
        # while the build goes on computing, on a CPU once it is done; the fragment follows the figures.
        job = RenderJob(
            technique=tech.name,
            settings=tech.settings_for(self.opts.profile.name),
            keys=keys,
            render_key=render_key,
            out_dir=self.opts.out_dir,
            cache_dir=self.opts.cache_dir,
            profile=self.opts.profile,
            images=light_images(self.images),
            labels=labels,
        )
        self._pending.append((tech, self.renders.submit(job)))

    def _rendered(self, tech: Technique, render_key: str) -> bool:
        """Whether the figures on disk are this render key's, all still there and untouched since they were
        written (each file's size and mtime as its state recorded them)."""
        state = self.state.read(tech.name)
        if not state or state.get("render_key") != render_key or "files" not in state:
            return False
        wanted = figure_files(state["figures"], state.get("data", []))
        try:
            return file_stats(self.opts.out_dir, wanted) == state["files"]
        except OSError:  # one is missing (deleted by hand)
            return False

    def finish_renders(self) -> None:
        """Wait for every submitted render, in submission order; record it and write its fragment."""
        self.renders.start()
        pending, self._pending = self._pending, []
        waiting = [p for p in pending if not p[1].done()]
        bar = self._bar(None, f"{'rendering':>22}", total=len(waiting)) if waiting else None
        for tech, fut in pending:
            try:
                state, seconds = fut.result()
            except Exception as exc:
                self._fail(f"{tech.name} (render)", exc)
                continue
            finally:
                if bar is not None and (tech, fut) in waiting:
                    bar.update()
            stats = self.report.stats.setdefault(tech.name, TechniqueStats())
            stats.render_s += seconds
            stats.rendered = True
            stats.figures = len(state["figures"])
            self._write_fragments(tech, state)
        if bar is not None:
            bar.close()

    # -- the whole build ---------------------------------------------------------------------
    def selected(self) -> list[Technique]:
        """The techniques to render, each after the ones it needs (``--only`` keeps just those named)."""
        order = run_order(self.techniques, self.opts.only)
        return [t for t in order if not self.opts.only or t.name in self.opts.only]

    def run(self) -> BuildReport:
        """Build everything selected.  Until it finishes, ``<out>/.incomplete`` says the folder is
        half-updated (the site build refuses such a folder); a full disk stops the build in one line."""
        t0 = time.perf_counter()
        selected = self.selected()
        interrupted = True  # until _run returns: Ctrl-C or an error stops the render workers at once
        try:
            self._run(selected)
            interrupted = False
        except DiskFull as exc:
            self.report.failures.append(Failure("build stopped", str(exc)))
            log.error("%s", exc)
            interrupted = False
        finally:
            self.renders.close(cancel=True, terminate=interrupted)
        self.report.seconds = time.perf_counter() - t0
        return self.report

    def _run(self, selected: list[Technique]) -> None:
        from generator.lib.determinism import configure
        from generator.site.fragments import write_networks_note, write_site_fragments
        from generator.site.pages import write_build_page, write_conclusions, write_manifest, write_methods_table

        configure(self.opts.device)  # reproducible CUDA kernels (nothing to do on a CPU)
        self.opts.out_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.load_images()
        except Exception as exc:
            self._fail("images", exc)
            return
        if not self.images:
            self._fail("images", f"{self.opts.images_dir}: no usable images. Add photos (JPEG or PNG) there")
            return
        marker = self.opts.out_dir / INCOMPLETE
        atomic_write_text(marker, INCOMPLETE_TEXT)
        site = self.site_context()
        explorer = any(t.name == "explorer" for t in selected) or self.state.read("explorer") is not None
        write_site_fragments(site, self.images, explorer=explorer)
        for tech in selected:
            self.run_technique(tech)
        self.finish_renders()
        site = self.site_context()  # again: whether the trained weights could be loaded is known now
        write_manifest(site, self.techniques.values(), self.state)
        write_networks_note(site)
        write_build_page(site, self.techniques.values(), self.state, self.build_info())
        write_methods_table(site, self.techniques.values(), self.state, str(self.opts.device))
        write_conclusions(site, self.state)
        marker.unlink(missing_ok=True)
