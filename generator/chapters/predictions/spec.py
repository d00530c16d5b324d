"""The predictions chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Technique

TECHNIQUE = Technique(
    name="predictions", title="Predictions", chapter="predictions.md", order=10,
    needs=("feature_maps",),  # block5_pool of each photo
    compute_settings={"quick": {"k": 5}, "default": {"k": 5}, "full": {"k": 5}},
    summary="top-5 ImageNet classes with probabilities, entropy against the uniform guess",
)
