"""Rendering in worker processes writes the same bytes as rendering in the build's own process.

The session's quick build renders with ``--jobs 2`` (two worker processes); this test renders the same
cached results again in the build's own process (``--jobs 1``) into a fresh folder and compares every
file.  Only what states wall-clock time may differ: the timed fragments (build page, methods table), the
timings in ``.state/`` and the files' mtimes it records.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from generator.build.fresh import STAMP
from generator.site.pages import TIMED_FRAGMENTS
from tests.conftest import quick_args, run_generator

ROOT = Path(__file__).resolve().parents[1]


def contents(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file, with the timings taken out of the state files."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if not p.is_file() or rel in (".lock", STAMP.as_posix()) or rel in TIMED_FRAGMENTS:
            continue
        data = p.read_bytes()
        if rel.startswith(".state/"):
            state = json.loads(data)
            state.pop("timing", None)
            state.pop("files", None)  # each figure's size and mtime, as written: the mtimes differ by design
            data = json.dumps(state, sort_keys=True).encode()
        out[rel] = hashlib.sha256(data).hexdigest()
    return out


def test_render_workers_write_the_same_bytes_as_one_process(quick_build, standin_weights, tmp_path):
    cache = quick_build.parent / "cache"
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    proc = run_generator(
        *quick_args(ROOT / "images", out, cache, standin_weights, "--jobs", "1", "--report", report), timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    techniques = json.loads(report.read_text())["techniques"]
    assert all(t["computed"] == 0 and t["rendered"] for t in techniques.values()), techniques  # only rendering
    two, one = contents(quick_build), contents(out)
    assert len(one) > 600
    assert sorted(one) == sorted(two)
    differ = [p for p in one if one[p] != two[p]]
    assert not differ, f"{len(differ)} files differ between --jobs 1 and --jobs 2, e.g. {differ[:5]}"


def test_a_full_disk_in_a_worker_stops_the_build_in_one_line(tmp_path):
    """A render worker's DiskFull reaches the build as the same exception (it crosses a process boundary)."""
    import pickle

    from generator.atomic import DiskFull

    err = pickle.loads(pickle.dumps(DiskFull(tmp_path / "figure.webp")))
    assert isinstance(err, DiskFull) and str(err).endswith("free some space and rerun")
    assert str(tmp_path / "figure.webp") in str(err)


def test_render_failures_in_workers_are_reported_per_technique(tmp_path, standin_weights, monkeypatch):
    """A renderer that raises in a worker costs its own chapter only, reported in one line."""
    import torch

    from generator.build import Build, BuildOptions, render_jobs
    from generator.config import get_profile
    from generator.models import WeightsSource

    images = tmp_path / "images"
    images.mkdir()
    (images / "chelsea.png").write_bytes((ROOT / "images" / "chelsea.png").read_bytes())
    opts = BuildOptions(
        profile=get_profile("quick"),
        images_dir=images,
        out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        weights=WeightsSource(standin_weights, explicit=True),
        device=torch.device("cpu"),
        only=["architecture", "predictions"],
        progress=False,
        jobs=2,
    )
    build = Build(opts)
    real = render_jobs.RenderPool.submit

    def broken_predictions(self, job):
        if job.technique == "predictions":  # a job the worker cannot run: its renderer does not exist
            job = render_jobs.RenderJob(**{**job.__dict__, "technique": "no_such_renderer"})
        return real(self, job)

    monkeypatch.setattr(render_jobs.RenderPool, "submit", broken_predictions)
    report = build.run()
    assert [f.where for f in report.failures] == ["predictions (render)"]
    assert "no_such_renderer" in report.failures[0].message and "\n" not in report.failures[0].message
    assert (
        report.stats["architecture"].rendered and (tmp_path / "out" / "fragments" / "architecture.table.md").is_file()
    )


def test_jobs_must_be_a_positive_number(capsys):
    import pytest

    from generator.cli import main

    for bad in ("0", "-2", "many"):
        with pytest.raises(SystemExit) as exc:
            main(["build", "--jobs", bad])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert "is not a number of worker processes; pass a whole number >= 1" in err and "Traceback" not in err


def test_a_single_render_runs_in_the_build_process_and_more_go_to_workers(monkeypatch):
    """A worker's start costs seconds (the forkserver imports torch and matplotlib): one deferred job is drawn
    in this process, whatever --jobs says; two or more go to the workers."""
    from generator.build import render_jobs

    ran_here = []
    monkeypatch.setattr(render_jobs, "run_job", lambda job: ran_here.append(job) or ({"job": job}, 0.0))
    pool = render_jobs.RenderPool(jobs=4, defer=True)
    fut = pool.submit("only")
    pool.start()
    assert fut.result(timeout=5) == ({"job": "only"}, 0.0) and ran_here == ["only"]
    assert pool._executor is None  # no worker was started
    pool.close()

    pool = render_jobs.RenderPool(jobs=2, defer=True)
    futures = [pool.submit(name) for name in ("a", "b")]
    started = []
    monkeypatch.setattr(render_jobs.RenderPool, "_run", lambda self, job, inline=False: started.append(inline)
                        or _done(job))  # fmt: skip
    pool.start()
    assert started == [False, False] and [f.result(timeout=5) for f in futures] == ["a", "b"]


def _done(value):
    from concurrent.futures import Future

    fut: Future = Future()
    fut.set_result(value)
    return fut
