"""The the units behind a decision chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Technique

_COMMON = {"k": 4, "lr": 0.05, "relu_warmup": 16}

TECHNIQUE = Technique(
    name="building_blocks",
    title="The units behind a decision",
    chapter="cam.md",
    order=43,
    needs=("saliency",),  # Grad-CAM's channel weights for the trained model's top-1
    compute_settings={
        "quick": {**_COMMON, "k": 2, "steps": 4, "size": 32, "relu_warmup": 2, "photos": "featured"},
        "default": {**_COMMON, "steps": 64, "size": 64, "photos": "featured"},
        "full": {**_COMMON, "steps": 256, "size": 128, "photos": "all"},
    },
    scope="image",
    summary="for the featured photo, the block5_conv3 channels that raise the class score most: "
    "their maps on the photo and what each responds to on its own",
)
