"""Weight dependence as a verdict with its uncertainty, shared by the sanity checks, the home page's methods
table and the trust chapter, so that one number gets one wording everywhere (no torch).

A map *depends on the weights* when the 95 % bootstrap interval of its mean trained-vs-untrained Spearman ρ
over the photos lies wholly below :data:`PASSES_BELOW`, *ignores the weights* when it lies wholly at or above,
and is *inconclusive* when the interval straddles the threshold.
"""

from __future__ import annotations

import numpy as np

PASSES_BELOW = 0.5
"""A map depends on the weights when its trained-vs-untrained Spearman ρ is below this."""


def mean_interval(values) -> dict:
    """The mean of ``values`` (None and NaN left out) with its 95 % bootstrap interval and how many there are:
    ``{"mean", "low", "high", "n"}`` (``mean`` None when there are none)."""
    from generator.lib.metrics import bootstrap_interval  # here, not at the top: the specs import this module

    lo, hi = bootstrap_interval(values)
    v = [x for x in values if x is not None and np.isfinite(x)]
    return {"mean": float(np.mean(v)) if v else None, "low": lo, "high": hi, "n": len(v)}


def weight_dependence(rho: dict) -> str:
    """Whether a method's map depends on the weights: its ρ interval wholly below the threshold, wholly at or
    above it, or straddling it (``"one photo"``: no interval; ``"n/a"``: no value)."""
    if rho["mean"] is None:
        return "n/a"
    if rho["n"] < 2:
        return "one photo"
    if rho["high"] < PASSES_BELOW:
        return "depends on the weights"
    if rho["low"] >= PASSES_BELOW:
        return "ignores the weights"
    return "inconclusive"
