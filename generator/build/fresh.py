"""The no-change fast path: know that nothing changed without importing torch.

A build whose inputs are exactly those of the last successful build, and
whose output folder is exactly as that build left it, has nothing to do.  The
full engine finds that out too, but only after importing torch, preparing
every photo and hashing every unit (about 4 s).  This module decides it in
a few milliseconds from a **stamp**, ``<out>/.state/_stamp.json``, that a
successful build writes as its very last step.  The stamp holds

* a fingerprint of everything the output can depend on: the command's
  options (profile, folders, ``--only``, ``--device``), the bytes of every
  file of the ``generator`` package, of every file in the images folder, the
  weights' identity (the checkpoint's memoised sha256), whether a CUDA
  device is visible (for ``--device auto``), the library versions and the
  source commit the build page states;
* the size and modification time of every file in the output folder;
* the last report's per-technique counts, so the fast path reports the same
  units, all cached.

Anything that differs, or cannot be read, sends the build down the full
path, which deletes the stamp before it writes anything.  If in doubt, the
fast path says no.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import sys
import time
from pathlib import Path

from generator.atomic import atomic_write_text

STAMP = Path(".state") / "_stamp.json"
STAMP_VERSION = 1
PACKAGE_DIR = Path(__file__).resolve().parents[1]
_IGNORED_OUTPUT = {".lock", STAMP.as_posix()}


def _hash_tree(root: Path, h) -> None:
    """Feed every regular file under ``root`` (relative path and bytes) into ``h``, in sorted order."""
    files = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        files += [Path(folder) / n for n in names if not n.endswith((".pyc", ".pyo"))]
    for path in sorted(files):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        try:
            with open(path, "rb") as fh:
                h.update(hashlib.sha256(fh.read()).digest())
        except OSError as exc:  # a dangling link, a link loop, no permission: the build reports and skips it
            h.update(f"unreadable: {exc.errno}".encode())


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    _hash_tree(Path(root), h)
    return h.hexdigest()


def cuda_visible() -> bool:
    """Whether the CUDA driver reports a device (what ``--device auto`` would pick), without torch."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    try:
        lib = ctypes.CDLL("libcuda.so.1")
        count = ctypes.c_int(0)
        return lib.cuInit(0) == 0 and lib.cuDeviceGetCount(ctypes.byref(count)) == 0 and count.value > 0
    except (OSError, AttributeError):
        return False


def fingerprint(
    *, profile: str, images: Path, out: Path, cache: Path, weights: Path | None, device: str, only: list[str] | None
) -> dict:
    """Everything a build's output depends on, hashed; raises ``OSError`` when something cannot be read."""
    from generator.build.provenance import source_commit, versions
    from generator.checkpoint import weights_identity

    return {
        "version": STAMP_VERSION,
        "options": {
            "profile": profile,
            "images": str(Path(images).resolve()),
            "out": str(Path(out).resolve()),
            "cache": str(Path(cache).resolve()),
            "device": device,
            "only": sorted(only or []),
            "weights": str(Path(weights).resolve()) if weights else None,
        },
        "code": tree_hash(PACKAGE_DIR),
        "images": tree_hash(images),
        "weights": weights_identity(Path(weights) if weights else None),
        "cuda": cuda_visible() if device == "auto" else None,
        "python": sys.version,
        "versions": versions(),
        "source": source_commit(),
        "env": {k: os.environ.get(k) for k in ("CUBLAS_WORKSPACE_CONFIG", "OMP_NUM_THREADS", "MPLBACKEND")},
    }


def outputs(out: Path) -> dict[str, list[int]]:
    """Every file of the output folder: relative path -> [size, mtime in ns]."""
    out = Path(out)
    found = {}
    for folder, dirs, names in os.walk(out):
        dirs.sort()
        for n in names:
            p = Path(folder) / n
            rel = p.relative_to(out).as_posix()
            if rel in _IGNORED_OUTPUT:
                continue
            st = p.stat()
            found[rel] = [st.st_size, st.st_mtime_ns]
    return found


def forget(out: Path) -> None:
    """Delete the stamp: the full path calls this before it writes anything."""
    (Path(out) / STAMP).unlink(missing_ok=True)


def record(out: Path, fp: dict, report) -> None:
    """After a successful build: stamp the output folder with its fingerprint, files and report."""
    techniques = {name: s.computed + s.cached for name, s in report.stats.items()}
    stamp = {
        "fingerprint": fp,
        "outputs": outputs(out),
        "images": report.images,
        "techniques": techniques,
        "profile": report.profile,
        "device": report.device,
    }
    atomic_write_text(Path(out) / STAMP, json.dumps(stamp, sort_keys=True))


def unchanged(out: Path, fp: dict):
    """The report of a build with nothing to do when the stamp matches, else None."""
    from generator.build.report import BuildReport, TechniqueStats

    t0 = time.perf_counter()
    try:
        stamp = json.loads((Path(out) / STAMP).read_text())
        if stamp.get("fingerprint") != json.loads(json.dumps(fp)) or (Path(out) / ".incomplete").exists():
            return None
        if stamp.get("outputs") != outputs(out):
            return None
        report = BuildReport(profile=stamp["profile"], device=stamp["device"], images=int(stamp["images"]))
        for name, units in stamp["techniques"].items():
            report.stats[name] = TechniqueStats(cached=int(units))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    report.seconds = time.perf_counter() - t0
    return report
