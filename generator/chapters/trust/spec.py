"""The trust chapter's declaration: settings, dependencies and named outputs (no torch).

For a few photos (``photos``: the featured one first) this chapter runs the attribution methods that need
their own passes (Integrated Gradients, LRP, occlusion, Score-CAM) on both networks, and puts every
method, those and the shared pass's, through two tests: weight dependence (Adebayo et al., 2018) and
deletion / insertion faithfulness (Petsiuk et al., 2018) against a random ranking and a Sobel edge map.
"""

from __future__ import annotations

from generator.chapters.cascading_randomisation.verdicts import PASSES_BELOW  # noqa: F401 - the sanity checks' threshold
from generator.core import Technique

_COMMON = {
    "batch_size": 16,
    "score_cam_layer": "block5_conv3",
    "random_seeds": 3,
    "bootstrap": 2000,
    "cascade_separate": ["integrated_gradients", "lrp", "occlusion"],
    # 0: every channel of the layer. Scoring only the most active channels is no faithful shortcut: on the
    # ImageNet-trained EfficientNet-Lite0 of the tests (192 channels of its 6th stage), Score-CAM's map from
    # the 64 most active has Spearman rho 0.04 with the full method's on the cat and 0.80 on the espresso,
    # and a worse deletion AUC on both (measured 2026-12-02), so only the tests' quick profile takes it.
    "score_cam_channels": 0,
    "channels_last": True,  # the forward-only passes (occlusion, Score-CAM, the curves): faster with oneDNN
}

TECHNIQUE = Technique(
    name="trust",
    title="Which explanation can you trust?",
    chapter="trust.md",
    order=43,
    needs=("saliency", "cascading_randomisation"),  # both networks' shared-pass maps, the cascade's similarities
    scope="image",
    models=("trained",),  # one unit per photo runs both networks (the tests compare them)
    compute_settings={
        "quick": {
            **_COMMON,
            "photos": 3,
            "separate_photos": 1,
            "ig_steps": 8,
            "window": 16,
            "stride": 8,
            "steps": 4,
            "random_seeds": 2,
            # the tests' profile: Score-CAM on the 32 most active of block5_conv3's 512 channels, and the
            # cascade for the two methods with rules of their own (occlusion's is the default one's path)
            "score_cam_channels": 32,
            "cascade_separate": ["integrated_gradients", "lrp"],
        },
        "default": {
            **_COMMON,
            "photos": 3,
            "separate_photos": 1,
            "ig_steps": 16,
            "window": 56,
            "stride": 28,
            "steps": 5,
            "random_seeds": 1,
            # LRP only: Integrated Gradients' and occlusion's cascade cost about 75 s of a 2-core build
            "cascade_separate": ["lrp"],
        },
        "full": {
            **_COMMON,
            "photos": 0,
            "separate_photos": 0,
            "ig_steps": 64,
            "window": 32,
            "stride": 16,
            "steps": 20,
            "random_seeds": 5,
            "cascade_separate": ["integrated_gradients", "lrp", "occlusion", "score_cam"],
        },
    },
    render_settings={p: {"alpha": 0.6, "clip_percentile": 99.0} for p in ("quick", "default", "full")},
    summary="Integrated Gradients, LRP, occlusion and Score-CAM; weight dependence and deletion / insertion "
    "curves of every method against random and edge-map baselines",
)
"""``photos``: how many photos the tests cover (0: all of them), the featured one first; ``separate_photos``: on
how many of those the methods with their own passes run (Score-CAM alone costs one forward pass per channel
of its layer, 512 at ``block5_conv3``); ``cascade_separate``: which of those also go through the cascading
randomisation, on those photos (five more runs each: the quick profile runs Integrated Gradients and LRP,
the default LRP alone, which costs one pass a step, and ``full`` all four); ``score_cam_channels``: how many
of the layer's channels Score-CAM scores, the most active ones (0: all; the quick profile scores 32)."""
