"""The attribution families in the ``gradients`` bench: Integrated Gradients, occlusion and Score-CAM
against Captum and pytorch-grad-cam, on the same network, photo, class and settings.

Each row pair is the best of ``repeats`` interleaved runs (see :func:`generator.bench.best_of`); the
ratio is theirs / ours (target >= 1.0: ours no slower) and the maps must agree as in the oracle tests
(``tests/test_attribution_families.py``). The photo is 112 px, a quarter of the pixels of the build's
224, so that Score-CAM's 512 masked passes and occlusion's windows fit a CPU run; both sides see the same.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SIZE = 112
IG_STEPS = 32
WINDOW, STRIDE = 28, 14
BATCH = 32


def _compare(row, what: str, fns: dict, repeats: int, device, tolerance: float, scale: bool) -> list[dict]:
    """Time ``fns`` (ours first, then the reference), and report both, their ratio and the largest difference."""
    from generator.bench import best_of

    for fn in fns.values():  # warm-up
        fn()
    best, out = best_of(fns, repeats, device)
    (ours, mine), (theirs, ref) = ((k, np.asarray(out[k], dtype=np.float64)) for k in fns)
    diff = float(np.abs(mine - ref).max() / (np.abs(ref).max() if scale else 1.0))
    ratio = best[theirs] / best[ours]
    kind = "max relative difference" if scale else "max |difference| (maps in [0,1])"
    return [
        row(f"{what} per image ({SIZE} px), {ours}", best[ours], "s"),
        row(f"{what} per image ({SIZE} px), {theirs}", best[theirs], "s"),
        row(f"{what} speed ratio, {theirs} / ours", ratio, "x", ">= 1.0", ratio >= 1.0),
        row(f"{what} {kind}", diff, "", f"<= {tolerance:g}", diff <= tolerance),
    ]


def bench_integrated_gradients(row, net, x, target, repeats) -> list[dict]:
    from captum.attr import IntegratedGradients

    from generator.lib.integrated import integrated_gradients

    ig = IntegratedGradients(net)
    fns = {
        "ours": lambda: integrated_gradients(net, x, target, steps=IG_STEPS, batch_size=BATCH).numpy(),
        "Captum": lambda: ig.attribute(
            x.clone(), baselines=torch.zeros_like(x), target=target, n_steps=IG_STEPS,
            method="gausslegendre", internal_batch_size=BATCH,
        )[0].detach().cpu().numpy(),
    }  # fmt: skip
    return _compare(row, f"Integrated Gradients, {IG_STEPS} steps", fns, repeats, x.device, 1e-4, True)


def bench_occlusion(row, net, x, target, repeats) -> list[dict]:
    from captum.attr import Occlusion

    from generator.lib.perturbation import occlusion

    occ = Occlusion(net)
    fns = {
        "ours": lambda: occlusion(net, x, target, window=WINDOW, stride=STRIDE, batch_size=BATCH).numpy(),
        "Captum": lambda: occ.attribute(
            x.clone(), sliding_window_shapes=(3, WINDOW, WINDOW), strides=(3, STRIDE, STRIDE), baselines=0.0,
            target=target, perturbations_per_eval=BATCH,
        )[0, 0].detach().cpu().numpy(),
    }  # fmt: skip
    return _compare(row, f"occlusion, window {WINDOW} stride {STRIDE}", fns, repeats, x.device, 1e-4, True)


def bench_score_cam(row, net, x, target, repeats) -> list[dict]:
    from pytorch_grad_cam import ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from generator.lib.perturbation import score_cam

    with ScoreCAM(model=net, target_layers=[net.features[29]]) as cam:
        cam.batch_size = BATCH
        targets = [ClassifierOutputTarget(target)]
        fns = {
            "ours": lambda: score_cam(net, x, target, "block5_conv3", batch_size=BATCH).numpy(),
            "pytorch-grad-cam": lambda: cam(input_tensor=x.clone(), targets=targets)[0],
        }
        return _compare(row, "Score-CAM at block5_conv3", fns, max(1, repeats - 1), x.device, 1e-4, False)


def run(row, net, x224: torch.Tensor, target: int, repeats: int) -> list[dict]:
    """All three, on ``x224`` resized to ``SIZE`` px."""
    x = F.interpolate(x224, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True)
    rows = bench_integrated_gradients(row, net, x, target, repeats)
    rows += bench_occlusion(row, net, x, target, repeats)
    rows += bench_score_cam(row, net, x, target, repeats)
    return rows
