"""The VGG16 in one page chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Technique

TECHNIQUE = Technique(
    name="architecture",
    title="VGG16 in one page",
    chapter="vgg16.md",
    order=5,
    compute_settings={"quick": {}, "default": {}, "full": {}},
    scope="model",
    models=("untrained",),
    summary="layer table (shapes, parameters, receptive fields) and a diagram, generated from the model",
)
