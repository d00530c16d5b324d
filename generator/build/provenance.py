"""Where a build came from: the source commit, the machine's libraries, the weights (for the build page)."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ["torch", "torchvision", "numpy", "matplotlib", "properdocs", "mkdocs-material"]


def source_commit(root: Path | None = None) -> dict:
    """The checkout's HEAD and whether docs/ or generator/ have uncommitted changes (None outside git)."""
    root = root or Path(__file__).resolve().parents[2]

    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--", "docs", "generator")) if commit else False
    return {"commit": commit, "dirty": dirty}


def versions() -> dict:
    out = {"Python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def build_info(profile: str, device: str, weights: dict) -> dict:
    return {"source": source_commit(), "profile": profile, "device": device, "weights": weights, "versions": versions()}
