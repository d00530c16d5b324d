"""The saliency chapter's declaration: settings, dependencies and named outputs (no torch).

The saliency pass is the site's one gradient pass: for every (photo, model)
it computes what every attribution method in :data:`generator.lib.methods.METHODS`
needs (the input gradient, guided backprop, SmoothGrad and each CAM rule's raw map
at the last conv of every block).  The Grad-CAM, sanity-check and building-blocks
chapters read its outputs through the names below.
"""

from __future__ import annotations

from generator.core import Output, OutputFamily, Technique

CAM_LAYERS = ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
"""The CAM layers the site shows: the last conv (after its ReLU) of every block."""
PRIMARY_CAM_LAYER = "block5_conv3"


def _cam_rules() -> tuple[str, ...]:
    from generator.lib.methods import cam_rules_used

    return tuple(cam_rules_used())


def _channel_rules() -> tuple[str, ...]:
    from generator.lib.cam_rules import CAM_RULES

    return tuple(r for r in _cam_rules() if CAM_RULES[r].kind == "channel")


TECHNIQUE = Technique(
    name="saliency",
    title="Saliency maps",
    chapter="saliency.md",
    order=40,
    family="gradient",
    needs=("predictions",),
    compute_settings={
        "quick": {"smoothgrad_n": 4, "sigma": 0.15, "noise_seed": 0, "batch_size": 4, "channels_last": False},
        "default": {"smoothgrad_n": 25, "sigma": 0.15, "noise_seed": 0, "batch_size": 5, "channels_last": True},
        "full": {"smoothgrad_n": 50, "sigma": 0.15, "noise_seed": 0, "batch_size": 25, "channels_last": True},
    },
    render_settings={p: {"clip_percentile": 99.0, "alpha": 0.6} for p in ("quick", "default", "full")},
    summary="vanilla gradient, SmoothGrad and guided backprop of the trained model's top-1 class "
    "(and the Grad-CAM pass)",
)

_T = TECHNIQUE.name
GRADIENT = Output(_T, "gradient", "dS/dx for the explained class, 3 x H x W, signed")
GUIDED = Output(_T, "guided", "the guided-backprop signal, 3 x H x W, signed")
DECONVNET = Output(_T, "deconvnet", "the DeconvNet signal, 3 x H x W, signed")
INPUT = Output(_T, "input", "the photo as the network saw it (normalised), 3 x H x W: gradient x input reads it")
SMOOTHGRAD = Output(_T, "smoothgrad", "SmoothGrad's mean |dS/dx| over the noisy copies, 3 x H x W")
CAM = OutputFamily(
    _T,
    "cam",
    "a CAM rule's raw map (ReLU of the combination, not scaled) at a layer, h x w",
    axes=(_cam_rules, CAM_LAYERS),
)
CAM_WEIGHTS = OutputFamily(
    _T,
    "cam_weights",
    "a channel-weight CAM rule's weights at a layer, one per channel",
    axes=(_channel_rules, CAM_LAYERS),
)
CAM_ACTIVATIONS = OutputFamily(
    _T, "cam_activations", "the activations the CAM weights multiply, k x h x w", axes=((PRIMARY_CAM_LAYER,),)
)
EXPECTED_GRADIENT = Output(
    _T,
    "expected.gradient",
    "dS/dx for the credits' expected class (when it is not the top-1), 3 x H x W",
    optional=True,
)
EXPECTED_CAM = Output(
    _T, f"expected.cam.{PRIMARY_CAM_LAYER}", "Grad-CAM's raw map for the expected class", optional=True
)

TARGET = Output(_T, "target", "the explained class: the trained model's top-1", kind="record")
TARGET_LABEL = Output(_T, "target_label", "its ImageNet name", kind="record")
EXPECTED = Output(
    _T, "expected", "the credits' expected class when it differs from the target, else None", kind="record"
)
EXPECTED_LABEL = Output(_T, "expected_label", "its ImageNet name, or None", kind="record")
SMOOTH_N = Output(_T, "n", "SmoothGrad's number of noisy copies", kind="record")
SIGMA = Output(_T, "sigma", "SmoothGrad's noise, as a fraction of the input's range", kind="record")
NOISE_SEED = Output(
    _T, "seed", "SmoothGrad's noise seed (from the photo, so both models see the same noise)", kind="record"
)
BATCH_SIZE = Output(_T, "batch_size", "SmoothGrad's batch size", kind="record")
CHANNELS_LAST = Output(_T, "channels_last", "whether the pass ran channels-last", kind="record")
