"""The activation maximisation chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Output, OutputFamily, Technique

_COMMON = {"lr": 0.05, "relu_warmup": 16, "naive_lr": 0.05, "naive": True, "naive_k": 2}
_DREAM = {"dream_layer": "block4_conv3", "dream_octaves": 3, "dream_octave_scale": 1.4, "dream_lr": 0.02}

TECHNIQUE = Technique(
    name="activation_max",
    title="Activation maximisation",
    chapter="activation-maximisation.md",
    order=60,
    scope="model",
    compute_settings={
        "quick": {
            **_COMMON,
            **_DREAM,
            "top_k": 2,
            "steps": 4,
            "size": 32,
            "relu_warmup": 2,
            "naive_k": 1,
            "dream_steps": 3,
        },
        "default": {**_COMMON, **_DREAM, "top_k": 4, "steps": 64, "size": 64, "dream_steps": 10},
        "full": {**_COMMON, **_DREAM, "top_k": 8, "steps": 512, "size": 128, "dream_steps": 20},
    },
    summary="images that maximise the most photo-activated filters of each block's last conv; "
    "naive ascent for comparison",
)

LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
"""The last conv layer of every block: the layers whose filters this chapter optimises."""

_T = TECHNIQUE.name
IMAGES = OutputFamily(
    _T, "images", "the optimised images of a layer's chosen filters, k x size x size x 3 uint8", axes=(LAYERS,)
)
LAYER_RECORDS = Output(
    _T,
    "layers",
    "per layer: the chosen channels, their mean activation on the photos, and the optimisation's numbers",
    kind="record",
)
