"""Gradient × input and Integrated Gradients (Shrikumar et al., 2016; Sundararajan et al., 2017).

Integrated Gradients attributes ``S_c(x) - S_c(x')`` to the pixels by integrating the gradient along the
straight path from a baseline ``x'`` to the photo::

    IG_i(x) = (x_i - x'_i) * ∫_0^1 dS_c(x' + a (x - x')) / dx_i  da

The integral is a quadrature over ``steps`` points of the path, sent through the network in batches.  Its
*completeness* (Σ_i IG_i = S_c(x) - S_c(x')) holds exactly only for the true integral; the gap, which
:func:`completeness_error` reports, measures how good the quadrature is.  Gradient × input is the one-point
special case that takes the photo's own gradient for the whole path (exact for a linear model, with the
all-zero baseline).

Baselines: ``"black"`` (all zero in the network's input space, i.e. the normalisation's mean colour),
``"blur"`` (the photo under a wide Gaussian blur: the same colours, no detail), or a tensor.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from generator.lib.layers import device_of, prepared
from generator.lib.optvis.transforms import gaussian_blur

METHODS = ("gausslegendre", "riemann_trapezoid", "riemann_middle", "riemann_left", "riemann_right")
BLUR_SIGMA = 0.05
"""The blurred baseline's Gaussian sigma as a fraction of the image side (11 px at 224)."""


def _batch(x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4:
        raise ValueError(f"expected an image 3 x H x W or a batch N x 3 x H x W, got shape {tuple(x.shape)}")
    return x


def _targets(target, n: int) -> list[int]:
    if isinstance(target, torch.Tensor):
        target = target.tolist()
    targets = list(target) if isinstance(target, (list, tuple)) else [target] * n
    if len(targets) != n:
        raise ValueError(f"{len(targets)} targets for {n} images; give one class, or one per image")
    return [int(t) for t in targets]


def baseline_for(x: torch.Tensor, baseline="black") -> torch.Tensor:
    """The baseline image for ``x`` (N x 3 x H x W): ``"black"``, ``"blur"`` or a tensor broadcast to ``x``."""
    if isinstance(baseline, torch.Tensor):
        return baseline.to(dtype=x.dtype, device=x.device).expand_as(x)
    if baseline == "black":
        return torch.zeros_like(x)
    if baseline == "blur":
        return gaussian_blur(x, BLUR_SIGMA * max(x.shape[-2:]))
    raise ValueError(f"unknown baseline {baseline!r}; valid: 'black', 'blur' or a tensor")


def path_points(steps: int, method: str = "gausslegendre") -> tuple[np.ndarray, np.ndarray]:
    """Where on the path (alphas in [0, 1]) the gradient is taken, and each point's weight (summing to 1)."""
    if steps < 1:
        raise ValueError(f"Integrated Gradients needs steps >= 1, got {steps}")
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return 0.5 * (nodes + 1), 0.5 * weights
    if method == "riemann_trapezoid":
        if steps < 2:
            raise ValueError("the trapezoid rule needs steps >= 2")
        w = np.full(steps, 1.0 / (steps - 1))
        w[[0, -1]] /= 2
        return np.linspace(0, 1, steps), w
    offset = {"riemann_left": 0.0, "riemann_middle": 0.5, "riemann_right": 1.0}.get(method)
    if offset is None:
        raise ValueError(f"unknown quadrature {method!r}; valid: {', '.join(METHODS)}")
    return (np.arange(steps) + offset) / steps, np.full(steps, 1.0 / steps)


def _gradients(model: nn.Module, points: torch.Tensor, target: int, batch_size: int) -> torch.Tensor:
    """dS_target/dx at each of ``points`` (K x 3 x H x W), ``batch_size`` at a time."""
    out = []
    with torch.enable_grad():
        for i in range(0, points.shape[0], batch_size):
            xb = points[i : i + batch_size].clone().requires_grad_(True)
            (g,) = torch.autograd.grad(model(xb)[:, target].sum(), xb)
            out.append(g)
    return torch.cat(out)


def integrated_gradients(
    model: nn.Module,
    x: torch.Tensor,
    target,
    *,
    baseline="black",
    steps: int = 32,
    method: str = "gausslegendre",
    batch_size: int = 16,
) -> torch.Tensor:
    """Integrated Gradients of class ``target``: signed 3 x H x W (N x 3 x H x W for a batch), on the CPU."""
    x = _batch(x)
    alphas, weights = path_points(steps, method)
    device = device_of(model)
    maps = []
    with prepared(model):
        for xi, t in zip(x, _targets(target, x.shape[0])):
            xi = xi[None].detach().to(device)
            base = baseline_for(xi, baseline)
            a = torch.as_tensor(alphas, dtype=xi.dtype, device=device).view(-1, 1, 1, 1)
            w = torch.as_tensor(weights, dtype=xi.dtype, device=device).view(-1, 1, 1, 1)
            grads = _gradients(model, base + a * (xi - base), t, batch_size)
            maps.append(((xi - base)[0] * (w * grads).sum(0)).detach().cpu())
    return maps[0] if len(maps) == 1 else torch.stack(maps)


def input_x_gradient(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """Gradient × input: ``x * dS_target/dx``, signed 3 x H x W (N x 3 x H x W for a batch), on the CPU."""
    x = _batch(x)
    device = device_of(model)
    maps = []
    with prepared(model):
        for xi, t in zip(x, _targets(target, x.shape[0])):
            xi = xi[None].detach().to(device)
            maps.append((xi * _gradients(model, xi, t, 1))[0].detach().cpu())
    return maps[0] if len(maps) == 1 else torch.stack(maps)


def completeness_error(model: nn.Module, x: torch.Tensor, target: int, attributions, baseline="black") -> float:
    """How far one image's attributions are from summing to S(x) - S(baseline), relative to that difference."""
    x = _batch(x).detach().to(device_of(model))
    base = baseline_for(x, baseline)
    with torch.no_grad(), prepared(model):
        gap = float(model(x)[0, int(target)] - model(base)[0, int(target)])
    total = float(torch.as_tensor(attributions).double().sum())
    return abs(total - gap) / max(abs(gap), 1e-12)
