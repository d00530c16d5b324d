"""Two conversions every stage needs: min-max scaling to [0, 1], and [0, 1] floats to uint8 pixels."""

from __future__ import annotations

import numpy as np


def scale01(x, *, dtype=np.float64, eps: float = 0.0) -> np.ndarray:
    """Min-max scale to [0, 1] in ``dtype``; a (nearly) constant array becomes all zeros, never NaN."""
    x = np.asarray(x, dtype=dtype)
    lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    return (x - lo) / (hi - lo) if hi - lo > eps else np.zeros_like(x)


def to_uint8(x) -> np.ndarray:
    """[0, 1] floats to uint8 pixels (clipped, rounded half up)."""
    return (np.clip(np.asarray(x, dtype=np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
