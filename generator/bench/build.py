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
5. With ``--baseline REV``, **the cost of a change**: a cold build of commit
   ``REV`` (checked out into a temporary worktree), in the same run and on
   the same photos, and the ratio of this tree's cold build to it.  The
   attribution methods' budget: at most 1.4x the commit before them
   (:data:`BUDGETS`).

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
from dataclasses import dataclass, field
from pathlib import Path

from generator.bench.foundation import _run, _weights
from generator.build.command import build_command

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {("cpu", "default"): 300.0, ("cuda", "full"): 40.0}
BUDGETS = {"default": 1.4}
"""The most this tree's cold build may cost against ``--baseline`` (the commit before a change), per profile."""


def _row(metric, value, unit, target=None, ok=None, device="cpu"):
    from generator.bench import row

    return row("build", metric, value, unit, target, ok, device)


def _generator(profile: str, out: Path, cache: Path, weights: Path, device: str, *more: str) -> list[str]:
    return build_command(profile, out, cache, *more, images=ROOT / "images", weights=weights, device=device)


def _imports_torch(cmd: list[str], env) -> bool:
    """Whether running ``cmd`` (a ``python -m generator ...`` command) imports torch."""
    probe = [cmd[0], "-X", "importtime", *cmd[1:]]
    proc = subprocess.run(probe, env=env, capture_output=True, text=True, cwd=ROOT)
    return any(line.rstrip().endswith("| torch") for line in proc.stderr.splitlines())


@dataclass
class _Bench:
    """One run of this benchmark: where it builds, with what, and the rows it has so far."""

    profile: str
    device: str
    repeats: int
    cores: int
    tmp: Path
    weights: Path
    note: str
    env: dict
    rows: list = field(default_factory=list)

    @property
    def site(self) -> Path:
        return self.tmp / "site-src"

    @property
    def out(self) -> Path:
        return self.site / "docs" / "generated"

    @property
    def cache(self) -> Path:
        return self.tmp / "cache"

    def row(self, *a, **kw) -> None:
        self.rows.append(_row(*a, device=self.device, **kw))

    def command(self, *more: str, out: Path | None = None, cache: Path | None = None) -> list[str]:
        return _generator(self.profile, out or self.out, cache or self.cache, self.weights, self.device, *more)


def _cold(b: _Bench) -> tuple[float, list[str]] | None:
    """The cold build: its wall time and its command (None, with a row saying so, when it failed)."""
    report = b.tmp / "cold.json"
    cmd = b.command("--report", str(report))
    print(f"build bench: cold {b.profile} build on {b.device} ...", file=sys.stderr, flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cold, rc, rss, tail, cpu = _run(cmd, env=b.env)
    if rc != 0:
        print(f"build bench: the cold build failed ({rc}):\n{tail}", file=sys.stderr)
        b.row(f"cold build, {b.profile} profile{b.note}", float("nan"), "s", "builds", False)
        return None
    rep = json.loads(report.read_text())
    target = TARGETS.get((b.device, b.profile))
    b.row(
        f"cold build, {b.profile} profile, {rep['images']} photos{b.note}",
        cold,
        "s",
        f"<= {target:g}" if target else "",
        cold <= target if target else None,
    )
    b.row("cold build: CPU time (user+sys)", cpu, "s")
    b.row("cold build: peak memory", rss / 2**30, "GiB")
    b.row(f"1-minute load average at the start ({b.cores} cores)", load, "")
    for name, t in rep["techniques"].items():
        b.row(f"cold: {name} compute", t["compute_s"], "s")
        b.row(f"cold: {name} render (in a worker)", t["render_s"], "s")
    return cold, cmd


def _render_only(b: _Bench) -> None:
    """The same cached results rendered again, with 1 worker and with one per core; the bytes must agree."""
    from generator.build.same import compare, sums

    n = max(2, b.cores)
    walls = {}
    for jobs in (1, n):
        print(f"build bench: rendering again with --jobs {jobs} ...", file=sys.stderr, flush=True)
        walls[jobs], rc, _, tail, _ = _run(b.command("--jobs", str(jobs), out=b.tmp / f"render-{jobs}"), env=b.env)
        if rc != 0:
            print(f"build bench: render-only build failed ({rc}):\n{tail}", file=sys.stderr)
    b.row("render-only build, --jobs 1", walls[1], "s")
    b.row(f"render-only build, --jobs {n}", walls[n], "s")
    b.row(f"render-only speed-up, {n} workers vs 1", walls[1] / walls[n], "x", "> 1", walls[1] / walls[n] > 1)
    bad, _ = compare(sums(b.tmp / "render-1"), sums(b.tmp / f"render-{n}"), [])
    b.row(f"files that differ, --jobs 1 vs --jobs {n}", len(bad), "files", "0", not bad)


def _no_change(b: _Bench, cmd: list[str]) -> None:
    """The cold build's command again (nothing to do), then the site build after it."""
    from generator.bench import site_command

    warm = []
    for _ in range(b.repeats):
        t, rc, _, tail, _ = _run(cmd, env=b.env)
        if rc != 0 or "nothing changed" not in tail:
            print(f"build bench: the no-change rebuild did work ({rc}):\n{tail}", file=sys.stderr)
        warm.append(t)
    gen_warm = statistics.median(warm)
    b.row(f"no-change rebuild: generator (median of {b.repeats})", gen_warm, "s", "<= 1", gen_warm <= 1.0)
    torch_loaded = _imports_torch(cmd, b.env)
    b.row("no-change rebuild imports torch (1 = yes)", int(torch_loaded), "", "0", not torch_loaded)
    docs = site_command(b.site / "mkdocs.yml", b.tmp / "site")
    site_times = []
    for _ in range(b.repeats):
        t, rc, _, tail, _ = _run(docs, env=b.env, cwd=b.site)
        if rc != 0:
            print(f"build bench: properdocs build --strict failed ({rc}):\n{tail}", file=sys.stderr)
        site_times.append(t)
    total = gen_warm + statistics.median(site_times)
    b.row("no-change rebuild: properdocs build --strict (median)", statistics.median(site_times), "s")
    b.row("no-change rebuild: generator + site", total, "s", "<= 4", total <= 4.0)


def _second_cold(b: _Bench) -> None:
    """On a GPU: a second cold build into another folder, compared file by file with the first."""
    import torch

    from generator.build.same import compare, sums

    print("build bench: a second cold build, to compare bytes ...", file=sys.stderr, flush=True)
    second = b.tmp / "second"
    t2, rc2, _, tail2, _ = _run(b.command(out=second / "out", cache=second / "cache"), env=b.env)
    if rc2 != 0:
        print(f"build bench: the second cold build failed ({rc2}):\n{tail2}", file=sys.stderr)
    bad, _ = compare(sums(b.out), sums(second / "out"), [])
    for line in bad[:20]:
        print(f"build bench: differs: {line.strip()}", file=sys.stderr)
    b.row(f"files that differ between two cold {b.profile} builds", len(bad), "files", "0", rc2 == 0 and not bad)
    b.row("second cold build", t2, "s")
    b.row(f"GPU: {torch.cuda.get_device_name(0)}", 0, "")


def _baseline(b: _Bench, rev: str, cold: float) -> None:
    """A cold build of commit ``rev`` from a temporary worktree (same photos, weights and device), and this
    tree's cold build as a ratio of it."""
    tree = b.tmp / "baseline-tree"
    done = subprocess.run(
        ["git", "worktree", "add", "--detach", str(tree), rev], cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        print(f"build bench: --baseline {rev}: {done.stderr.strip().splitlines()[-1]}", file=sys.stderr)
        b.row(f"cold build of {rev}", float("nan"), "s", "builds", False)
        return
    try:
        print(f"build bench: cold {b.profile} build of {rev} (the baseline) ...", file=sys.stderr, flush=True)
        cmd = b.command(out=b.tmp / "baseline" / "out", cache=b.tmp / "baseline" / "cache")
        t, rc, _, tail, _ = _run(cmd, env=dict(b.env, PYTHONPATH=str(tree)), cwd=tree)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)
    if rc != 0:
        print(f"build bench: the baseline's cold build failed ({rc}):\n{tail}", file=sys.stderr)
        b.row(f"cold build of {rev}", float("nan"), "s", "builds", False)
        return
    budget = BUDGETS.get(b.profile)
    b.row(f"cold build of {rev} (baseline)", t, "s")
    b.row(
        f"cold build / baseline {rev}",
        cold / t,
        "x",
        f"<= {budget:g}" if budget else "",
        cold / t <= budget if budget else None,
    )


def run(args) -> list[dict]:
    from generator.bench import bench_device

    device = str(bench_device(args))
    with tempfile.TemporaryDirectory(prefix="cnn-sees-bench-build-") as tmpdir:
        tmp = Path(tmpdir)
        weights, note = _weights(args, tmp)
        b = _Bench(
            profile=getattr(args, "profile", None) or ("full" if device == "cuda" else "default"),
            device=device,
            repeats=max(1, int(getattr(args, "repeats", 3))),
            cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
            tmp=tmp,
            weights=weights,
            note=note,
            env=dict(os.environ, CNN_SEES_HASH_MEMO=str(tmp / "sha-memo.json"), MPLBACKEND="Agg"),
        )
        shutil.copytree(ROOT / "docs", b.site / "docs", ignore=shutil.ignore_patterns("generated"))
        shutil.copy(ROOT / "mkdocs.yml", b.site / "mkdocs.yml")
        done = _cold(b)
        if done is None:
            return b.rows
        cold, cmd = done
        if getattr(args, "baseline", None):
            _baseline(b, args.baseline, cold)
        _render_only(b)
        _no_change(b, cmd)
        if device == "cuda":
            _second_cold(b)
    return b.rows
