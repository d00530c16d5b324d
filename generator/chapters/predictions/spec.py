"""The predictions chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Output, Technique

TECHNIQUE = Technique(
    name="predictions",
    title="Predictions",
    chapter="predictions.md",
    order=10,
    needs=("feature_maps",),  # block5_pool of each photo
    compute_settings={"quick": {"k": 5}, "default": {"k": 5}, "full": {"k": 5}},
    summary="top-5 ImageNet classes with probabilities, entropy against the uniform guess",
)

TOP = Output(TECHNIQUE.name, "top", "the top-k classes by logit: [{index, label, prob, logit}]", kind="record")
LOGITS = Output(TECHNIQUE.name, "logits", "the 1000 pre-softmax class scores")
PROBS = Output(TECHNIQUE.name, "probs", "the 1000 softmax probabilities (float64)")
