"""Feature maps: what each layer's channels respond to in one photo.

For every conv layer (after its ReLU) and every block output (after the
pool) this keeps the top-k channels by total activation (the maps that fire
hardest on this photo) and the first k channels (an unbiased sample), the
sum of all channels of each block output ("aggregate"), and numbers behind
the chapter's claims: the share of exactly-zero activations per layer
(sparsity) and how closely each block aggregate still resembles the input.

From plain Python, on any torchvision CNN::

    from generator.lib import activations
    from generator.chapters.feature_maps.compute import select_channels
    maps = activations(net, x, ["block3_conv1"])["block3_conv1"][0]   # C × H × W
    top, first = select_channels(maps, 16)
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib.layers import activations
from generator.models import BLOCKS, FEATURE_LAYERS


def luminance(seen: np.ndarray) -> torch.Tensor:
    """Rec. 601 luma of an HxWx3 [0, 1] image, as an HxW tensor."""
    rgb = torch.as_tensor(seen, dtype=torch.float32)
    return rgb @ torch.tensor([0.299, 0.587, 0.114])


def edge_magnitude(gray: torch.Tensor) -> torch.Tensor:
    """Sobel gradient magnitude of an HxW image (replicate padding)."""
    kx = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])
    kernels = torch.stack([kx, kx.T]).unsqueeze(1)
    g = F.conv2d(F.pad(gray[None, None], (1, 1, 1, 1), mode="replicate"), kernels)
    return g.pow(2).sum(1).sqrt()[0]


def pearson(a: torch.Tensor, b: torch.Tensor) -> float:
    a = a.flatten().double() - a.double().mean()
    b = b.flatten().double() - b.double().mean()
    denom = a.norm() * b.norm()
    return float((a @ b) / denom) if denom > 0 else 0.0


def select_channels(act: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the top-k channels by total activation (ties: lower index first) and of the first k."""
    k = min(k, act.shape[0])
    totals = act.sum(dim=(1, 2)).double()
    top = torch.sort(-totals, stable=True).indices[:k]
    return top, torch.arange(k)


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    k = ctx.settings["top_k"]
    x = image.tensor.to(ctx.device)
    with torch.no_grad():
        outs = activations(model.net, x, FEATURE_LAYERS)
    arrays: dict[str, np.ndarray] = {}
    layers: dict[str, dict] = {}
    for name, out in outs.items():
        act = out[0].float().cpu()
        top, first = select_channels(act, k)
        keep = torch.unique(torch.cat([top, first]))  # sorted
        maps = act[keep]
        peak = maps.amax(dim=(1, 2))
        arrays[f"{name}.channels"] = keep.numpy().astype(np.int32)
        arrays[f"{name}.top"] = top.numpy().astype(np.int32)
        arrays[f"{name}.first"] = first.numpy().astype(np.int32)
        arrays[f"{name}.peak"] = peak.numpy().astype(np.float32)
        # maps scaled by their own peak (>= 0 after ReLU), so float16 loses nothing visible
        arrays[f"{name}.maps"] = (maps / peak.clamp_min(1e-12)[:, None, None]).numpy().astype(np.float16)
        totals = act.sum(dim=(1, 2))
        layers[name] = {
            "shape": list(act.shape),
            "sparsity": float((act == 0).float().mean()),
            "dead_channels": float((act.amax(dim=(1, 2)) == 0).float().mean()),
            "mean": float(act.mean()),
            "top_share": float(totals[top].sum() / totals.sum().clamp_min(1e-12)),
        }
    gray = luminance(image.seen)
    edges = edge_magnitude(gray)
    blocks: dict[str, dict] = {}
    for block in BLOCKS:
        agg = outs[f"{block}_pool"][0].float().cpu().sum(0)
        arrays[f"{block}.aggregate"] = agg.numpy().astype(np.float32)
        up = F.interpolate(agg[None, None], size=gray.shape, mode="bilinear", align_corners=False)[0, 0]
        blocks[block] = {
            "corr_luminance": pearson(up, gray),
            "corr_edges": pearson(up, edges),
            "channels": int(outs[f"{block}_pool"].shape[1]),
            "size": list(agg.shape),
        }
    # The whole last block output (512 x 7 x 7 at 224 px, 100 KB): predictions runs only the
    # classifier on it instead of a second pass through the conv layers.
    arrays["block5_pool.full"] = outs["block5_pool"][0].float().cpu().numpy()
    return Result(arrays=arrays, records={"layers": layers, "blocks": blocks})
