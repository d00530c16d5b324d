"""House rules a linter keeps: ruff check and ruff format (configured in pyproject.toml) are clean."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff", path=str(ROOT / ".nox" / "shared-env" / "bin")) or shutil.which("ruff")
    cmd = [exe] if exe else [sys.executable, "-m", "ruff"]
    return subprocess.run([*cmd, *args, "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [("check",), ("format", "--check")], ids=["check", "format"])
def test_ruff_is_clean(args):
    proc = _ruff(*args)
    assert proc.returncode == 0, (
        f"`ruff {' '.join(args)} .` found problems (fix them, or run `ruff format .` / `ruff check --fix .`):\n"
        + proc.stdout[-4000:]
        + proc.stderr[-2000:]
    )
