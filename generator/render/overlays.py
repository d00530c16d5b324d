"""Heat maps over photos, shared by the attribution chapters (saliency, Grad-CAM, sanity checks).

``overlay_grid`` lays out one row per model, the photo first and then each map
blended over it, with one colour bar; ``clip_scale`` scales a map by a
percentile; ``colourbar`` and ``CMAP`` keep the maps' colours the same on every page.
"""

from __future__ import annotations

import textwrap

import numpy as np

from generator.render import FULL_WIDTH_IN, new_figure, overlay

CMAP = "inferno"  # perceptually uniform, dark = no evidence, bright = strong evidence


def clip_scale(m: np.ndarray, percentile: float) -> np.ndarray:
    """Scale a non-negative map to [0, 1] by its ``percentile``-th value, clipping above; flat -> zeros."""
    m = np.asarray(m, dtype=np.float32)
    top = float(np.percentile(m, percentile)) if m.size else 0.0
    if top <= 0:
        top = float(m.max()) if m.size else 0.0
    return np.zeros_like(m) if top <= 0 else np.clip(m / top, 0.0, 1.0)


def colourbar(fig, axes, label: str, cmap: str = CMAP):
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    cb = fig.colorbar(ScalarMappable(norm=Normalize(0, 1), cmap=cmap), ax=axes, shrink=0.8, pad=0.01, aspect=30)
    cb.set_label(label, fontsize=9)
    cb.ax.tick_params(labelsize=8)
    return cb


def overlay_grid(
    rows: list[tuple[str, list[np.ndarray]]],
    seen: np.ndarray,
    titles: list[str],
    *,
    alpha: float,
    bar_label: str,
    show_photo: bool = True,
    panel: float = 2.0,
):
    """A figure: one row per (label, heat maps in [0, 1]); the photo first, then each map blended over it.

    Panels are ``panel`` inches, or smaller when the row would be wider than the column
    (:data:`~generator.render.FULL_WIDTH_IN`); titles and row labels wrap to their panel.
    """
    ncols = len(titles) + (1 if show_photo else 0)
    panel = min(panel, (FULL_WIDTH_IN - 0.8) / ncols)
    fig = new_figure(panel * ncols + 0.8, panel * len(rows) + 0.4)
    axes = np.atleast_2d(fig.subplots(len(rows), ncols, squeeze=False))
    for r, (label, heats) in enumerate(rows):
        c0 = 0
        if show_photo:
            axes[r, 0].imshow(seen, interpolation="nearest")
            axes[r, 0].set_ylabel(wrap(label, panel, 9), fontsize=9)
            c0 = 1
        for j, heat in enumerate(heats):
            axes[r, c0 + j].imshow(overlay(seen, heat, alpha=alpha, cmap=CMAP), interpolation="nearest")
            if not show_photo and j == 0:
                axes[r, 0].set_ylabel(wrap(label, panel, 9), fontsize=9)
    for j, t in enumerate((["photo (as the model saw it)"] if show_photo else []) + titles):
        axes[0, j].set_title(wrap(t, panel, 9), fontsize=9)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    colourbar(fig, axes, bar_label)
    return fig


def wrap(text: str, inches: float, pt: float) -> str:
    """``text`` broken into lines that fit about ``inches`` at ``pt`` points (DejaVu Sans averages about
    0.55 em a character); line breaks already in it are kept."""
    chars = max(8, int(inches * 72 / (0.55 * pt)))
    return "\n".join(textwrap.fill(line, chars, break_on_hyphens=False) for line in text.split("\n"))


def expected_note(img, target_label: str) -> str | None:
    """The credits' expected label when it differs from the class explained, else None."""
    c = img.credit
    if c and c.label and c.label != target_label:
        return c.label
    return None
