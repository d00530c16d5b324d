"""Representation inversion (Mahendran & Vedaldi 2015): a photo back from one layer's features."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from generator.lib.layers import FEATURE_LAYERS, capture, device_of, feature_index, is_vgg16, resolve_layer
from generator.lib.optvis.common import OptResult, flush_denormals
from generator.lib.optvis.loop import Adam, optimise
from generator.lib.optvis.param import denormalise
from generator.lib.optvis.transforms import alpha_norm, total_variation


@flush_denormals()
def invert(
    model: nn.Module,
    layer,
    x: torch.Tensor,
    *,
    steps: int = 200,
    lr: float = 0.05,
    lr_end: float = 0.005,
    alpha: float = 6.0,
    lambda_alpha: float = 1e-3,
    beta: float = 2.0,
    lambda_tv: float | Sequence[float] = 1.0,
    bound: float = 2.0,
    init_sd: float = 0.1,
    generator: torch.Generator | None = None,
    seed: int = 0,
) -> OptResult:
    """Mahendran & Vedaldi (2015): reconstruct ``x`` (Bx3xHxW, model input space) from a layer's features.

    ``layer`` is one layer for the whole batch or a list with one layer per
    image (so that reconstructions from several layers share one batch).
    Minimises, per image,

        ||Φ(y) − Φ(x)||² / ||Φ(x)||²  +  λ_α · mean(|y / B|^α)  +  λ_TV · mean(TV_β(y)) / V^β

    with B = ``bound`` (about the largest pixel magnitude in input space) and
    V = B / 6.5, by Adam with a learning rate falling geometrically from
    ``lr`` to ``lr_end``, from small random noise.  On a torchvision VGG with
    several layers the forward pass of ``model.features`` drops each image
    from the batch once its layer is reached.  ``extra`` holds the final
    feature-space relative error ||Φ(y) − Φ(x)|| / ||Φ(x)|| per image.
    """
    b = x.shape[0]
    layers = list(layer) if isinstance(layer, (list, tuple)) else [layer] * b
    if len(layers) != b:
        raise ValueError(f"{len(layers)} layers for {b} images; give one layer, or one per image")
    lam_tv = torch.as_tensor(
        list(lambda_tv) if isinstance(lambda_tv, (list, tuple)) else [lambda_tv] * b, dtype=torch.float32
    )
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    device = device_of(model)
    x = x.to(device)
    feats_fn = _feature_fn(model, layers)
    with torch.no_grad():
        target = [t.detach() for t in feats_fn(x)]
    t_norm = torch.stack([t.pow(2).sum() for t in target]).clamp_min(1e-12)
    y = (init_sd * torch.randn(x.shape, generator=gen)).to(device).requires_grad_(True)
    rule = Adam([y], lr, maximise=False, lr_end=lr_end, steps=steps)
    v = bound / 6.5
    lam_tv = lam_tv.to(device)

    def objective(step: int):
        feats = feats_fn(y)
        rel = torch.stack([(f - t).pow(2).sum() for f, t in zip(feats, target)]) / t_norm
        loss = rel + lambda_alpha * alpha_norm(y / bound, alpha) + lam_tv * total_variation(y, beta) / v**beta
        return loss, loss.detach()

    history = optimise(objective, rule, steps)
    with torch.no_grad():
        feats = feats_fn(y)
        rel = torch.stack([((f - t).pow(2).sum() / tn).sqrt() for f, t, tn in zip(feats, target, t_norm)])
    return OptResult(
        denormalise(y.detach()).clamp(0, 1).cpu(), history, rel.cpu(), {"relative_error": rel.cpu().tolist()}
    )


def _feature_fn(model: nn.Module, layers: list) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """A function mapping a batch to one feature tensor per image (image i at ``layers[i]``)."""
    if is_vgg16(model) and all(isinstance(lyr, str) and lyr in FEATURE_LAYERS for lyr in layers):
        cut = [feature_index(lyr) for lyr in layers]
        return lambda x: progressive(model.features, x, cut)
    resolved = [resolve_layer(model, lyr) for lyr in layers]
    modules = [r.conv or r.module for r in resolved]
    rect = [r.rectify for r in resolved]
    unique = list({id(m): m for m in modules}.values())

    def fn(x):
        outs = dict(zip([id(m) for m in unique], capture(model, unique, x)))
        res = []
        for i, (m, r) in enumerate(zip(modules, rect)):
            o = outs[id(m)][i : i + 1]
            res.append(F.relu(o) if r else o)
        return res

    return fn


def progressive(seq: nn.Sequential, x: torch.Tensor, cut: Sequence[int]) -> list[torch.Tensor]:
    """Run ``seq`` on a batch, taking image i's output after module ``cut[i]`` and dropping it from the batch.

    Images whose layer is shallow stop early, so a batch of reconstructions
    from several depths costs little more than the deepest one alone.
    """
    order = sorted(range(len(cut)), key=lambda i: cut[i])
    out: list[torch.Tensor | None] = [None] * len(cut)
    alive = order  # indices of x still in the running batch, in batch order
    h = x[torch.tensor(alive, device=x.device)]
    for j, module in enumerate(seq):
        h = module(h)
        done = [k for k, i in enumerate(alive) if cut[i] == j]
        if done:
            for k in done:
                out[alive[k]] = h[k : k + 1]
            keep = [k for k in range(len(alive)) if k not in done]
            if not keep:
                break
            alive = [alive[k] for k in keep]
            h = h[torch.tensor(keep, device=h.device)]
    return out  # type: ignore[return-value]
