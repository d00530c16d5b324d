"""Activation maximisation: what each chosen filter "wants to see".

For the last conv layer of every block, the filters that the photo set
excites most (mean activation over all photos) are chosen; for each, an
image is optimised to maximise that channel's mean activation.  The images
of one layer are one batch, and the forward pass stops at the layer
(:func:`generator.lib.optvis.activation_maximisation`).  The same filters are
also optimised with the naive method (plain pixel-space gradient ascent),
for the comparison figure.
"""

from __future__ import annotations

import numpy as np
import torch

from generator.chapters.activation_max.spec import IMAGES, LAYERS
from generator.config import featured_among
from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib import optvis
from generator.lib.arrays import to_uint8
from generator.lib.layers import conv_layer
from generator.models import activations


def chosen_filters(
    net, images: list[ImageInput], layers: list[str], k: int, device="cpu"
) -> dict[str, tuple[list[int], list[float]]]:
    """Per layer, the ``k`` channels with the largest mean activation over ``images`` (ties: lower index)."""
    sums: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for img in images:
            outs = activations(net, img.tensor.to(device), layers)
            for name, out in outs.items():
                m = out[0].float().mean(dim=(1, 2)).double().cpu()
                sums[name] = sums.get(name, 0) + m
    chosen = {}
    for name in layers:
        mean = sums[name] / len(images)
        order = torch.sort(-mean, stable=True).indices[:k]
        chosen[name] = (order.tolist(), [float(mean[i]) for i in order])
    return chosen


def _uint8(images: torch.Tensor) -> np.ndarray:
    return to_uint8(images.permute(0, 2, 3, 1).numpy())


def compute(ctx: Context, model: ModelInput, image: ImageInput | None) -> Result:
    s = ctx.settings
    chosen = chosen_filters(model.net, ctx.images, LAYERS, s["top_k"], ctx.device)
    arrays: dict[str, np.ndarray] = {}
    layers: dict[str, dict] = {}
    for li, layer in enumerate(LAYERS):
        channels, photo_mean = chosen[layer]
        gen = torch.Generator().manual_seed(ctx.seed + li)
        res = optvis.activation_maximisation(
            model.net, layer, channels, generator=gen, **ctx.pick("steps", "size", "lr", "relu_warmup")
        )
        arrays[IMAGES(layer).key] = _uint8(res.images)
        arrays[f"{layer}.history"] = res.history.numpy().astype(np.float32)
        info = {
            "channels": channels,
            "photo_mean": photo_mean,
            "final": res.final.tolist(),
            "start": res.history[0].tolist(),
            "end": res.history[-1].tolist(),
            "out_channels": int(conv_layer(model.net, layer).out_channels),
        }
        if s["naive"]:
            gen = torch.Generator().manual_seed(ctx.seed + 100 + li)
            naive = optvis.activation_maximisation(
                model.net,
                layer,
                channels[: s["naive_k"]],
                steps=s["steps"],
                size=s["size"],
                lr=s["naive_lr"],
                param="pixel",
                relu_warmup=s["relu_warmup"],
                generator=gen,
            )
            arrays[f"{layer}.naive"] = _uint8(naive.images)
            arrays[f"{layer}.naive_history"] = naive.history.numpy().astype(np.float32)
            info["naive_final"] = naive.final.tolist()
        layers[layer] = info
    records = {"layers": layers, "layer_names": list(LAYERS), "dream": _dream(ctx, model, arrays)}
    return Result(arrays=arrays, records=records)


def _dream(ctx: Context, model: ModelInput, arrays: dict) -> dict:
    """DeepDream on the featured photo: ``dream_layer`` amplified over octaves (into ``arrays``); its numbers."""
    s = ctx.settings
    photo = next(i for i in ctx.images if i.id == featured_among([i.id for i in ctx.images]))
    res = optvis.deep_dream(model.net, photo.tensor.to(ctx.device), s["dream_layer"], octaves=s["dream_octaves"],
                            octave_scale=s["dream_octave_scale"], steps=s["dream_steps"], lr=s["dream_lr"])  # fmt: skip
    arrays["dream.image"] = _uint8(optvis.denormalise(res.images).clamp(0, 1))[0]
    arrays["dream.history"] = res.history.numpy().astype(np.float32)
    return {"photo": photo.id, "start": float(res.history[0, 0]), "final": float(res.final[0])}
