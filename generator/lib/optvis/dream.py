"""DeepDream (Mordvintsev, Olah & Tyka, 2015): amplify what a layer already sees in a photo.

Gradient ascent on the photo itself, maximising half the mean squared activation of ``layer``, with each
step normalised by the gradient's mean magnitude.  Octaves: the ascent runs first on the photo shrunk by
``octave_scale`` ``octaves - 1`` times, then on each larger copy with the detail found so far carried up,
so that the patterns grow at several scales.  A photo on which the layer's gradient is zero everywhere (a
fixed point: every unit dead, or the layer flat) does not move.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from generator.lib.layers import capture, prepared, resolve_layer
from generator.lib.optvis.common import OptResult


def _objective(model: nn.Module, module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    (out,) = capture(model, [module], x)
    return 0.5 * out.pow(2).flatten(1).mean(1)


def deep_dream(
    model: nn.Module,
    x: torch.Tensor,
    layer,
    *,
    octaves: int = 3,
    octave_scale: float = 1.4,
    steps: int = 10,
    lr: float = 0.02,
) -> OptResult:
    """Amplify ``layer`` in the photo ``x`` (1 x 3 x H x W, in the model's input space).

    Returns the dreamt image in the same space (``images``, 1 x 3 x H x W), the objective at every step
    (``history``, steps * octaves x 1) and at the end (``final``)."""
    if x.dim() == 3:
        x = x[None]
    if octaves < 1 or steps < 0 or octave_scale <= 1:
        raise ValueError(
            f"DeepDream needs octaves >= 1, steps >= 0, octave_scale > 1; got {octaves}, {steps}, {octave_scale}"
        )
    module = resolve_layer(model, layer).module
    x = x.detach()
    sizes = [tuple(x.shape[-2:])]
    for _ in range(octaves - 1):
        h, w = sizes[-1]
        sizes.append((max(8, round(h / octave_scale)), max(8, round(w / octave_scale))))
    history = []
    detail = torch.zeros(1, 3, *sizes[-1], dtype=x.dtype, device=x.device)
    with prepared(model):
        for size in reversed(sizes):
            base = F.interpolate(x, size=size, mode="bilinear", align_corners=False) if size != sizes[0] else x
            detail = F.interpolate(detail, size=size, mode="bilinear", align_corners=False)
            img = (base + detail).requires_grad_(True)
            for _ in range(steps):
                with torch.enable_grad():
                    value = _objective(model, module, img)
                    (g,) = torch.autograd.grad(value.sum(), img)
                history.append(value.detach())
                if bool(g.abs().max() > 0):  # a zero gradient: a fixed point, nothing to amplify
                    with torch.no_grad():
                        img += lr * g / g.abs().mean()
            detail = (img - base).detach()
        with torch.no_grad():
            final = _objective(model, module, img)
    hist = torch.stack(history) if history else torch.zeros(0, 1)
    return OptResult(images=img.detach().cpu(), history=hist.cpu(), final=final.detach().cpu())
