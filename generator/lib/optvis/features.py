"""Activation maximisation: images that excite chosen channels of a layer (Olah et al. 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from generator.lib.layers import capture, device_of, resolve_layer
from generator.lib.optvis.common import OptResult, _autocast, _channel_objective, flush_denormals
from generator.lib.optvis.loop import Adam, NormalisedAscent, optimise
from generator.lib.optvis.param import FourierImage, PixelImage, normalise
from generator.lib.optvis.transforms import robustness


@flush_denormals()
def activation_maximisation(
    model: nn.Module,
    layer,
    channels: Sequence[int],
    *,
    steps: int = 256,
    size: int = 128,
    lr: float = 0.05,
    param: str = "fourier",
    transforms: bool | None = None,
    decorrelate: bool = True,
    relu_warmup: int = 16,
    generator: torch.Generator | None = None,
    seed: int = 0,
    truncate: bool = True,
    channels_last: bool = False,
    bf16: bool = False,
    record_every: int = 1,
) -> OptResult:
    """Images that maximise the mean activation of ``channels`` of ``layer``, one image per channel.

    All channels are optimised together as one batch (image i targets
    ``channels[i]``; repeat a channel to get several images of it).

    ``param="fourier"`` (default): Fourier parameterisation with 1/f scaling,
    init sd 0.01, decorrelated colour and a sigmoid, Adam at ``lr`` and
    Lucid's transformation robustness.  ``param="pixel"``: the naive method
    (plain pixel-space gradient ascent from grey plus a little noise, steps of
    ``lr`` times the RMS-normalised gradient, no transformations).

    For VGG conv names (``"block4_conv3"``) the objective is the rectified
    channel mean, but for the first ``relu_warmup`` steps the ReLU is skipped
    so that a unit that starts dead still gets a gradient (Lucid's redirected
    ReLU serves the same end by another route).
    ``truncate=False`` runs the whole network (for benchmarks).
    ``channels_last``/``bf16`` change memory layout and precision (autocast).
    """
    found = resolve_layer(model, layer)
    module, rectify, label = (found.conv or found.module), found.rectify, found.label
    n_out = _out_channels(module)
    chans = torch.as_tensor(list(channels), dtype=torch.long)
    if chans.numel() == 0:
        raise ValueError("channels is empty; give at least one channel index")
    if n_out is not None and (int(chans.min()) < 0 or int(chans.max()) >= n_out):
        raise ValueError(f"channel out of range for {label}: valid channels are 0..{n_out - 1}")
    if param not in ("fourier", "pixel"):
        raise ValueError(f"unknown param {param!r}; valid: fourier, pixel")
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    device = device_of(model)
    n = len(chans)
    transforms = (param == "fourier") if transforms is None else transforms
    if param == "fourier":
        image = FourierImage(n, size, decorrelate=decorrelate, generator=gen).to(device)
        rule = Adam(image.parameters(), lr)
    else:
        image = PixelImage(n, size, generator=gen).to(device)
        rule = NormalisedAscent(image.pixels, lr)

    def objective(step: int):
        img = image()
        if transforms:
            img = robustness(img, gen)
        x = normalise(img)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(bf16, device):
            (out,) = capture(model, [module], x, truncate=truncate)
        obj = _channel_objective(out.float(), chans, rectify and step >= relu_warmup)
        return obj, obj.detach().float()

    history = optimise(objective, rule, steps, record_every=record_every)
    with torch.no_grad():
        # Measured on the image as returned and shown: the naive method's pixels can leave [0, 1].
        final_img = image().detach().clamp(0, 1)
        (out,) = capture(model, [module], normalise(final_img), truncate=True)
        final = _channel_objective(out.float(), chans, rectify).cpu()
    return OptResult(final_img.cpu(), history, final, {"layer": label, "channels": chans.tolist()})


def _out_channels(module: nn.Module) -> int | None:
    for attr in ("out_channels", "out_features", "num_features"):
        if hasattr(module, attr):
            return int(getattr(module, attr))
    return None
