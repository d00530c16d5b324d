"""Class model visualisation (Simonyan et al. 2013): images that maximise a class score."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from generator.lib.determinism import pick_channels
from generator.lib.layers import device_of
from generator.lib.optvis.common import OptResult, flush_denormals
from generator.lib.optvis.loop import NormalisedAscent, optimise
from generator.lib.optvis.param import PixelImage, denormalise, normalise
from generator.lib.optvis.transforms import gaussian_blur, roll_jitter


@flush_denormals()
def _score_report(start: torch.Tensor, logits: torch.Tensor, chans: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """The targets' final scores, and ``extra``: start and final scores, the best other class, rank, probability."""
    n = torch.arange(len(chans))
    final = logits[n, chans]
    others = logits.clone()
    others[n, chans] = -float("inf")
    return final, {
        "start": start[n, chans].tolist(),
        "final": final.tolist(),
        "best_other": others.max(1).values.tolist(),
        "best_other_index": others.argmax(1).tolist(),
        "rank": [int((logits[i] > logits[i, c]).sum()) + 1 for i, c in enumerate(chans.tolist())],
        "prob": torch.softmax(logits.double(), 1)[n, chans].tolist(),
    }


def class_model(
    model: nn.Module,
    classes: Sequence[int],
    *,
    steps: int = 200,
    size: int = 224,
    lr: float = 0.1,
    l2: float = 0.01,
    jitter: int = 4,
    blur_every: int = 4,
    blur_sigma: float = 0.5,
    generator: torch.Generator | None = None,
    seed: int = 0,
    n_classes: int | None = None,
) -> OptResult:
    """Simonyan et al. (2013): images that maximise the unnormalised score of each class in ``classes``.

    The objective of image I for class c is S_c(I) - l2 * ||I||² / N, with
    S_c the pre-softmax score (the model's output), I in the model's
    (normalised) input space and N its number of values.  Each step jitters
    the images by up to ``jitter`` pixels and moves them by ``lr`` times the
    RMS-normalised gradient; every ``blur_every`` steps they are blurred
    (Gaussian, ``blur_sigma`` px) and clipped to the valid pixel range.
    Starts from a grey image plus a little noise.  ``extra`` holds the start
    and final target scores, the final best other class and the target's
    softmax probability.
    """
    chans = torch.as_tensor(list(classes), dtype=torch.long)
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    device = device_of(model)
    n = len(chans)
    if n == 0:
        raise ValueError("classes is empty; give at least one class index")
    pixels = PixelImage(n, size, sd=0.05, generator=gen).pixels.detach().to(device).requires_grad_(True)
    lo = normalise(torch.zeros(1, 3, 1, 1)).to(device)
    hi = normalise(torch.ones(1, 3, 1, 1)).to(device)

    def scores(x):
        out = model(x)
        if out.ndim != 2:
            raise ValueError(f"class_model needs a classifier with (batch, classes) outputs, got {tuple(out.shape)}")
        return out

    with torch.no_grad():
        start_logits = scores(pixels)
    k = start_logits.shape[1] if n_classes is None else n_classes
    if int(chans.min()) < 0 or int(chans.max()) >= k:
        raise ValueError(f"class index out of range: valid classes are 0..{k - 1}")

    def objective(step: int):
        target = pick_channels(scores(roll_jitter(pixels, jitter, gen)), chans)
        return target - l2 * pixels.pow(2).flatten(1).mean(1), target.detach()

    def blur_and_clip(step: int) -> None:
        with torch.no_grad():
            if blur_every and (step + 1) % blur_every == 0:
                pixels.copy_(gaussian_blur(pixels, blur_sigma))
            pixels.copy_(torch.maximum(torch.minimum(pixels, hi), lo))

    history = optimise(objective, NormalisedAscent(pixels, lr), steps, after_step=blur_and_clip)
    pixels = pixels.detach()
    with torch.no_grad():
        logits = scores(pixels).float().cpu()
    final, extra = _score_report(start_logits.float().cpu(), logits, chans)
    return OptResult(denormalise(pixels).clamp(0, 1).cpu(), history, final, extra)
