"""The class activation maps chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Technique

TECHNIQUE = Technique(
    name="grad_cam", title="Class activation maps", chapter="cam.md", order=41,
    needs=("saliency",),  # the maps come from the saliency technique's single pass
    compute_settings={"quick": {}, "default": {}, "full": {}},
    render_settings={"quick": {"alpha": 0.5}, "default": {"alpha": 0.5}, "full": {"alpha": 0.5}},
    summary="Grad-CAM at the last conv of every block (block5_conv3 primary) and guided Grad-CAM",
)
