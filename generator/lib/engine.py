"""The gradient engine behind every attribution: one forward pass, shared backward passes.

Three gradient explanations of one class score S_c (the pre-softmax logit):

* **vanilla gradient** (Simonyan et al., 2013): ``max_colour |dS_c/dx|``;
* **SmoothGrad** (Smilkov et al., 2017): the same, averaged over ``n`` copies
  of the input with Gaussian noise of standard deviation ``sigma * (max(x) - min(x))``
  (we average ``|dS_c/dx|`` per colour channel, then take the maximum over
  channels, which is what Captum's ``NoiseTunnel(Saliency)`` computes);
* **guided backpropagation** (Springenberg et al., 2014): the gradient with
  every ReLU's backward pass also dropping negative incoming gradients;

and the class activation maps of a layer with activations A^k and
gradients dS_c/dA^k, ``ReLU(sum_k w_k A^k)``, where a *CAM variant* is just
the rule for the channel weights ``w_k`` (:data:`CAM_WEIGHTS`):

* **Grad-CAM** (Selvaraju et al., 2017): the spatial mean of the gradient;
* **Grad-CAM++** (Chattopadhyay et al., 2018): the positive gradients weighted
  by alpha = g² / (2g² + sum(A)·g³).

One forward pass per image serves the vanilla gradient, guided
backpropagation and the CAMs at every requested layer (:func:`explain`): the
forward graph is kept, the normal backward pass yields the input gradient
*and* the gradients at the CAM layers, then a switch flips every ReLU's
backward rule to the guided one and a second backward pass runs over the same
graph.  SmoothGrad's noisy copies go through the network in batches; their
noise is drawn on the model's device.

The public functions built on :func:`explain` are in :mod:`generator.lib.attr`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import torch
from torch import nn

from generator.lib.layers import device_of, prepared, resolve_layer

# --------------------------------------------------------------------------- CAM weights


def grad_cam_weights(activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Grad-CAM: alpha_k = (1/Z) sum_ij dS/dA^k_ij, for C x h x w activations and gradients."""
    return grads.mean(dim=(1, 2))


def grad_cam_plus_plus_weights(activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++: w_k = sum_ij ReLU(g_ij) * alpha_ij, alpha = g² / (2g² + sum(A^k)·g³) (0 where g = 0)."""
    g2 = grads * grads
    a = g2 / (2 * g2 + activations.sum(dim=(1, 2))[:, None, None] * g2 * grads + 1e-6)
    a = torch.where(grads != 0, a, torch.zeros((), dtype=a.dtype, device=a.device))
    return (torch.relu(grads) * a).sum(dim=(1, 2))


CAM_WEIGHTS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "grad_cam": grad_cam_weights,
    "grad_cam_plus_plus": grad_cam_plus_plus_weights,
}
"""Every CAM variant: name -> channel-weight rule.  Adding a variant is adding one function here."""


# --------------------------------------------------------------------------- guided ReLU


class _Switch:
    """Shared by every switchable ReLU of one pass: which backward rule they use."""

    def __init__(self) -> None:
        self.guided = False


class _SwitchableReLU(torch.autograd.Function):
    """ReLU whose backward rule is chosen when the backward pass runs.

    Normal: pass the incoming gradient where the output is positive (exactly
    autograd's ReLU rule).  Guided: additionally drop negative incoming
    gradients (Springenberg et al., 2014).
    """

    @staticmethod
    def forward(ctx, x, switch):
        out = torch.relu(x)
        ctx.save_for_backward(out)
        ctx.switch = switch
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        keep = out > 0
        if ctx.switch.guided:
            keep = keep & (grad > 0)
        return torch.where(keep, grad, torch.zeros((), dtype=grad.dtype, device=grad.device)), None


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor of shape (3, H, W) or (1, 3, H, W), got "
                         f"{type(x).__name__}{'' if not isinstance(x, torch.Tensor) else ' ' + str(x.dtype)}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"x must have shape (3, H, W) or (1, 3, H, W), got {tuple(x.shape)}")
    return x


def _check_target(target, n_classes: int) -> int:
    if isinstance(target, torch.Tensor) and target.numel() == 1:
        target = target.item()
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer)):
        raise ValueError(f"target must be a class index (an int); valid classes: 0..{n_classes - 1}")
    if not 0 <= int(target) < n_classes:
        raise ValueError(f"target class {int(target)} is out of range; valid classes: 0..{n_classes - 1}")
    return int(target)


@dataclass
class Explanation:
    """Everything one call of :func:`explain` computed for one image and one class.

    Tensors are detached, on the CPU, shaped for a single image:
    ``gradient`` / ``guided`` 3 x H x W (signed), ``smooth`` 3 x H x W
    (mean of |gradient| over the noisy copies), ``cams`` layer -> h x w raw
    Grad-CAM (ReLU of the weighted channel sum, not yet scaled), ``cam_weights``
    layer -> the channel weights alpha_k, ``cam_activations`` layer -> the layer's
    activations A (k x h x w) that the weights multiply.
    """

    target: int
    score: float
    gradient: torch.Tensor | None
    guided: torch.Tensor | None = None
    smooth: torch.Tensor | None = None
    cams: dict[str, torch.Tensor] = field(default_factory=dict)
    cam_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    cam_activations: dict[str, torch.Tensor] = field(default_factory=dict)
    sigma_abs: float | None = None


def smoothgrad_noise(x: torch.Tensor, n: int, sigma: float, seed: int,
                     device: torch.device | str | None = None) -> tuple[torch.Tensor, float]:
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


def explain(model: nn.Module, x: torch.Tensor, target: int, *, cam_layers: Iterable[str] = (),
            guided: bool = True, smooth_n: int = 0, sigma: float = 0.15, seed: int = 0,
            batch_size: int = 8, input_grad: bool = True, channels_last: bool = False,
            cam: str = "grad_cam") -> Explanation:
    """All gradient explanations of class ``target`` for one image, sharing the forward pass.

    ``model``: any classifier whose output is the pre-softmax scores.
    ``x``: one preprocessed image, (3, H, W) or (1, 3, H, W).
    ``cam_layers``: module paths or VGG16 names for Grad-CAM.
    ``guided``: also run the guided backward pass.
    ``smooth_n``: number of SmoothGrad samples (0: skip), noise ``sigma`` as a
    fraction of the input's range, drawn from ``seed``, ``batch_size`` at a time.
    ``input_grad``: False when only Grad-CAM is wanted (and not ``guided``): the
    graph then starts at the first Grad-CAM layer, so the backward pass stops
    there instead of running down to the pixels.
    ``channels_last``: run the convolutions channels-last.  About 10-20 % faster
    with oneDNN on a CPU, but float32 results then differ from the contiguous
    layout (and from Captum) in the last bits, which on ill-conditioned pixels
    reaches a few per cent of the map's maximum; so it is off by default.
    ``cam``: the CAM variant, a key of :data:`CAM_WEIGHTS`.
    """
    if cam not in CAM_WEIGHTS:
        raise ValueError(f"unknown CAM variant {cam!r}; valid: {', '.join(CAM_WEIGHTS)}")
    cam_rule = CAM_WEIGHTS[cam]
    x = _as_batch(x)
    layers = [resolve_layer(model, name) for name in cam_layers]
    names = list(cam_layers)
    device = device_of(model)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    cut = not input_grad and not guided
    if cut and not names:
        raise ValueError("nothing to compute: input_grad=False needs at least one Grad-CAM layer")
    x = x.detach().to(device)
    switch = _Switch()
    with prepared(model, channels_last):
        captured: dict[str, torch.Tensor] = {}
        handles = []
        try:
            if guided:
                for m in model.modules():
                    if isinstance(m, nn.ReLU):
                        handles.append(m.register_forward_hook(
                            lambda mod, inp, out: _SwitchableReLU.apply(inp[0], switch)))
            for name, module in zip(names, [layer.module for layer in layers]):
                def grab(mod, inp, out, name=name):
                    if not isinstance(out, torch.Tensor) or out.dim() != 4:
                        raise ValueError(f"Grad-CAM layer {name!r} must output an N x C x H x W tensor")
                    if cut and not captured:
                        # the first Grad-CAM layer reached becomes the graph's leaf
                        out = out.detach().requires_grad_(True)
                    captured[name] = out
                    return out
                handles.append(module.register_forward_hook(grab))
            x0 = x.clone().contiguous(memory_format=fmt).requires_grad_(not cut)
            with torch.enable_grad():
                out = model(x0)
                if out.dim() != 2:
                    raise ValueError(f"the model must return class scores of shape (1, classes), got {tuple(out.shape)}")
                target = _check_target(target, out.shape[1])
                score = out[0, target]
                wrt = ([] if cut else [x0]) + [captured[n] for n in names]
                grads = list(torch.autograd.grad(score, wrt, retain_graph=guided))
                if cut:
                    grads.insert(0, None)
                guided_grad = None
                if guided:
                    switch.guided = True
                    (guided_grad,) = torch.autograd.grad(score, x0)
        finally:
            for h in handles:
                h.remove()
        result = Explanation(target=target, score=float(score.detach()),
                             gradient=None if cut else grads[0][0].detach().contiguous().cpu(),
                             guided=None if guided_grad is None else guided_grad[0].detach().contiguous().cpu())
        with torch.no_grad():
            for name, g in zip(names, grads[1:]):
                act = captured[name][0].detach()
                weights = cam_rule(act, g[0])
                result.cams[name] = torch.relu(torch.einsum("k,khw->hw", weights, act)).contiguous().cpu()
                result.cam_weights[name] = weights.cpu()
                result.cam_activations[name] = act.contiguous().cpu()
        del captured, grads, out, score
        if smooth_n:
            noise, result.sigma_abs = smoothgrad_noise(x, smooth_n, sigma, seed, device=device)
            noise = noise.to(device=device, dtype=x.dtype)
            total = torch.zeros_like(x[0])
            with torch.enable_grad():
                for i in range(0, smooth_n, batch_size):
                    xb = (x + noise[i:i + batch_size]).contiguous(memory_format=fmt).requires_grad_(True)
                    (g,) = torch.autograd.grad(model(xb)[:, target].sum(), xb)
                    total += g.abs().sum(0)
            result.smooth = (total / smooth_n).detach().contiguous().cpu()
    return result


# --------------------------------------------------------------------------- public API
