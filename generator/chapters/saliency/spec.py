"""The saliency maps chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Technique

TECHNIQUE = Technique(
    name="saliency", title="Saliency maps", chapter="saliency.md", order=40,
    needs=("predictions",),
    compute_settings={
        "quick": {"smoothgrad_n": 4, "sigma": 0.15, "noise_seed": 0, "batch_size": 4, "channels_last": False},
        "default": {"smoothgrad_n": 25, "sigma": 0.15, "noise_seed": 0, "batch_size": 5, "channels_last": True},
        "full": {"smoothgrad_n": 50, "sigma": 0.15, "noise_seed": 0, "batch_size": 25, "channels_last": True},
    },
    render_settings={p: {"clip_percentile": 99.0, "alpha": 0.6} for p in ("quick", "default", "full")},
    summary="vanilla gradient, SmoothGrad and guided backprop of the trained model's top-1 class (and the Grad-CAM pass)",
)
