"""Benchmarks, run with ``nox -s bench`` (``python -m generator.bench``).

Each module here defines ``run(args) -> list[dict]``; every row is
``{"bench": ..., "metric": ..., "value": ..., "unit": ..., "target": ..., "ok": bool | None}``.
Ratios are measured in one run against a baseline on the same machine;
nothing here is a timed test.
"""

import time


def best_of(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Interleaved timing: the best wall time of each function over ``repeats`` rounds, and its last output.

    Running the contenders in turn (a, b, a, b, ...) spreads bursts of load
    from other processes over both sides instead of penalising one.
    """
    times: dict = {k: [] for k in fns}
    out: dict = {}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            out[k] = fn()
            times[k].append(time.perf_counter() - t0)
    return {k: min(v) for k, v in times.items()}, out
