"""The ``python -m generator build`` command line, for the tools that run a build in a subprocess (the
benchmarks and ``nox -s same``)."""

from __future__ import annotations

import sys
from pathlib import Path


def build_command(profile: str, out: Path, cache: Path, *more: str, **options: object) -> list[str]:
    """``python -m generator build --profile P --out O --cache C --no-progress`` plus ``--name value`` for each
    ``options`` item that is not None (``weights=...`` becomes ``--weights ...``) and ``more`` as they are."""
    extra = [arg for name, value in options.items() if value is not None for arg in (f"--{name}", str(value))]
    return [
        sys.executable,
        "-m",
        "generator",
        "build",
        "--profile",
        profile,
        "--out",
        str(out),
        "--cache",
        str(cache),
        *extra,
        "--no-progress",
        *more,
    ]
