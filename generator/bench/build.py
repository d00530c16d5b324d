"""The whole build: cold, rendering with 1 and with N workers, and a rebuild with nothing to do.

In fresh temporary folders, on ``--device`` (default cpu), with the ``default``
profile on a CPU and the ``full`` profile on a GPU (``--profile`` picks another):

1. **cold**: ``python -m generator build`` from an empty cache; wall time,
   CPU time, peak memory, and each technique's compute and render seconds.
   Targets: default profile on a CPU at most 300 s (2 cores); full profile on
   one H200-class GPU at most 40 s.
2. **render only, 1 worker vs N**: the same results rendered again into
   fresh folders (``--jobs 1``, then ``--jobs N``, N = the cores); their ratio,
   and whether the two folders hold the same bytes.
3. **no change**: the cold build's command again (median of ``--repeats``),
   which must answer in at most 1 s without importing torch, and with
   ``properdocs build --strict`` of the site (what ``nox -s build`` runs after
   it): at most 4 s in all.
4. On a GPU, **reproducibility**: a second cold build into another folder,
   compared file by file with the first (``generator.build.same``).

Weights: ``--weights``, else the torch hub cache, else a seeded stand-in
(the timings hold; every row then says so).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from generator.bench.foundation import _run, _weights

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {("cpu", "default"): 300.0, ("cuda", "full"): 40.0}


def _row(metric, value, unit, target=None, ok=None, device="cpu"):
    return {
        "bench": "build",
        "metric": f"{metric} [{device}]",
        "value": float(value),
        "unit": unit,
        "target": "" if target is None else target,
        "ok": ok,
    }


def _generator(profile: str, out: Path, cache: Path, weights: Path, device: str, *more: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "generator",
        "build",
        "--profile",
        profile,
        "--images",
        str(ROOT / "images"),
        "--out",
        str(out),
        "--cache",
        str(cache),
        "--weights",
        str(weights),
        "--device",
        device,
        "--no-progress",
        *more,
    ]


def _imports_torch(cmd: list[str], env) -> bool:
    """Whether running ``cmd`` (a ``python -m generator ...`` command) imports torch."""
    probe = [cmd[0], "-X", "importtime", *cmd[1:]]
    proc = subprocess.run(probe, env=env, capture_output=True, text=True, cwd=ROOT)
    return any(line.rstrip().endswith("| torch") for line in proc.stderr.splitlines())


def run(args) -> list[dict]:
    import torch

    from generator.bench import bench_device, site_command
    from generator.build.same import compare, sums

    device = str(bench_device(args))
    profile = getattr(args, "profile", None) or ("full" if device == "cuda" else "default")
    repeats = max(1, int(getattr(args, "repeats", 3)))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    rows: list[dict] = []

    def row(*a, **kw):
        rows.append(_row(*a, device=device, **kw))

    with tempfile.TemporaryDirectory(prefix="cnn-sees-bench-build-") as tmpdir:
        tmp = Path(tmpdir)
        weights, note = _weights(args, tmp)
        site = tmp / "site-src"
        shutil.copytree(ROOT / "docs", site / "docs", ignore=shutil.ignore_patterns("generated"))
        shutil.copy(ROOT / "mkdocs.yml", site / "mkdocs.yml")
        out, cache = site / "docs" / "generated", tmp / "cache"
        env = dict(os.environ, CNN_SEES_HASH_MEMO=str(tmp / "sha-memo.json"), MPLBACKEND="Agg")
        report = tmp / "cold.json"
        cmd = _generator(profile, out, cache, weights, device, "--report", str(report))

        print(f"build bench: cold {profile} build on {device} ...", file=sys.stderr, flush=True)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        cold, rc, rss, tail, cpu = _run(cmd, env=env)
        if rc != 0:
            print(f"build bench: the cold build failed ({rc}):\n{tail}", file=sys.stderr)
            return [_row(f"cold build, {profile} profile{note}", float("nan"), "s", "builds", False, device)]
        rep = json.loads(report.read_text())
        target = TARGETS.get((device, profile))
        row(
            f"cold build, {profile} profile, {rep['images']} photos{note}",
            cold,
            "s",
            f"<= {target:g}" if target else "",
            cold <= target if target else None,
        )
        row("cold build: CPU time (user+sys)", cpu, "s")
        row("cold build: peak memory", rss / 2**30, "GiB")
        row(f"1-minute load average at the start ({cores} cores)", load, "")
        for name, t in rep["techniques"].items():
            row(f"cold: {name} compute", t["compute_s"], "s")
            row(f"cold: {name} render (in a worker)", t["render_s"], "s")

        # rendering only: the same cached results, 1 worker vs one per core
        n = max(2, cores)
        walls = {}
        for jobs in (1, n):
            where = tmp / f"render-{jobs}"
            print(f"build bench: rendering again with --jobs {jobs} ...", file=sys.stderr, flush=True)
            walls[jobs], rc_r, _, tail_r, _ = _run(
                _generator(profile, where, cache, weights, device, "--jobs", str(jobs)), env=env
            )
            if rc_r != 0:
                print(f"build bench: render-only build failed ({rc_r}):\n{tail_r}", file=sys.stderr)
        row("render-only build, --jobs 1", walls[1], "s")
        row(f"render-only build, --jobs {n}", walls[n], "s")
        row(f"render-only speed-up, {n} workers vs 1", walls[1] / walls[n], "x", "> 1", walls[1] / walls[n] > 1)
        bad, _ = compare(sums(tmp / "render-1"), sums(tmp / f"render-{n}"), [])
        row(f"files that differ, --jobs 1 vs --jobs {n}", len(bad), "files", "0", not bad)

        # nothing changed
        warm = []
        for _ in range(repeats):
            t, rc_w, _, tail_w, _ = _run(cmd, env=env)
            if rc_w != 0 or "nothing changed" not in tail_w:
                print(f"build bench: the no-change rebuild did work ({rc_w}):\n{tail_w}", file=sys.stderr)
            warm.append(t)
        gen_warm = statistics.median(warm)
        row(f"no-change rebuild: generator (median of {repeats})", gen_warm, "s", "<= 1", gen_warm <= 1.0)
        torch_loaded = _imports_torch(cmd, env)
        row("no-change rebuild imports torch (1 = yes)", int(torch_loaded), "", "0", not torch_loaded)
        docs = site_command(site / "mkdocs.yml", tmp / "site")
        site_times = []
        for _ in range(repeats):
            t, rc_s, _, tail_s, _ = _run(docs, env=env, cwd=site)
            if rc_s != 0:
                print(f"build bench: properdocs build --strict failed ({rc_s}):\n{tail_s}", file=sys.stderr)
            site_times.append(t)
        total = gen_warm + statistics.median(site_times)
        row("no-change rebuild: properdocs build --strict (median)", statistics.median(site_times), "s")
        row("no-change rebuild: generator + site", total, "s", "<= 4", total <= 4.0)

        if device == "cuda":
            print("build bench: a second cold build, to compare bytes ...", file=sys.stderr, flush=True)
            second = tmp / "second"
            t2, rc2, _, tail2, _ = _run(_generator(profile, second / "out", second / "cache", weights, device), env=env)
            if rc2 != 0:
                print(f"build bench: the second cold build failed ({rc2}):\n{tail2}", file=sys.stderr)
            bad, _ = compare(sums(out), sums(second / "out"), [])
            for line in bad[:20]:
                print(f"build bench: differs: {line.strip()}", file=sys.stderr)
            row(f"files that differ between two cold {profile} builds", len(bad), "files", "0", rc2 == 0 and not bad)
            row("second cold build", t2, "s")
            row(f"GPU: {torch.cuda.get_device_name(0)}", 0, "")
    return rows
