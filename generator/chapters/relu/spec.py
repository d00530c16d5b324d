"""The ReLU chapter section's declaration: what each conv layer computes before its ReLU (no torch)."""

from __future__ import annotations

from generator.core import Technique

TECHNIQUE = Technique(
    name="relu",
    title="Before and after the ReLU",
    chapter="feature-maps.md",
    order=21,
    compute_settings={"quick": {"channels": 2}, "default": {"channels": 4}, "full": {"channels": 6}},
    summary="every conv layer's output before its ReLU (the share above zero, the biases), and a few "
    "channels of block1_conv1 and block3_conv1 before and after it",
)
