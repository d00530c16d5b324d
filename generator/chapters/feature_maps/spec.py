"""The feature maps chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Output, Technique

TECHNIQUE = Technique(
    name="feature_maps",
    title="Feature maps",
    chapter="feature-maps.md",
    order=20,
    compute_settings={"quick": {"top_k": 4}, "default": {"top_k": 16}, "full": {"top_k": 32}},
    summary="top-k and first-k maps of all 13 conv layers and 5 block outputs, block aggregates, sparsity",
)

BLOCK5_POOL = Output(
    TECHNIQUE.name,
    "block5_pool.full",
    "block5_pool's output at full precision, C x h x w "
    "(the predictions run the dense head on it: no second pass through the convs)",
)
