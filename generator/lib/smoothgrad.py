"""SmoothGrad's noise and its batched pass (Smilkov et al., 2017), for :func:`generator.lib.engine.explain`."""

from __future__ import annotations

import torch
from torch import nn


def smoothgrad_noise(
    x: torch.Tensor, n: int, sigma: float, seed: int, device: torch.device | str | None = None
) -> tuple[torch.Tensor, float]:
    """The ``n`` noise images SmoothGrad adds to ``x`` (1 x 3 x H x W) and their standard deviation.

    sigma_abs = sigma * (max(x) - min(x)).  The draw is ``torch.normal(0, sigma_abs)``
    from a generator on ``device`` (default: the CPU) seeded with ``seed``, in the
    default dtype: the same numbers Captum's NoiseTunnel draws on that device
    after ``torch.manual_seed(seed)``.  Drawing on the GPU that runs the model
    saves generating millions of numbers on the CPU and copying them over; a
    CPU and a GPU draw different noise from the same seed.
    """
    if n < 1:
        raise ValueError(f"SmoothGrad needs n >= 1 samples, got {n}")
    if not sigma > 0:
        raise ValueError(f"SmoothGrad needs sigma > 0 (a fraction of the input's range, e.g. 0.15), got {sigma}")
    sigma_abs = sigma * float(x.max() - x.min())
    device = torch.device(device or "cpu")
    gen = torch.Generator(device=device).manual_seed(int(seed))
    std = torch.tensor(sigma_abs, device=device).repeat((n,) + tuple(x.shape[1:]))
    noise = torch.normal(0.0, std, generator=gen)
    return noise, sigma_abs


def smoothgrad_pass(
    model: nn.Module,
    x: torch.Tensor,
    target: int,
    n: int,
    sigma: float,
    seed: int,
    batch_size: int,
    fmt=torch.contiguous_format,
) -> tuple[torch.Tensor, float]:
    """SmoothGrad's mean |gradient| (3 x H x W, on the CPU) over ``n`` noisy copies, and the noise's sigma."""
    device = x.device
    noise, sigma_abs = smoothgrad_noise(x, n, sigma, seed, device=device)
    noise = noise.to(device=device, dtype=x.dtype)
    total = torch.zeros_like(x[0])
    with torch.enable_grad():
        for i in range(0, n, batch_size):
            xb = (x + noise[i : i + batch_size]).contiguous(memory_format=fmt).requires_grad_(True)
            (g,) = torch.autograd.grad(model(xb)[:, target].sum(), xb)
            total += g.abs().sum(0)
    return (total / n).detach().contiguous().cpu(), sigma_abs
