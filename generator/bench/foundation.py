"""The foundation slice (architecture, predictions, feature maps, filters), default profile.

Measures, in fresh temporary folders:

* **cold**: ``python -m generator build`` with an empty result cache (and an empty
  weights-hash memo), wall time of the whole command;
* **warm**: the same command again with nothing changed, plus ``properdocs build
  --strict`` of a temporary copy of the site, wall time of both (median of
  ``--repeats`` runs);
* **peak memory**: the largest resident set of any of those commands (``ru_maxrss``
  of each child, read with ``os.wait4``).

Targets (issue 2): cold ≤ 60 s on 2 CPU cores, warm ≤ 10 s, peak ≤ 4 GB.

Weights: ``--weights`` or the torch hub cache.  Without either, a stand-in state
dict (seeded random values in torchvision's layout) is written to a temporary file
and every row says so: the timings hold, the pictures are not ImageNet's.

The site copy builds only this slice's chapters.  Chapters of other techniques,
whose fragments this benchmark does not generate, are replaced in the copy by a
one-line stub, so the strict build measures the same work as the real one for the
foundation pages and the gallery.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generator.bench import row, site_command
from generator.build.command import build_command

SLICE = ["architecture", "predictions", "feature_maps", "filters"]
ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"cold": 60.0, "warm": 10.0, "rss": 4.0}
_SNIPPET = re.compile(r'^\s*--8<--\s+"([^"]+)"', re.M)
_NAV_PAGE = re.compile(r":\s*([\w./-]+\.md)\s*$", re.M)


def _run(cmd: list[str], *, env=None, cwd=ROOT) -> tuple[float, int, int, str, float]:
    """Run ``cmd``; return (wall seconds, exit code, peak RSS in bytes, stderr tail, CPU seconds)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        err.seek(0)
        tail = err.read().decode(errors="replace")[-3000:]
    cpu = usage.ru_utime + usage.ru_stime
    return wall, proc.returncode, usage.ru_maxrss * 1024, tail, cpu  # ru_maxrss is in KiB on Linux


def _weights(args, tmp: Path) -> tuple[Path, str]:
    from generator.models import default_checkpoint_path

    if getattr(args, "weights", None):
        return Path(args.weights), ""
    cached = default_checkpoint_path()
    if cached.is_file():
        return cached, ""
    import torch
    import torchvision

    torch.manual_seed(123)
    path = tmp / "vgg16-standin.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), path)
    return path, " [stand-in weights: no ImageNet checkpoint found]"


def _site_copy(tmp: Path) -> Path:
    """docs/ and mkdocs.yml copied, generated/ left for the generator, other chapters stubbed."""
    site = tmp / "site-src"
    shutil.copytree(ROOT / "docs", site / "docs", ignore=shutil.ignore_patterns("generated"))
    shutil.copy(ROOT / "mkdocs.yml", site / "mkdocs.yml")
    return site


def _stub_missing(site: Path) -> None:
    """Chapters whose fragments were not generated (other slices), and nav pages that do
    not exist yet, become one-line stubs so the strict build can run."""
    docs = site / "docs"
    for page in docs.glob("*.md"):
        text = page.read_text()
        if any(not (docs / inc).is_file() for inc in _SNIPPET.findall(text)):
            page.write_text(f"# {page.stem}\n\nNot part of the foundation benchmark.\n")
    for rel in _NAV_PAGE.findall((site / "mkdocs.yml").read_text()):
        page = docs / rel
        if not page.is_file() and "*" not in rel and not rel.startswith("gallery/"):
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(f"# {page.stem}\n\nNot part of the foundation benchmark.\n")


def _warm(gen, properdocs, env, site: Path, repeats: int) -> dict:
    """The no-change rebuild and the strict site build, ``repeats`` times each."""
    warm = {"gen": [], "site": [], "rss": [0], "cpu": [], "site_rc": 0}
    for _ in range(repeats):
        t, rc, rss, tail, cpu_g = _run(gen, env=env)
        if rc != 0:
            print(f"warm build failed ({rc}):\n{tail}", file=sys.stderr)
        warm["gen"].append(t)
        warm["rss"].append(rss)
        t, warm["site_rc"], rss, tail, cpu_s = _run(properdocs, env=env, cwd=site)
        warm["cpu"].append(cpu_g + cpu_s)
        if warm["site_rc"] != 0:
            print(f"properdocs build --strict failed ({warm['site_rc']}):\n{tail}", file=sys.stderr)
        warm["site"].append(t)
        warm["rss"].append(rss)
    return warm


def _measure(args, tmp: Path, repeats: int) -> dict:
    """Cold build, then the warm rebuilds, in the temporary folder ``tmp``."""
    weights, note = _weights(args, tmp)
    site = _site_copy(tmp)
    out, cache = site / "docs" / "generated", tmp / "cache"
    env = dict(os.environ, CNN_SEES_HASH_MEMO=str(tmp / "sha-memo.json"), MPLBACKEND="Agg")
    gen = build_command("default", out, cache, "--only", *SLICE, weights=weights)
    load = os.getloadavg()[0]
    cold, rc, rss_cold, tail, cold_cpu = _run(gen, env=env)
    if rc != 0:
        print(f"cold build failed ({rc}):\n{tail}", file=sys.stderr)
    _stub_missing(site)
    warm = _warm(gen, site_command(site / "mkdocs.yml", tmp / "site"), env, site, repeats)
    n_figs = sum(1 for _ in (out / "figures").rglob("*.png")) if (out / "figures").is_dir() else 0
    return {
        "note": note,
        "load": load,
        "cold": cold,
        "cold_rc": rc,
        "cold_cpu": cold_cpu,
        "warm": warm,
        "peak": max(rss_cold, *warm["rss"]) / 2**30,
        "figures": n_figs,
    }


def run(args) -> list[dict]:
    repeats = max(1, int(getattr(args, "repeats", 3)))
    with tempfile.TemporaryDirectory(prefix="bench-foundation-") as tmpdir:
        m = _measure(args, Path(tmpdir), repeats)
    note, w, median = m["note"], m["warm"], statistics.median
    warm = median(g + s for g, s in zip(w["gen"], w["site"]))
    b = "foundation"
    return [
        row(
            b,
            f"cold generator wall time ({m['figures']} figures){note}",
            m["cold"],
            "s",
            f"<= {TARGETS['cold']:g}",
            m["cold_rc"] == 0 and m["cold"] <= TARGETS["cold"],
        ),
        row(b, f"cold generator CPU time, user+sys{note}", m["cold_cpu"], "s"),
        row(b, f"warm rebuild: generator (median of {repeats}){note}", median(w["gen"]), "s"),
        row(b, f"warm rebuild: properdocs --strict (median){note}", median(w["site"]), "s"),
        row(
            b,
            f"warm rebuild incl. site (median of {repeats}){note}",
            warm,
            "s",
            f"<= {TARGETS['warm']:g}",
            w["site_rc"] == 0 and warm <= TARGETS["warm"],
        ),
        row(b, f"warm rebuild incl. site, CPU time (median){note}", median(w["cpu"]), "s"),
        row(b, "1-minute load average when the cold build started", m["load"], "", f"cores: {os.cpu_count()}"),
        row(
            b,
            f"peak memory of any command{note}",
            m["peak"],
            "GiB",
            f"<= {TARGETS['rss']:g}",
            m["peak"] <= TARGETS["rss"],
        ),
    ]
