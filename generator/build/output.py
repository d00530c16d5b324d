"""What a technique leaves in the output folder: its figures and its state (render key, figure list, records)."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

from generator.build.state import StateStore
from generator.core import Technique, records_json

INCOMPLETE = ".incomplete"
"""Present in an output folder while a build is writing it (and after one that was stopped)."""
INCOMPLETE_TEXT = (
    "A build of this folder started and did not finish (interrupted, or the disk was full), "
    "so its figures and fragments may be a mix of two builds. Rerun `nox -s build`.\n"
)


def render_technique(
    name: str,
    settings: dict,
    results: dict,
    render_key: str,
    out_dir: Path,
    profile,
    images,
    states: StateStore,
    labels: dict | None = None,
) -> dict:
    """Run technique ``name``'s renderer (with its merged ``settings``), drop figures it no longer makes,
    record its state; return the state."""
    import time

    from generator.render import RenderContext

    t0 = time.perf_counter()
    renderer = importlib.import_module(f"generator.chapters.{name}.render")
    rc = RenderContext(
        technique=name, out_dir=out_dir, profile=profile, settings=settings, images=images, labels=labels
    )
    records = renderer.render(rc, results) or {}
    keep = {path for f in rc.figures for path in f.files()} | set(rc.data_files)
    drop_unlisted(Path(out_dir), Path(out_dir) / "figures" / name, keep)
    # Timings of the run that computed each unit and made these figures, so a rerun repeats them.
    timing = {
        "units": len(results),
        "render_seconds": round(time.perf_counter() - t0, 1),
        "compute_seconds": round(sum(r.seconds or 0.0 for r in results.values()), 1),
    }
    state = {
        "technique": name,
        "render_key": render_key,
        "timing": timing,
        "figures": [f.as_dict() for f in rc.figures],
        "records": records_json(records),
    }
    if rc.data_files:
        state["data"] = sorted(rc.data_files)
    state["files"] = file_stats(Path(out_dir), figure_files(state["figures"], state.get("data", [])))
    states.write(name, state)
    return state


def file_stats(out_dir: Path, paths: list[str]) -> dict[str, list[int]]:
    """Each file's [size, mtime in ns], as written: a later build trusts a figure only while both still match,
    so a figure edited, replaced or truncated by hand is rendered again."""
    stats = {}
    for path in paths:
        st = (out_dir / path).stat()
        stats[path] = [st.st_size, st.st_mtime_ns]
    return stats


def drop_unlisted(out_dir: Path, fig_root: Path, keep: set[str]) -> None:
    """Delete every file under ``fig_root`` whose path (relative to ``out_dir``) is not in ``keep``, then the
    folders that leaves empty: what an earlier version of a renderer made and this one no longer does."""
    if not fig_root.is_dir():
        return
    for p in sorted(fig_root.rglob("*")):
        if p.is_file() and p.relative_to(out_dir).as_posix() not in keep:
            p.unlink()
    for d in sorted((d for d in fig_root.rglob("*") if d.is_dir()), key=lambda d: len(d.parts), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()


def figure_files(figures: list[dict], data: list[str] = ()) -> list[str]:
    """Every file a state's figures name (each figure, and its thumbnail when it has one), and its data files."""
    return [path for f in figures for path in [f["path"]] + ([f["thumb"]["path"]] if f.get("thumb") else [])] + list(
        data
    )


def drop_output(tech: Technique, out_dir: Path, states: StateStore) -> None:
    """Remove a technique's figures and state (so the manifest no longer lists it)."""
    shutil.rmtree(Path(out_dir) / "figures" / tech.name, ignore_errors=True)
    states.path(tech.name).unlink(missing_ok=True)
