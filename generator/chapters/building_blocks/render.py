"""Building-blocks figures: for each model, the units that matter most for the photo's class.

Top row: each unit's activation map on the photo (upsampled bilinearly, scaled to
its own peak, blended over the photo). Bottom row: the unit's activation-
maximisation image. Titles give the channel, its Grad-CAM weight αₖ and its
contribution αₖ · mean(Aₖ).
"""

from __future__ import annotations

import numpy as np
import torch

from generator.lib.attr import upsample
from generator.render import MODEL_COLOURS, RenderContext, models_in, new_figure, overlay


def _upsampled(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Each k x h x w map upsampled bilinearly to ``size`` (as Grad-CAM's are), then scaled to its own peak."""
    up = np.stack([upsample(torch.from_numpy(np.asarray(m, np.float32)), size, scale=False).numpy() for m in maps])
    peak = up.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, up / np.where(peak > 0, peak, 1), 0.0)


def render(rc: RenderContext, results) -> dict:
    models = models_in(results)
    shown = []
    for img in rc.images:
        recs = {m: results[(img.id, m)].records for m in models}
        if not all(r.get("shown") for r in recs.values()):
            continue
        figures = {}
        for m in models:
            res, rec = results[(img.id, m)], recs[m]
            k = len(rec["channels"])
            heat = _upsampled(res.arrays["maps"], tuple(img.seen.shape[:2]))
            fig = new_figure(1.7 * k, 3.7)
            axes = np.atleast_2d(fig.subplots(2, k)).reshape(2, k)
            for j, c in enumerate(rec["channels"]):
                axes[0, j].imshow(overlay(img.seen, heat[j], alpha=0.6, cmap="inferno"))
                axes[0, j].set_title(
                    f"channel {c}\nα = {rec['alpha'][j]:.2g}, α·Ā = {rec['contribution'][j]:.2g}", fontsize=8
                )
                axes[1, j].imshow(res.arrays["images"][j])
            for ax in axes.ravel():
                ax.set_xticks([])
                ax.set_yticks([])
            axes[0, 0].set_ylabel("where, on the photo", fontsize=8)
            axes[1, 0].set_ylabel("what, on its own", fontsize=8)
            fig.suptitle(rc.labels[m], fontsize=9, color=MODEL_COLOURS[m])
            figures[m] = rc.mpl(
                fig,
                image=img.id,
                model=m,
                layer=rec["layer"],
                kind="units",
                caption=(
                    f"{img.title}, {rc.labels[m]}: the {k} channels of `{rec['layer']}` that add most to the "
                    f"score of *{rec['target_label']}* (largest αₖ · mean(Aₖ), with αₖ Grad-CAM's channel "
                    f"weight). Top: each channel's map on the photo, scaled to its own peak. Bottom: an image "
                    f"optimised to excite that channel alone. {100 * rec['positive_share']:.0f} % of the "
                    f"layer's {rec['n_channels']} channels have a positive weight."
                ),
            )
        shown.append(
            {
                "id": img.id,
                "title": img.title,
                "figures": figures,
                "channels": {m: recs[m]["channels"] for m in models},
                "target_label": recs[models[0]]["target_label"],
            }
        )
    return {"shown": shown, "models": models, "featured": rc.featured()}
