"""Benchmarks, run with ``nox -s bench`` (``python -m generator.bench``).

Each module here defines ``run(args) -> list[dict]``; every row is
``{"bench": ..., "metric": ..., "value": ..., "unit": ..., "target": ..., "ok": bool | None}``.
Ratios are measured in one run against a baseline on the same machine;
nothing here is a timed test.
"""
