"""The filters chapter's declaration: settings, dependencies and named outputs (no torch)."""

from __future__ import annotations

from generator.core import Technique

TECHNIQUE = Technique(
    name="filters",
    title="Filters",
    chapter="filters.md",
    order=30,
    compute_settings={
        "quick": {"filters": 4, "inputs": 4},
        "default": {"filters": 16, "inputs": 16},
        "full": {"filters": 32, "inputs": 32},
    },
    render_settings={
        "quick": {"px_rgb": 6, "px_grey": 4},
        "default": {"px_rgb": 14, "px_grey": 8},
        "full": {"px_rgb": 16, "px_grey": 8},
    },
    scope="model",
    summary="first-layer filters in colour, deeper 3×3 kernels in greyscale, smoothness and colour statistics",
)
