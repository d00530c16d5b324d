"""Transformations (robustness to jitter, scale and rotation) and image priors (TV, alpha-norm).

Every random choice is drawn from the ``torch.Generator`` passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from generator.lib.determinism import grid_sample_border

# Lucid's transformation robustness, in order.
PAD = 12
JITTER_1 = 8
SCALES = tuple(1 + (i - 5) / 50 for i in range(11))  # 0.90 ... 1.10
ANGLES = tuple(range(-10, 11))  # degrees
JITTER_2 = 4


def _randint(n: int, high: int, generator) -> list[int]:
    return torch.randint(0, high, (n,), generator=generator).tolist()


def pad(x: torch.Tensor, width: int = PAD, value: float = 0.5) -> torch.Tensor:
    return F.pad(x, (width,) * 4, mode="constant", value=value)


def jitter(x: torch.Tensor, d: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Crop each image to (H-d) x (W-d) at its own random offset in [0, d)."""
    if d <= 0:
        return x
    n, _, h, w = x.shape
    oy, ox = _randint(n, d, generator), _randint(n, d, generator)
    return torch.stack([x[i, :, oy[i] : oy[i] + h - d, ox[i] : ox[i] + w - d] for i in range(n)])


def scale_rotate(
    x: torch.Tensor,
    scales: Sequence[float] = SCALES,
    angles: Sequence[float] = ANGLES,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Scale each image by a factor from ``scales``, then rotate it by an angle (degrees) from ``angles``.

    Both happen in one bilinear resampling about the centre, at a fixed output
    size (so the batch stays one tensor); pixels from outside repeat the border.
    """
    n = x.shape[0]
    s = torch.tensor(scales, dtype=x.dtype)[torch.randint(0, len(scales), (n,), generator=generator)]
    a = torch.tensor(angles, dtype=x.dtype)[torch.randint(0, len(angles), (n,), generator=generator)]
    a = a * (math.pi / 180)
    cos, sin = torch.cos(a) / s, torch.sin(a) / s  # output -> input coordinates: inverse of R·S
    theta = torch.stack(
        [torch.stack([cos, sin, torch.zeros_like(s)], 1), torch.stack([-sin, cos, torch.zeros_like(s)], 1)], 1
    ).to(x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return grid_sample_border(x, grid)


def robustness(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Lucid's standard transformations: pad 12 (grey) -> jitter 8 -> scale 0.9-1.1 -> rotate ±10° -> jitter 4."""
    x = pad(x, PAD, 0.5)
    x = jitter(x, JITTER_1, generator)
    x = scale_rotate(x, SCALES, ANGLES, generator)
    return jitter(x, JITTER_2, generator)


def roll_jitter(x: torch.Tensor, d: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image circularly by its own random offset in [-d, d] pixels (keeps the size)."""
    if d <= 0:
        return x
    n = x.shape[0]
    dy = [v - d for v in _randint(n, 2 * d + 1, generator)]
    dx = [v - d for v in _randint(n, 2 * d + 1, generator)]
    return torch.stack([torch.roll(x[i], (dy[i], dx[i]), dims=(1, 2)) for i in range(n)])


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Per-channel Gaussian blur with reflect padding (radius 2 sigma, at least 1)."""
    if sigma <= 0:
        return x
    r = max(1, int(math.ceil(2 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def total_variation(x: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """Per-image mean of ((dx)² + (dy)²)^(β/2) over the pixels (forward differences)."""
    dx = x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
    dy = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
    sq = (dx * dx + dy * dy).sum(1)
    tv = sq if beta == 2 else (sq + 1e-8).pow(beta / 2)
    return tv.flatten(1).mean(1)


def alpha_norm(x: torch.Tensor, alpha: float = 6.0) -> torch.Tensor:
    """Per-image mean of |x|^α over pixels and channels."""
    return x.abs().pow(alpha).flatten(1).mean(1)
