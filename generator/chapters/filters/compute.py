"""Filters: the learned 3×3 kernels of every conv layer, and numbers about them.

A conv layer with ``C_in`` input channels and ``C_out`` filters holds a weight
tensor of shape ``C_out × C_in × 3 × 3``.  The first layer's 64 filters have
three input channels (red, green, blue), so each can be shown as a tiny colour
image; deeper filters have 64 to 512 input channels and are shown one 3×3
slice per input channel, in greyscale.

Numbers kept per layer (both models):

* weight statistics: mean, standard deviation, largest magnitude, mean filter norm;
* *spatial smoothness*: the Pearson correlation between horizontally or
  vertically neighbouring weights inside a kernel, pooled over every kernel of
  the layer.  Independent random weights give about 0; smooth, blob- or
  edge-like kernels give clearly positive values;
* *mean share*: the share of a kernel's energy in its mean (``9·mean² / Σw²``),
  1/9 for white noise, higher for low-frequency kernels;
* for the first layer only, the *colour share* of each filter: the energy of
  what differs between its red, green and blue kernels, ``‖W − ḡ‖² / ‖W‖²``,
  where ``ḡ`` is the mean over the colour channels.  0 means a greyscale
  (luminance) filter, 2/3 is what independent random channels give, and
  filters with channels of opposite sign (colour-opponent) score high.

Use it from plain Python on any torchvision CNN::

    from generator.chapters.filters.compute import kernels, kernel_stats
    w = kernels(torchvision.models.vgg16(weights=None), "features.0")  # or "block1_conv1"
    kernel_stats(w)["smoothness"]
"""

from __future__ import annotations

import numpy as np
from torch import nn

from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib.layers import conv_layer
from generator.models import CONV_LAYERS

GREY_THRESHOLD = 0.2
"""A first-layer filter counts as greyscale when its colour share is below this."""


def kernels(net: nn.Module, layer: str) -> np.ndarray:
    """The weights of conv layer ``layer`` as a float32 array ``C_out × C_in × kH × kW`` (a detached copy)."""
    return conv_layer(net, layer).weight.detach().float().cpu().numpy().copy()


def smoothness(w: np.ndarray) -> float:
    """Pearson correlation of horizontally and vertically neighbouring weights, pooled over all kernels."""
    w = np.asarray(w, dtype=np.float64)
    a = np.concatenate([w[..., :, :-1].ravel(), w[..., :-1, :].ravel()])
    b = np.concatenate([w[..., :, 1:].ravel(), w[..., 1:, :].ravel()])
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a @ a) * (b @ b))
    return float(a @ b / denom) if denom > 0 else 0.0


def mean_share(w: np.ndarray) -> float:
    """Share of kernel energy in each kernel's mean, pooled over all kernels (1/(kH·kW) for white noise)."""
    w = np.asarray(w, dtype=np.float64)
    k = w.shape[-1] * w.shape[-2]
    total = float((w**2).sum())
    return float(k * (w.mean(axis=(-1, -2)) ** 2).sum() / total) if total > 0 else 0.0


def colour_share(w: np.ndarray) -> np.ndarray:
    """Per filter of a ``C_out × 3 × kH × kW`` array: energy of the colour-dependent part, in [0, 1]."""
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 4 or w.shape[1] != 3:
        raise ValueError(f"colour_share needs C_out × 3 × kH × kW weights (an RGB layer), got shape {w.shape}")
    grey = w.mean(axis=1, keepdims=True)
    total = (w**2).sum(axis=(1, 2, 3))
    return np.where(total > 0, ((w - grey) ** 2).sum(axis=(1, 2, 3)) / np.maximum(total, 1e-300), 0.0)


def kernel_stats(w: np.ndarray, bias: np.ndarray | None = None) -> dict:
    """Statistics of one conv layer's weights (see the module docstring)."""
    w = np.asarray(w, dtype=np.float64)
    norms = np.sqrt((w**2).sum(axis=(1, 2, 3)))
    fan_in = w.shape[1] * w.shape[2] * w.shape[3]
    fan_out = w.shape[0] * w.shape[2] * w.shape[3]
    out = {
        "shape": list(w.shape),
        "params": int(w.size + (bias.size if bias is not None else 0)),
        "mean": float(w.mean()),
        "std": float(w.std()),
        "abs_max": float(np.abs(w).max()),
        "filter_norm_mean": float(norms.mean()),
        "filter_norm_cv": float(norms.std() / max(norms.mean(), 1e-300)),
        "std_x_sqrt_fan_in": float(w.std() * np.sqrt(fan_in)),
        # torchvision initialises VGG with kaiming_normal_(mode="fan_out"): this is sqrt(2) at init.
        "std_x_sqrt_fan_out": float(w.std() * np.sqrt(fan_out)),
        "smoothness": smoothness(w),
        "mean_share": mean_share(w),
    }
    if bias is not None:
        b = np.asarray(bias, dtype=np.float64)
        out.update(bias_mean=float(b.mean()), bias_std=float(b.std()))
    return out


def compute(ctx: Context, model: ModelInput, image: ImageInput | None) -> Result:
    n_filters, n_inputs = ctx.settings["filters"], ctx.settings["inputs"]
    arrays: dict[str, np.ndarray] = {}
    layers: dict[str, dict] = {}
    for name in CONV_LAYERS:
        conv = conv_layer(model.net, name)
        w = kernels(model.net, name)
        bias = conv.bias.detach().float().cpu().numpy() if conv.bias is not None else None
        layers[name] = kernel_stats(w, bias)
        if name == CONV_LAYERS[0]:
            arrays[f"{name}.weights"] = w
            share = colour_share(w)
            arrays[f"{name}.colour_share"] = share.astype(np.float32)
            layers[name].update(
                colour_share_mean=float(share.mean()),
                grey_share=float((share < GREY_THRESHOLD).mean()),
                grey_count=int((share < GREY_THRESHOLD).sum()),
            )
        else:
            arrays[f"{name}.weights"] = w[:n_filters, :n_inputs]
    return Result(arrays=arrays, records={"layers": layers, "grey_threshold": GREY_THRESHOLD})
