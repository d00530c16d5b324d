"""Gradient explanations: our Grad-CAM and SmoothGrad against the reference libraries, and the whole stage.

Five measurements, all in one run on the same machine:

1. **Grad-CAM per image** at ``block5_conv3`` (224 px): ``grad_cam()`` against
   pytorch-grad-cam's ``GradCAM`` on the same frozen VGG16 (given an input
   that requires grad, its best case: otherwise it also computes every weight
   gradient).  Target: ours at least 1.5x faster, maps equal within 1e-5.
2. **SmoothGrad, n = 25** (224 px): ``smoothgrad()`` against Captum's
   ``NoiseTunnel(Saliency)`` with the same noise.  Target: at least 1.2x faster,
   same map within 1e-5 relative to its maximum.
3. **The whole stage** in the default profile: saliency, grad_cam and
   cascading_randomisation (sanity figures included), all photos, both
   models, from an empty cache (predictions are computed first and not
   counted).  Target: at most 180 s.

Timings are the best of ``--repeats`` interleaved runs (ours, theirs, ours,
...), so a burst of load from other processes hurts both sides alike.
The load average is reported with the rows: on a shared machine it matters.

``--device cuda`` runs them all on the GPU (every row names its device):
both sides then draw SmoothGrad's noise on the GPU (ours from a seeded CUDA
generator, Captum's from the global one after ``torch.manual_seed``: the same
numbers), and the build runs deterministic kernels, whose cost is measured
too (4: the same SmoothGrad with deterministic algorithms off).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from generator.bench import families

SIZE = 224
N_SMOOTH = 25
SIGMA = 0.15
SEED = 1234


def _model(args, device):
    from generator import models

    weights = getattr(args, "weights", None)
    try:
        return models.build_trained(weights, device), "trained"
    except models.WeightsError as exc:
        print(f"gradients bench: {exc}; timing the untrained VGG16 instead (same cost)", file=sys.stderr)
        return models.build_untrained(device=device), "untrained"


def _photo():
    from generator import images

    root = Path(__file__).resolve().parents[2] / "images"
    return images.prepare(images.load_rgb(root / "chelsea.png"), SIZE).tensor


from generator.bench import best_of as _best  # noqa: E402

DEVICE = "cpu"  # set by run(): every row says where it ran


def _row(metric, value, unit, target=None, ok=None):
    from generator.bench import row

    return row("gradients", metric, value, unit, target, ok, DEVICE)


def bench_grad_cam(net, x, target, repeats) -> list[dict]:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from generator.lib.attr import grad_cam

    with GradCAM(model=net, target_layers=[net.features[29]]) as cam:
        targets = [ClassifierOutputTarget(target)]
        fns = {
            "ours": lambda: grad_cam(net, x, target, "block5_conv3").numpy(),
            "pytorch-grad-cam": lambda: cam(input_tensor=x.clone().requires_grad_(True), targets=targets)[0],
        }
        for fn in fns.values():  # warm-up: oneDNN primitives, allocator
            fn()
        best, out = _best(fns, repeats, x.device)
    diff = float(np.abs(out["ours"] - out["pytorch-grad-cam"]).max())
    speed = best["pytorch-grad-cam"] / best["ours"]
    return [
        _row("Grad-CAM per image, ours", best["ours"], "s"),
        _row("Grad-CAM per image, pytorch-grad-cam", best["pytorch-grad-cam"], "s"),
        _row("Grad-CAM speed-up", speed, "x", ">= 1.5", speed >= 1.5),
        _row("Grad-CAM max |difference| (maps in [0,1])", diff, "", "<= 1e-5", diff <= 1e-5),
    ]


def bench_smoothgrad(net, x, target, repeats) -> list[dict]:
    from captum.attr import NoiseTunnel, Saliency

    from generator.lib.attr import smoothgrad

    stdev = SIGMA * float(x.max() - x.min())
    nt = NoiseTunnel(Saliency(net))

    def theirs():
        torch.manual_seed(SEED)  # the same noise as ours (on a GPU: the CUDA generator, as ours there)
        xr = x.clone().requires_grad_(True)
        return nt.attribute(xr, nt_type="smoothgrad", nt_samples=N_SMOOTH, stdevs=stdev, target=target)[0].amax(0)

    from generator.lib.engine import explain

    batch = N_SMOOTH if x.is_cuda else 5  # the default profile's batch on a CPU; one batch on a GPU
    fns = {
        "ours": lambda: smoothgrad(net, x, target, n=N_SMOOTH, sigma=SIGMA, seed=SEED, batch_size=batch),
        "captum": theirs,
        "ours, channels-last": lambda: explain(
            net,
            x,
            target,
            guided=False,
            smooth_n=N_SMOOTH,
            sigma=SIGMA,
            seed=SEED,
            batch_size=batch,
            channels_last=True,
        ).smooth.amax(0),
    }
    # warm-up with a couple of samples each
    smoothgrad(net, x, target, n=2, sigma=SIGMA, seed=SEED, batch_size=2)
    nt.attribute(x.clone().requires_grad_(True), nt_type="smoothgrad", nt_samples=2, stdevs=stdev, target=target)
    best, out = _best(fns, repeats, x.device)
    ref = out["captum"].detach().cpu()
    out = {k: v.detach().cpu() for k, v in out.items()}
    rel = float((out["ours"] - ref).abs().max() / ref.abs().max())
    speed = best["captum"] / best["ours"]
    speed_cl = best["captum"] / best["ours, channels-last"]
    rel_cl = float((out["ours, channels-last"] - ref).abs().max() / ref.abs().max())
    return [
        _row(f"SmoothGrad n={N_SMOOTH}, ours channels-last (pipeline)", best["ours, channels-last"], "s"),
        _row("SmoothGrad speed-up, channels-last", speed_cl, "x", ">= 1.2", speed_cl >= 1.2),
        _row("SmoothGrad channels-last max rel. difference", rel_cl, "", "float32 rounding", None),
        _row(f"SmoothGrad n={N_SMOOTH}, ours", best["ours"], "s"),
        _row(f"SmoothGrad n={N_SMOOTH}, Captum NoiseTunnel", best["captum"], "s"),
        _row("SmoothGrad speed-up", speed, "x", ">= 1.2", speed >= 1.2),
        _row("SmoothGrad max relative difference", rel, "", "<= 1e-5", rel <= 1e-5),
    ]


def bench_determinism(net, x, target, repeats) -> list[dict]:
    """What deterministic kernels cost: the pipeline's SmoothGrad pass with them required, then not."""
    from generator.lib.engine import explain

    def one():
        return explain(
            net,
            x,
            target,
            guided=True,
            smooth_n=N_SMOOTH,
            sigma=SIGMA,
            seed=SEED,
            batch_size=N_SMOOTH,
            channels_last=True,
            cam_layers=["block5_conv3"],
        ).smooth

    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )

    def relaxed():
        torch.use_deterministic_algorithms(False)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = False, x.is_cuda
        try:
            return one()
        finally:
            torch.use_deterministic_algorithms(before[0])
            torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[1], before[2]

    one(), relaxed()  # warm-up (and cuDNN's autotuning, for the relaxed side)
    best, _ = _best({"deterministic": one, "relaxed": relaxed}, repeats, x.device)
    cost = best["deterministic"] / best["relaxed"]
    return [
        _row("explain + SmoothGrad n=25, deterministic kernels", best["deterministic"], "s"),
        _row("explain + SmoothGrad n=25, non-deterministic kernels", best["relaxed"], "s"),
        _row("cost of determinism (time ratio)", cost, "x", "report"),
    ]


def bench_stage(args) -> list[dict]:
    from generator import models
    from generator.build import Build, BuildOptions
    from generator.config import get_profile

    weights = getattr(args, "weights", None)
    if weights is None and not models.default_checkpoint_path().is_file():
        print("gradients bench: no ImageNet checkpoint; the stage needs one, pass --weights", file=sys.stderr)
        return [_row("stage (default profile)", float("nan"), "s", "<= 180", None)]
    src = models.WeightsSource(Path(weights) if weights else None, explicit=weights is not None)
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="cnn-sees-bench-") as tmp:
        opts = BuildOptions(
            profile=get_profile("default"),
            images_dir=root / "images",
            out_dir=Path(tmp) / "gen",
            cache_dir=Path(tmp) / "cache",
            weights=src,
            device=torch.device(DEVICE),
            only=["predictions"],
            progress=False,
        )
        Build(opts).run()  # predictions first: a dependency, not part of the stage
        opts.only = ["predictions", "saliency", "grad_cam", "cascading_randomisation"]
        t0 = time.perf_counter()
        report = Build(opts).run()
        wall = time.perf_counter() - t0
    stages = ("saliency", "grad_cam", "cascading_randomisation")
    rows = [
        _row(f"stage: {name} (compute + render)", report.stats[name].compute_s + report.stats[name].render_s, "s")
        for name in stages
    ]
    ok = report.ok and wall <= 180
    rows.append(_row(f"stage total, default profile, {report.images} photos x 2 models", wall, "s", "<= 180", ok))
    if not report.ok:
        for f in report.failures:
            print(f"gradients bench: {f.where}: {f.message}", file=sys.stderr)
    return rows


def run(args) -> list[dict]:
    global DEVICE
    from generator.bench import bench_device

    device = bench_device(args)
    DEVICE = str(device)
    torch.manual_seed(0)
    net, which = _model(args, device)
    x = _photo().to(device)
    with torch.no_grad():
        target = int(net(x).argmax())
    repeats = max(1, int(getattr(args, "repeats", 3)))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = [_row(f"threads {torch.get_num_threads()}, load average at start ({which} model)", load, "")]
    rows += bench_grad_cam(net, x, target, repeats)
    rows += bench_smoothgrad(net, x, target, max(1, repeats - 1))
    rows += bench_determinism(net, x, target, max(1, repeats - 1))
    rows += families.run(_row, net, x, target, repeats)
    rows += bench_stage(args)
    rows.append(_row("load average at the end", os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"), ""))
    return rows
