"""The gradient engine behind every attribution: one forward pass, shared backward passes.

Three gradient explanations of one class score S_c (the pre-softmax logit):

* **vanilla gradient** (Simonyan et al., 2013): ``max_colour |dS_c/dx|``;
* **SmoothGrad** (Smilkov et al., 2017): the same, averaged over ``n`` copies
  of the input with Gaussian noise of standard deviation ``sigma * (max(x) - min(x))``
  (we average ``|dS_c/dx|`` per colour channel, then take the maximum over
  channels, which is what Captum's ``NoiseTunnel(Saliency)`` computes);
* **guided backpropagation** (Springenberg et al., 2014): the gradient with
  every ReLU's backward pass also dropping negative incoming gradients;

and the class activation maps of a layer from its activations A^k and
gradients dS_c/dA^k, combined by a CAM rule (:mod:`generator.lib.cam_rules`:
Grad-CAM, Grad-CAM++, LayerCAM).

:func:`explain` is built from three parts:

1. **the shared forward pass** (:func:`forward`): hooks capture the CAM
   layers' outputs and make every ReLU switchable; the graph is kept;
2. **backward passes** over that one graph (:func:`backward`): the normal
   rule yields the input gradient *and* the gradients at the CAM layers, then
   a switch flips every ReLU to another rule (:mod:`generator.lib.backward`:
   guided, deconvnet) for another pass;
3. **CAM combiners** (:func:`combine_cams`): each requested variant turns
   a layer's activations and gradients into a map.

So one forward pass per image serves every gradient method and every CAM at
every layer.  SmoothGrad's noisy copies go through the network in batches
(:func:`smoothgrad_pass`); their noise is drawn on the model's device.

The public functions built on :func:`explain` are in :mod:`generator.lib.attr`.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from generator.lib import backward as rules
from generator.lib.cam_rules import CAM_RULES, cam_rule
from generator.lib.layers import device_of, prepared, resolve_layer
from generator.lib.smoothgrad import smoothgrad_noise, smoothgrad_pass

__all__ = [
    "Explanation",
    "Forward",
    "backward",
    "combine_cams",
    "explain",
    "forward",
    "smoothgrad_noise",
    "smoothgrad_pass",
]


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(
            f"x must be a floating-point tensor of shape (3, H, W) or (1, 3, H, W), got "
            f"{type(x).__name__}{'' if not isinstance(x, torch.Tensor) else ' ' + str(x.dtype)}"
        )
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
    ``gradient`` / ``guided`` / ``deconvnet`` 3 x H x W (signed), ``smooth`` 3 x H x W
    (mean of |gradient| over the noisy copies), ``cams`` layer -> h x w raw map
    of the primary variant (ReLU of the combination, not yet scaled),
    ``cam_weights`` layer -> its channel weights alpha_k, ``variants``
    variant -> layer -> raw map and ``variant_weights`` likewise for every
    requested variant (no weights for an element-wise rule),
    ``cam_activations`` layer -> the layer's activations A (k x h x w).
    """

    target: int
    score: float
    gradient: torch.Tensor | None
    guided: torch.Tensor | None = None
    smooth: torch.Tensor | None = None
    deconvnet: torch.Tensor | None = None
    cams: dict[str, torch.Tensor] = field(default_factory=dict)
    cam_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    variants: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    variant_weights: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    cam_activations: dict[str, torch.Tensor] = field(default_factory=dict)
    sigma_abs: float | None = None


# --------------------------------------------------------------------------- part 1: the forward pass


@dataclass
class Forward:
    """One forward pass kept for its backward passes: the input leaf, the score, the captured layers."""

    x0: torch.Tensor
    score: torch.Tensor
    target: int
    captured: dict[str, torch.Tensor]
    switch: rules.Switch | None


@contextmanager
def _capturing(model: nn.Module, names: list[str], cut: bool, switch: rules.Switch | None):
    """Hooks for one forward pass: switchable ReLUs (with a ``switch``) and the CAM layers' outputs."""
    captured: dict[str, torch.Tensor] = {}
    handles = rules.install(model, switch) if switch is not None else []
    for name in names:

        def grab(mod, inp, out, name=name):
            if not isinstance(out, torch.Tensor) or out.dim() != 4:
                raise ValueError(f"Grad-CAM layer {name!r} must output an N x C x H x W tensor")
            if cut and not captured:
                out = out.detach().requires_grad_(True)  # the first CAM layer reached becomes the graph's leaf
            captured[name] = out
            return out

        handles.append(resolve_layer(model, name).module.register_forward_hook(grab))
    try:
        yield captured
    finally:
        for h in handles:
            h.remove()


def forward(
    model: nn.Module,
    x: torch.Tensor,
    target,
    names: list[str],
    *,
    cut: bool,
    switchable: bool,
    fmt=torch.contiguous_format,
) -> Forward:
    """Run ``model`` on ``x`` (1 x 3 x H x W, on its device) with gradients, keeping the graph.

    ``cut``: the graph starts at the first CAM layer (no input gradient);
    ``switchable``: every ReLU's backward rule can be switched between passes.
    """
    switch = rules.Switch() if switchable else None
    x0 = x.clone().contiguous(memory_format=fmt).requires_grad_(not cut)
    with torch.enable_grad(), _capturing(model, names, cut, switch) as captured:
        out = model(x0)
        if out.dim() != 2:
            raise ValueError(f"the model must return class scores of shape (1, classes), got {tuple(out.shape)}")
        target = _check_target(target, out.shape[1])
        score = out[0, target]
    return Forward(x0=x0, score=score, target=target, captured=captured, switch=switch)


# --------------------------------------------------------------------------- part 2: backward passes


def backward(fw: Forward, names: list[str], *, cut: bool, more: Iterable[str] = ()) -> dict:
    """The normal backward pass (input gradient and every CAM layer's gradient), then one input-gradient
    pass per rule in ``more`` ("guided", "deconvnet") over the same graph.

    Returns {"gradient": 1x3xHxW or None, "layers": [gradients per name], rule: 1x3xHxW, ...}.
    """
    more = list(more)
    with torch.enable_grad():
        wrt = ([] if cut else [fw.x0]) + [fw.captured[n] for n in names]
        grads = list(torch.autograd.grad(fw.score, wrt, retain_graph=bool(more)))
        out = {"gradient": None if cut else grads[0], "layers": grads[0 if cut else 1 :]}
        for i, rule in enumerate(more):
            fw.switch.use(rule)
            (out[rule],) = torch.autograd.grad(fw.score, fw.x0, retain_graph=i < len(more) - 1)
    return out


# --------------------------------------------------------------------------- part 3: CAM combiners


def combine_cams(result: Explanation, fw: Forward, names: list[str], layer_grads: list, variants: list[str]) -> None:
    """Every requested CAM variant at every layer, into ``result`` (the first variant is the primary one)."""
    with torch.no_grad():
        for name, g in zip(names, layer_grads):
            act = fw.captured[name][0].detach()
            for variant in variants:
                raw, weights = CAM_RULES[variant].combine(act, g[0])
                result.variants.setdefault(variant, {})[name] = raw.contiguous().cpu()
                if weights is not None:
                    result.variant_weights.setdefault(variant, {})[name] = weights.cpu()
            result.cam_activations[name] = act.contiguous().cpu()
    primary = variants[0]
    result.cams = dict(result.variants.get(primary, {}))
    result.cam_weights = dict(result.variant_weights.get(primary, {}))


# --------------------------------------------------------------------------- all together


def _cpu(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t[0].detach().contiguous().cpu()


def explain(
    model: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    cam_layers: Iterable[str] = (),
    guided: bool = True,
    smooth_n: int = 0,
    sigma: float = 0.15,
    seed: int = 0,
    batch_size: int = 8,
    input_grad: bool = True,
    channels_last: bool = False,
    cam: str = "grad_cam",
    cam_variants: Iterable[str] = (),
    deconvnet: bool = False,
) -> Explanation:
    """All gradient explanations of class ``target`` for one image, sharing the forward pass.

    ``model``: any classifier whose output is the pre-softmax scores.
    ``x``: one preprocessed image, (3, H, W) or (1, 3, H, W).
    ``cam_layers``: module paths or VGG16 names for the CAMs.
    ``guided`` / ``deconvnet``: also run the guided / deconvnet backward pass.
    ``smooth_n``: number of SmoothGrad samples (0: skip), noise ``sigma`` as a
    fraction of the input's range, drawn from ``seed``, ``batch_size`` at a time.
    ``input_grad``: False when only CAMs are wanted (and no other rule): the
    graph then starts at the first CAM layer, so the backward pass stops
    there instead of running down to the pixels.
    ``channels_last``: run the convolutions channels-last.  About 10-20 % faster
    with oneDNN on a CPU, but float32 results then differ from the contiguous
    layout (and from Captum) in the last bits, which on ill-conditioned pixels
    reaches a few per cent of the map's maximum; so it is off by default.
    ``cam``: the primary CAM variant (``cams``, ``cam_weights``), a key of
    :data:`generator.lib.cam_rules.CAM_RULES`; ``cam_variants``: more variants
    computed from the same activations and gradients (``variants``).
    """
    variants = [cam] + [v for v in cam_variants if v != cam]
    for v in variants:
        cam_rule(v)  # a one-line error for an unknown variant
    x = _as_batch(x)
    names = list(cam_layers)
    for name in names:
        resolve_layer(model, name)
    more = [r for r, on in (("guided", guided), ("deconvnet", deconvnet)) if on]
    cut = not input_grad and not more
    if cut and not names:
        raise ValueError("nothing to compute: input_grad=False needs at least one Grad-CAM layer")
    device = device_of(model)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = x.detach().to(device)
    with prepared(model, channels_last):
        fw = forward(model, x, target, names, cut=cut, switchable=bool(more), fmt=fmt)
        grads = backward(fw, names, cut=cut, more=more)
        result = Explanation(
            target=fw.target,
            score=float(fw.score.detach()),
            gradient=_cpu(grads["gradient"]),
            guided=_cpu(grads.get("guided")),
            deconvnet=_cpu(grads.get("deconvnet")),
        )
        combine_cams(result, fw, names, grads["layers"], variants)
        del fw, grads
        if smooth_n:
            result.smooth, result.sigma_abs = smoothgrad_pass(
                model, x, result.target, smooth_n, sigma, seed, batch_size, fmt
            )
    return result
