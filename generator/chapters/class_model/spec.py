"""The class model visualisation chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Technique

WELL_KNOWN = [11, 130, 980]  # goldfinch, flamingo, volcano: optimised besides the photos' classes

_COMMON = {"extra_classes": WELL_KNOWN, "lr": 0.1, "l2": 0.05, "jitter": 4, "blur_every": 4, "blur_sigma": 0.5}

TECHNIQUE = Technique(
    name="class_model",
    title="Class model visualisation",
    chapter="class-models.md",
    order=61,
    scope="model",
    needs=("predictions",),  # the photos' top-1 classes
    compute_settings={
        "quick": {**_COMMON, "steps": 4, "size": 32, "jitter": 2},
        "default": {**_COMMON, "steps": 80, "size": 64},
        "full": {**_COMMON, "steps": 400, "size": 224, "jitter": 8},
    },
    summary="images that maximise the class score of the photos' classes and a few well-known ones",
)
