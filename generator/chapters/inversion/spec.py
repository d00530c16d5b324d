"""The representation inversion chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Technique

_COMMON = {
    "photos": ["chelsea", "coffee"],
    "n_photos": 2,
    "lr": 0.05,
    "lr_end": 0.005,
    "alpha": 6.0,
    "lambda_alpha": 1e-3,
    "beta": 2.0,
    "tv_scale": 1.0,
    "layers": "last",
}

TECHNIQUE = Technique(
    name="inversion",
    title="Representation inversion",
    chapter="inversion.md",
    order=62,
    scope="model",
    compute_settings={
        "quick": {**_COMMON, "steps": 6, "size": 32},
        "default": {**_COMMON, "steps": 100, "size": 64},
        "full": {**_COMMON, "steps": 600, "size": 224, "layers": "all"},
    },
    summary="reconstructions of two photos from one layer of every block (all 13 in full), with SSIM/PSNR",
)
