"""Benchmarks, run with ``nox -s bench`` (``python -m generator.bench``).

Each module here defines ``run(args) -> list[dict]``; every row is
``{"bench": ..., "metric": ..., "value": ..., "unit": ..., "target": ..., "ok": bool | None}``.
Ratios are measured in one run against a baseline on the same machine;
nothing here is a timed test.
"""

import sys
import time
from pathlib import Path


def row(bench: str, metric: str, value, unit: str, target=None, ok=None, device=None) -> dict:
    """One result row (the module docstring's shape); ``device`` is appended to the metric as ``[device]``."""
    return {
        "bench": bench,
        "metric": metric if device is None else f"{metric} [{device}]",
        "value": float(value),
        "unit": unit,
        "target": "" if target is None else target,
        "ok": ok,
    }


def best_of(fns: dict, repeats: int, device=None) -> tuple[dict, dict]:
    """Interleaved timing: the best wall time of each function over ``repeats`` rounds, and its last output.

    Running the contenders in turn (a, b, a, b, ...) spreads bursts of load
    from other processes over both sides instead of penalising one.  On a CUDA
    ``device`` each call is timed until the GPU has finished its work.
    """
    sync = _synchroniser(device)
    times: dict = {k: [] for k in fns}
    out: dict = {}
    for _ in range(repeats):
        for k, fn in fns.items():
            sync()
            t0 = time.perf_counter()
            out[k] = fn()
            sync()
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}, out


def _synchroniser(device):
    if device is None or str(device).split(":")[0] != "cuda":
        return lambda: None
    import torch

    return lambda: torch.cuda.synchronize(device)


def bench_device(args):
    """The ``--device`` a benchmark runs its comparisons on (``auto``: cuda when available), as a torch.device."""
    import torch

    choice = getattr(args, "device", "cpu") or "cpu"
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda: no CUDA device is visible to torch. Use --device cpu")
    device = torch.device(choice)
    from generator.lib.determinism import configure

    configure(device)  # as the build does: the timings include the cost of determinism
    return device


def site_command(config: Path, dest: Path) -> list[str]:
    """The strict site build, as ``nox -s site`` runs it, of ``config`` into ``dest``."""
    return [sys.executable, "-m", "properdocs", "build", "--strict", "-f", str(config), "-d", str(dest)]
