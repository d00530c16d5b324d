"""Representation inversion (Mahendran & Vedaldi 2015): what a layer keeps of a photo.

For a few photos and a set of conv layers, an image is optimised so that its
features at that layer match the photo's, under an alpha-norm and a
total-variation prior whose weight grows with depth.  All (photo, layer)
reconstructions of a model form one batch; each image leaves the forward
pass once its layer is reached (:func:`generator.lib.optvis.invert`).  Quality is
measured in feature space (relative error) and in image space (SSIM and
PSNR against the photo at the same size).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib import optvis
from generator.lib.arrays import to_uint8
from generator.lib.metrics import psnr, ssim_rgb
from generator.models import BLOCKS, CONV_LAYERS, block_of, last_conv

# lambda_TV per block: a deeper layer keeps less, so the prior must fill in more.
TV_BY_BLOCK = {"block1": 0.05, "block2": 0.1, "block3": 0.3, "block4": 1.0, "block5": 3.0}


def photos_for(images: list[ImageInput], wanted: list[str], n: int) -> list[ImageInput]:
    """The photos named in ``wanted`` that exist, topped up with the others in order, ``n`` in all."""
    by_id = {i.id: i for i in images}
    chosen = [by_id[w] for w in wanted if w in by_id]
    chosen += [i for i in images if i not in chosen]
    return chosen[:n]


def photo_at(img: ImageInput, size: int) -> torch.Tensor:
    """The photo as the model sees it, resized (antialiased) to size x size, in [0, 1]; 1x3xHxW."""
    x = torch.as_tensor(img.seen, dtype=torch.float32).permute(2, 0, 1)[None]
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0, 1)


def compute(ctx: Context, model: ModelInput, image: ImageInput | None) -> Result:
    s = ctx.settings
    layers = CONV_LAYERS if s["layers"] == "all" else [last_conv(b) for b in BLOCKS]
    photos = photos_for(ctx.images, s["photos"], s["n_photos"])
    originals = {p.id: photo_at(p, s["size"]) for p in photos}
    batch = [(p.id, lyr) for p in photos for lyr in layers]
    x = torch.cat([optvis.normalise(originals[pid]) for pid, _ in batch])
    lam = [s["tv_scale"] * TV_BY_BLOCK[block_of(lyr)] for _, lyr in batch]
    gen = torch.Generator().manual_seed(ctx.seed)
    res = optvis.invert(
        model.net,
        [lyr for _, lyr in batch],
        x,
        **ctx.pick("steps", "lr", "lr_end", "alpha", "lambda_alpha", "beta"),
        lambda_tv=lam,
        generator=gen,
    )
    arrays: dict[str, np.ndarray] = {}
    rows = []
    for pid, orig in originals.items():
        arrays[f"{pid}.original"] = to_uint8(orig[0].permute(1, 2, 0).numpy())
    for i, (pid, layer) in enumerate(batch):
        rec = res.images[i].permute(1, 2, 0).numpy()
        ref = originals[pid][0].permute(1, 2, 0).numpy()
        arrays[f"{pid}.{layer}"] = to_uint8(rec)
        rows.append(
            {
                "photo": pid,
                "layer": layer,
                "lambda_tv": lam[i],
                "relative_error": float(res.extra["relative_error"][i]),
                "ssim": ssim_rgb(rec, ref),
                "psnr": psnr(rec, ref),
                "loss_start": float(res.history[0, i]),
                "loss_end": float(res.history[-1, i]),
            }
        )
    arrays["history"] = res.history.numpy().astype(np.float32)
    return Result(arrays=arrays, records={"rows": rows, "photos": [p.id for p in photos], "layers": layers})
