"""The sanity checks chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Output, Technique

STEPS = ["classifier", "block5", "block4", "block3", "block2", "block1"]
"""Layer groups re-initialised in turn, top down."""

TECHNIQUE = Technique(
    name="cascading_randomisation",
    title="Sanity checks",
    chapter="sanity-checks.md",
    order=42,
    needs=("saliency",),  # both models' maps, settings and SmoothGrad noise
    compute_settings={"quick": {"smoothgrad": False}, "default": {"smoothgrad": False}, "full": {"smoothgrad": True}},
    scope="image",
    models=("trained",),
    summary="trained-vs-untrained similarity of every map, and cascading randomisation from the top block down",
)

_T = TECHNIQUE.name
SIMILARITY = Output(
    _T,
    "similarity",
    "per method: Spearman and SSIM between its map on the trained network and at each cascade step",
    kind="record",
)
