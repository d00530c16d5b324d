"""The activation maximisation chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Technique

_COMMON = {"lr": 0.05, "relu_warmup": 16, "naive_lr": 0.05, "naive": True, "naive_k": 2}

TECHNIQUE = Technique(
    name="activation_max",
    title="Activation maximisation",
    chapter="activation-maximisation.md",
    order=60,
    scope="model",
    compute_settings={
        "quick": {**_COMMON, "top_k": 2, "steps": 4, "size": 32, "relu_warmup": 2, "naive_k": 1},
        "default": {**_COMMON, "top_k": 4, "steps": 64, "size": 64},
        "full": {**_COMMON, "top_k": 8, "steps": 512, "size": 128},
    },
    summary="images that maximise the most photo-activated filters of each block's last conv; "
    "naive ascent for comparison",
)
