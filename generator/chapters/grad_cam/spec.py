"""The class activation maps chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.chapters.saliency.spec import CAM_LAYERS
from generator.core import Output, OutputFamily, Technique

TECHNIQUE = Technique(
    name="grad_cam",
    title="Class activation maps",
    chapter="cam.md",
    order=41,
    family="cam",
    needs=("saliency",),  # the maps come from the saliency technique's single pass
    compute_settings={"quick": {}, "default": {}, "full": {}},
    render_settings={"quick": {"alpha": 0.5}, "default": {"alpha": 0.5}, "full": {"alpha": 0.5}},
    summary="Grad-CAM at the last conv of every block (block5_conv3 primary) and guided Grad-CAM",
)


def _rule_methods() -> tuple[str, ...]:
    from generator.lib.methods import cam_methods

    return tuple(m.name for m in cam_methods() if m.cam_rule)


def _combined_methods() -> tuple[str, ...]:
    from generator.lib.methods import cam_methods

    return tuple(m.name for m in cam_methods() if not m.cam_rule)


_T = TECHNIQUE.name
CAM = OutputFamily(
    _T,
    "cam",
    "a CAM method's map at a layer, upsampled to the photo and scaled to [0, 1]",
    axes=(_rule_methods, CAM_LAYERS),
)
COMBINED = OutputFamily(
    _T, "map", "a CAM method built on other signals (guided Grad-CAM), H x W, not scaled", axes=(_combined_methods,)
)
EXPECTED_CAM = Output(_T, "expected.cam", "Grad-CAM for the credits' expected class, scaled", optional=True)
EXPECTED_SALIENCY = Output(_T, "expected.saliency", "the gradient map for the expected class", optional=True)
TARGET_SALIENCY = Output(
    _T, "target.saliency", "the gradient map for the top-1 (beside the expected one)", optional=True
)
