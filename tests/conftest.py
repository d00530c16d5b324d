"""Shared fixtures.  No test needs the network: trained weights are stand-ins
written here in torchvision's exact key layout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "images"


def quick_args(images, out, cache, weights, *more: str) -> list[str]:
    """The command-line arguments of a quick-profile ``build`` without progress bars, rendering in the build's
    own process (a render worker costs seconds to start; the tests of the workers pass ``--jobs`` in
    ``more``, which comes last and wins), then ``more``."""
    return ["build", "--profile", "quick", "--images", str(images), "--out", str(out), "--cache", str(cache),
            "--weights", str(weights), "--no-progress", "--jobs", "1", *more]  # fmt: skip


def run_generator(*args: str, timeout: int = 600, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m generator ARGS`` from the repository root, output captured (``env_extra``: variables to set)."""
    env = {**os.environ, **env_extra} if env_extra else None
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip


@pytest.fixture(scope="session")
def standin_state_dict() -> dict[str, torch.Tensor]:
    """A VGG16 state dict in torchvision's key layout (seeded random values, not ImageNet)."""
    torch.manual_seed(123)
    return torchvision.models.vgg16(weights=None).state_dict()


@pytest.fixture(scope="session")
def standin_weights(tmp_path_factory, standin_state_dict) -> Path:
    path = tmp_path_factory.mktemp("weights") / "vgg16-standin.pth"
    torch.save(standin_state_dict, path)
    return path


@pytest.fixture(scope="session")
def vgg64(standin_state_dict):
    """The stand-in VGG16 in float64 with out-of-place ReLUs, eval mode, frozen.

    Oracle comparisons run in float64 so that 1e-5 relative agreement does not
    depend on float32 summation order.
    """
    from generator.models import _no_inplace

    net = torchvision.models.vgg16(weights=None, init_weights=False)
    net.load_state_dict(standin_state_dict)
    _no_inplace(net).eval().double()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
"""Set when pytest-xdist runs this process as one of several workers (``nox -s tests`` runs two)."""
if XDIST_WORKER:
    # Two workers share the machine's cores: one thread each keeps their OpenMP teams from stalling each
    # other (the builds the tests start inherit it). Every build of the run has the same setting.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def shared_dir(tmp_path_factory) -> Path:
    """A folder every worker of this run sees (the run's temporary folder; the worker's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if XDIST_WORKER else base


def locked(path: Path):
    """An exclusive lock on ``path`` for a ``with`` block: one worker at a time (filelock works on every OS;
    torch depends on it, so it is always installed)."""
    from filelock import FileLock

    return FileLock(str(path))


@pytest.fixture(scope="session")
def quick_build(tmp_path_factory, standin_weights) -> Path:
    """One quick-profile build of everything over the real photo set, rendered by two worker processes
    (``--jobs 2``); returns its output dir (its result cache is the sibling ``cache/``).

    Tests that only read the output share this one build (it costs the bulk of the suite); under xdist the
    first worker that needs it builds it and the others wait for it and read the same folder. The other
    worker is then idle, so the figures are drawn two at a time (the computing keeps one thread, as every
    build of the run does; tests/test_parallel_render.py shows that the workers' bytes are the one process's).
    """
    root = shared_dir(tmp_path_factory) / "quick-build"
    out, cache = root / "generated", root / "cache"
    with locked(shared_dir(tmp_path_factory) / "quick-build.lock"):
        if (root / "build.log").is_file():  # written only after a successful build
            return out
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        proc = run_generator(*quick_args(IMAGES, out, cache, standin_weights, "--jobs", "2"), timeout=1200)
        if proc.returncode != 0:
            pytest.fail(f"quick build failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        (root / "build.log").write_text(proc.stderr)
    return out


@pytest.fixture
def images_copy(tmp_path) -> Path:
    """A writable copy of the photo set (tests add broken files to it)."""
    dst = tmp_path / "images"
    shutil.copytree(IMAGES, dst)
    return dst


@pytest.fixture(autouse=True)
def _restore_generator_logger():
    """``generator.cli.main`` configures the "generator" logger (its own handler, no propagation).
    Put it back after each test, so that tests calling the CLI in-process cannot hide log records
    from later tests' ``caplog``."""
    import logging

    logger = logging.getLogger("generator")
    saved = (list(logger.handlers), logger.propagate, logger.level)
    yield
    logger.handlers[:], logger.propagate, logger.level = saved[0], saved[1], saved[2]


def figure_files(
    build: Path, technique: str, *, image: str | None = None, model: str | None = None, kind: str | None = None
) -> list[Path]:
    """The files of a build's figures that match, from its manifest (a figure is a .png or a .webp)."""
    import json

    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    return sorted(
        build / f["path"]
        for f in manifest["figures"]
        if f["technique"] == technique
        and (image is None or f["image"] == image)
        and (model is None or f["model"] == model)
        and (kind is None or f["kind"] == kind)
    )
