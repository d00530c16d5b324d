"""Methods that ask the network instead of differentiating it: occlusion and Score-CAM.

Neither needs a gradient: every call runs under ``torch.no_grad()``, in batches of perturbed copies.

* **Occlusion** (Zeiler & Fergus, 2014): slide a ``window`` x ``window`` patch of ``baseline`` over the
  photo with ``stride``; a pixel's attribution is the mean drop of the class score over the windows that
  cover it (the same arithmetic as Captum's ``Occlusion``: windows start every ``stride`` pixels and the
  last ones are clipped at the border).
* **Score-CAM** (Wang et al., 2020): each channel of a layer, upsampled to the photo and min-max scaled,
  masks the photo; the class score of each masked photo, through a softmax over the channels, weighs
  that channel: ``ReLU(Σ_k w_k A^k)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from generator.lib.integrated import _batch, _targets
from generator.lib.layers import device_of, prepared, resolve_layer


def _scores(model: nn.Module, images: torch.Tensor, target: int, batch_size: int, channels_last=False) -> torch.Tensor:
    """The class score (pre-softmax) of ``target`` for each image of ``images``, ``batch_size`` at a time
    (channels-last in memory with ``channels_last``: oneDNN's convolutions are faster that way on a CPU)."""
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    chunks = [images[i : i + batch_size].contiguous(memory_format=fmt) for i in range(0, images.shape[0], batch_size)]
    return torch.cat([model(chunk)[:, target] for chunk in chunks])


def window_starts(size: int, window: int, stride: int) -> list[int]:
    """Where the occluding windows start along one side: every ``stride`` pixels until one reaches the end."""
    if window < 1 or stride < 1:
        raise ValueError(f"occlusion needs window >= 1 and stride >= 1, got window={window}, stride={stride}")
    if window > size:
        raise ValueError(f"occlusion window {window} is larger than the image side {size}")
    return [i * stride for i in range(math.ceil((size - window) / stride) + 1)]


def occlusion(
    model: nn.Module,
    x: torch.Tensor,
    target,
    *,
    window: int = 16,
    stride: int = 8,
    baseline: float = 0.0,
    batch_size: int = 32,
    stats: dict | None = None,
    channels_last: bool = False,
) -> torch.Tensor:
    """Occlusion sensitivity of class ``target``: H x W (N x H x W for a batch), on the CPU, in score units
    (positive: covering the pixel lowers the class score).  ``stats``, when given, receives ``"passes"``:
    the forward passes one image took (one per window, and the photo itself).  ``channels_last`` runs the
    convolutions channels-last (faster on a CPU; the last bits may differ)."""
    x = _batch(x)
    device = device_of(model)
    maps = []
    with torch.no_grad(), prepared(model, channels_last):
        for xi, t in zip(x, _targets(target, x.shape[0])):
            xi = xi[None].detach().to(device)
            h, w = xi.shape[-2:]
            boxes = [(r, c) for r in window_starts(h, window, stride) for c in window_starts(w, window, stride)]
            if stats is not None:
                stats["passes"] = len(boxes) + 1
            full = model(xi)[0, t]
            total = torch.zeros(h, w, dtype=xi.dtype, device=device)
            count = torch.zeros(h, w, dtype=xi.dtype, device=device)
            for i in range(0, len(boxes), batch_size):
                chunk = boxes[i : i + batch_size]
                copies = xi.repeat(len(chunk), 1, 1, 1)
                for j, (r, c) in enumerate(chunk):
                    copies[j, :, r : r + window, c : c + window] = baseline
                drops = full - _scores(model, copies, t, batch_size, channels_last)
                for (r, c), d in zip(chunk, drops):
                    total[r : r + window, c : c + window] += d
                    count[r : r + window, c : c + window] += 1
            maps.append((total / count).cpu())
    return maps[0] if len(maps) == 1 else torch.stack(maps)


def score_cam(
    model: nn.Module,
    x: torch.Tensor,
    target,
    layer,
    *,
    batch_size: int = 32,
    upsample_to_input: bool = True,
    stats: dict | None = None,
    channels: int | None = None,
    channels_last: bool = False,
) -> torch.Tensor:
    """Score-CAM of class ``target`` at ``layer``: H x W in [0, 1] (N x H x W for a batch), or with
    ``upsample_to_input=False`` the raw h x w map ``ReLU(Σ_k w_k A^k)``.  ``stats``, when given, receives
    ``"passes"``: the forward passes one image took (the photo, each channel that is not constant on it, and
    one for all constant channels), and ``"constant"``: how many channels shared that one pass.
    ``channels``: score only that many channels, those with the largest mean activation, and give the others
    weight 0 (one pass per channel makes the full method cost a forward pass per channel of the layer; this is
    the shortcut of "Faster Score-CAM"); None: every channel.  ``channels_last``: as for :func:`occlusion`."""
    from generator.lib.attr import upsample

    x = _batch(x)
    device = device_of(model)
    module = resolve_layer(model, layer).module
    maps = []
    with torch.no_grad(), prepared(model, channels_last):
        for xi, t in zip(x, _targets(target, x.shape[0])):
            xi = xi[None].detach().to(device)
            weights, acts = score_cam_weights(model, module, xi, t, batch_size, stats, channels, channels_last)
            raw = torch.relu(torch.einsum("k,khw->hw", weights, acts)).cpu()
            maps.append(upsample(raw, tuple(xi.shape[-2:])) if upsample_to_input else raw)
    return maps[0] if len(maps) == 1 else torch.stack(maps)


def score_cam_weights(
    model: nn.Module,
    module: nn.Module,
    x: torch.Tensor,
    target: int,
    batch_size: int,
    stats=None,
    channels=None,
    channels_last=False,
):
    """Score-CAM's channel weights (softmax over the channels of the masked photos' class scores) and the
    layer's activations A (k x h x w), for one image ``x`` (1 x 3 x H x W); with ``channels``, only that
    many channels (the largest mean activations) are scored, and the others get weight 0."""
    captured = {}
    handle = module.register_forward_hook(lambda m, i, o: captured.__setitem__("a", o.detach()))
    try:
        model(x)
    finally:
        handle.remove()
    acts = captured["a"][0]
    up = F.interpolate(acts[None], size=tuple(x.shape[-2:]), mode="bilinear", align_corners=True)[0]
    flat = up.flatten(1)
    lo, hi = flat.min(1).values[:, None, None], flat.max(1).values[:, None, None]
    masks = (up - lo) / (hi - lo + 1e-8)
    # A channel that is constant on this photo (most often all zero after the ReLU) masks the photo to black:
    # every such channel gets the same score, computed once, instead of one forward pass each.
    live = (hi - lo).flatten() > 0
    scores = torch.empty(len(masks), dtype=x.dtype, device=x.device)
    black = 0  # the one pass that scores every constant channel
    if channels is not None and int(live.sum()) > channels:
        means = torch.where(live, acts.flatten(1).mean(1), torch.tensor(-torch.inf, device=acts.device))
        kept = torch.zeros_like(live)
        kept[torch.sort(-means.double(), stable=True).indices[:channels]] = True
        scores[~kept] = -torch.inf  # weight 0 after the softmax, and no pass
        live = kept
    elif not bool(live.all()):
        scores[~live] = _scores(model, torch.zeros_like(x), target, 1)[0]
        black = 1
    idx = torch.nonzero(live).flatten()
    if stats is not None:
        stats["passes"] = 1 + len(idx) + black
        stats["constant"] = int(len(masks) - len(idx)) if black else 0  # channels that shared the one pass
    for i in range(0, len(idx), batch_size):
        chunk = idx[i : i + batch_size]
        scores[chunk] = _scores(model, x * masks[chunk, None], target, batch_size, channels_last)
    return torch.softmax(scores, dim=0), acts
