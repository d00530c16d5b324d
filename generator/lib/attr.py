"""Gradient attributions, one function each: saliency, SmoothGrad, guided backprop, CAMs.

Every function runs :func:`generator.lib.engine.explain` (one forward pass,
shared backward passes) and reduces its output to a map.  ``x`` is one image
(3 x H x W or 1 x 3 x H x W) or a batch (N x 3 x H x W); ``target`` is one
class index, or one per image; a batch of N > 1 images gives N maps.
Layers are modules, module paths (``"layer4"``) or VGG16 names
(``"block5_conv3"``)::

    from generator.lib import grad_cam, smoothgrad
    cam = grad_cam(net, x, target=281, layer="layer4")   # H x W in [0, 1]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generator.lib.engine import explain


def _per_image(x: torch.Tensor, target, fn: Callable[[torch.Tensor, int], torch.Tensor]) -> torch.Tensor:
    """Apply ``fn(one_image, its_target)`` to each image of a batch; one image keeps its old shape.

    ``target`` is an int (the same class for every image), or a list / 1-D
    tensor with one class per image.
    """
    if isinstance(x, torch.Tensor) and x.dim() == 4 and x.shape[0] != 1:
        n = x.shape[0]
        if isinstance(target, torch.Tensor) and target.dim() == 1 or isinstance(target, (list, tuple)):
            targets = [t.item() if isinstance(t, torch.Tensor) else t for t in target]
            if len(targets) != n:
                raise ValueError(f"{len(targets)} targets for {n} images; give one class, or one per image")
        else:
            targets = [target] * n
        return torch.stack([fn(x[i : i + 1], t) for i, t in enumerate(targets)])
    return fn(x, target)


def saliency(model: nn.Module, x: torch.Tensor, target) -> torch.Tensor:
    """Vanilla gradient saliency: ``max over colour channels of |dS_target/dx|``, H x W (N x H x W for a batch)."""
    return _per_image(x, target, lambda xi, t: explain(model, xi, t, guided=False).gradient.abs().amax(0))


def smoothgrad(
    model: nn.Module, x: torch.Tensor, target, n: int = 25, sigma: float = 0.15, seed: int = 0, batch_size: int = 8
) -> torch.Tensor:
    """SmoothGrad: max over colour channels of the mean |gradient| over ``n`` noisy copies (H x W).

    The noise's standard deviation is ``sigma * (max(x) - min(x))``; ``seed``
    fixes the draw, so equal arguments give equal maps.
    """
    return _per_image(
        x,
        target,
        lambda xi, t: explain(
            model, xi, t, guided=False, smooth_n=n, sigma=sigma, seed=seed, batch_size=batch_size
        ).smooth.amax(0),
    )


def guided_backprop(model: nn.Module, x: torch.Tensor, target, *, reduce: bool = True) -> torch.Tensor:
    """Guided backpropagation: H x W (max |.| over colour channels), or the signed 3 x H x W gradient
    with ``reduce=False``."""

    def one(xi, t):
        g = explain(model, xi, t, guided=True).guided
        return g.abs().amax(0) if reduce else g

    return _per_image(x, target, one)


def deconvnet(model: nn.Module, x: torch.Tensor, target, *, reduce: bool = True) -> torch.Tensor:
    """DeconvNet (Zeiler & Fergus, 2014): the backward pass with every ReLU passing only positive
    *incoming* gradients, ignoring the forward activation's sign.  H x W (max |.| over colour channels), or
    the signed 3 x H x W signal with ``reduce=False``."""

    def one(xi, t):
        g = explain(model, xi, t, guided=False, deconvnet=True).deconvnet
        return g.abs().amax(0) if reduce else g

    return _per_image(x, target, one)


def saliency_map(per_channel: torch.Tensor | np.ndarray) -> np.ndarray:
    """3 x H x W gradients to the H x W map the figures show: max |.| over colour channels."""
    return np.abs(np.asarray(per_channel)).max(axis=0)


def upsample(cam: torch.Tensor, size: tuple[int, int], *, scale: bool = True) -> torch.Tensor:
    """An h x w map upsampled bilinearly to ``size``, then (``scale``) min-max scaled to [0, 1].

    A flat map (all zeros: every weighted sum was negative) stays all zeros, never NaN.
    Scaling after upsampling gives the same map as pytorch-grad-cam.
    """
    cam = torch.as_tensor(cam)
    up = F.interpolate(cam[None, None], size=tuple(size), mode="bilinear", align_corners=False)[0, 0]
    if scale:
        lo, hi = up.min(), up.max()
        up = (up - lo) / (hi - lo) if float(hi - lo) > 0 else torch.zeros_like(up)
    return up


def cam(
    model: nn.Module, x: torch.Tensor, target, layer, *, variant: str = "grad_cam", upsample_to_input: bool = True
) -> torch.Tensor:
    """The CAM ``variant`` (a key of :data:`generator.lib.cam_rules.CAM_RULES`) of class ``target`` at ``layer``.

    Returns an H x W map in [0, 1] at the input's size (N x H x W for a
    batch), or with ``upsample_to_input=False`` the raw h x w map at the
    layer's resolution.  Only the layer's gradient is needed, so the backward
    pass stops at the layer.
    """

    def one(xi, t):
        raw = explain(model, xi, t, cam_layers=[layer], guided=False, input_grad=False, cam=variant).cams[layer]
        return upsample(raw, tuple(xi.shape[-2:])) if upsample_to_input else raw

    return _per_image(x, target, one)


def grad_cam(model: nn.Module, x: torch.Tensor, target, layer, *, upsample_to_input: bool = True) -> torch.Tensor:
    """Grad-CAM of class ``target`` at ``layer`` (a module, a module path like "features.29" or "layer4",
    or a VGG16 name): H x W in [0, 1], see :func:`cam`."""
    return cam(model, x, target, layer, variant="grad_cam", upsample_to_input=upsample_to_input)


def grad_cam_plus_plus(
    model: nn.Module, x: torch.Tensor, target, layer, *, upsample_to_input: bool = True
) -> torch.Tensor:
    """Grad-CAM++ of class ``target`` at ``layer``: H x W in [0, 1], see :func:`cam`."""
    return cam(model, x, target, layer, variant="grad_cam_plus_plus", upsample_to_input=upsample_to_input)


def layer_cam(model: nn.Module, x: torch.Tensor, target, layer, *, upsample_to_input: bool = True) -> torch.Tensor:
    """LayerCAM (Jiang et al., 2021) of class ``target`` at ``layer``: ReLU(Σ_k ReLU(dS/dA^k) ⊙ A^k), an
    element-wise rule that works at shallow layers too; H x W in [0, 1], see :func:`cam`."""
    return cam(model, x, target, layer, variant="layer_cam", upsample_to_input=upsample_to_input)


def guided_grad_cam(model: nn.Module, x: torch.Tensor, target, layer, *, reduce: bool = True) -> torch.Tensor:
    """Guided backprop times the (raw, bilinearly upsampled) Grad-CAM at ``layer``.

    H x W (max |.| over colour channels), or the signed 3 x H x W product with ``reduce=False``.
    """

    def one(xi, t):
        e = explain(model, xi, t, cam_layers=[layer], guided=True)
        prod = e.guided * upsample(e.cams[layer], tuple(xi.shape[-2:]), scale=False).to(e.guided.dtype)
        return prod.abs().amax(0) if reduce else prod

    return _per_image(x, target, one)
