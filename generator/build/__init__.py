"""Running a build: keys (hashing), cache, state, the run itself, and its report.

    from generator.build import Build, BuildOptions
    report = Build(options).run()

The names are loaded on first use, so that ``generator.build.fresh`` (the
no-change fast path) and ``generator.build.report`` import without torch.
"""

from __future__ import annotations

import importlib

_WHERE = {
    "Build": "run",
    "BuildOptions": "run",
    "clean": "clean",
    "ModelStateError": "pool",
    "BuildReport": "report",
    "Failure": "report",
    "TechniqueStats": "report",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
