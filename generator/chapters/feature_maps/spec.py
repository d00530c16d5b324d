"""The feature maps chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Technique

TECHNIQUE = Technique(
    name="feature_maps", title="Feature maps", chapter="feature-maps.md", order=20,
    compute_settings={"quick": {"top_k": 4}, "default": {"top_k": 16}, "full": {"top_k": 32}},
    summary="top-k and first-k maps of all 13 conv layers and 5 block outputs, block aggregates, sparsity",
)
