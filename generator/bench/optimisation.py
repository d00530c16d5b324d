"""Optimisation visualisations: batching, truncation, memory layout, precision, and the whole stage.

All measured in one run on the same machine, at the default profile's
activation-maximisation settings (64 px, 4 filters per layer), for the last
conv layer of each of the five blocks:

1. **Batched + truncated vs one filter at a time through the whole network**:
   filter-steps per second of ``activation_maximisation(layer, 4 filters)``
   against a loop of four one-filter calls with ``truncate=False`` (the
   forward pass runs on through the classifier).  Target: at least 2x.
2. **Truncation alone** (one filter, truncated vs whole network), as a saving
   of work averaged over the five blocks: about 40 % expected.
3. **Batching alone** (truncated, four filters in one batch vs four calls).
4. **channels_last** memory layout and **bfloat16 autocast**, each against
   the float32 contiguous batch, with how far their images move from the
   float32 ones (mean absolute pixel difference, same seed).
5. **The whole stage** in the default profile: activation_max, class_model
   and inversion, both models, all photos, from an empty cache
   (predictions are computed first and not counted).  Target: at most 360 s.

Timings are the best of ``--repeats`` interleaved rounds, so a burst of load
from other processes hurts both sides alike; the load average is reported.
Without an ImageNet checkpoint the trained model is a seeded stand-in with
the same shapes (same cost).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

STEPS = 6
SIZE = 64
K = 4


DEVICE = "cpu"  # set by run(): every row says where it ran


def _row(metric, value, unit, target=None, ok=None):
    from generator.bench import row

    return row("optimisation", metric, value, unit, target, ok, DEVICE)


def _load() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def _weights(args, tmp: Path) -> Path:
    from generator import models

    w = getattr(args, "weights", None)
    if w is not None:
        return Path(w)
    if models.default_checkpoint_path().is_file():
        return models.default_checkpoint_path()
    print("optimisation bench: no ImageNet checkpoint; using a seeded stand-in VGG16 (same cost)", file=sys.stderr)
    import torchvision

    torch.manual_seed(123)
    path = tmp / "vgg16-standin.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), path)
    return path


from generator.bench import best_of as _best  # noqa: E402


def bench_layers(net, repeats: int) -> list[dict]:
    from generator.chapters.activation_max.compute import LAYERS
    from generator.lib import optvis

    chans = list(range(K))
    kw = dict(steps=STEPS, size=SIZE, relu_warmup=2)
    rows, savings, speedups, batch_only = [], [], [], []
    cl_ratio, bf_ratio, cl_diff, bf_diff = [], [], [], []
    for layer in LAYERS:

        def batched(layer=layer, **more):
            return optvis.activation_maximisation(net, layer, chans, seed=0, **kw, **more)

        def loop(truncate, layer=layer):
            return [optvis.activation_maximisation(net, layer, [c], seed=0, truncate=truncate, **kw) for c in chans]

        fns = {
            "batched": batched,
            "loop_full": lambda: loop(False),
            "loop_trunc": lambda: loop(True),
            "channels_last": lambda: batched(channels_last=True),
            "bf16": lambda: batched(bf16=True),
        }
        batched()  # warm-up
        t, out = _best(fns, repeats, DEVICE)
        speedups.append(t["loop_full"] / t["batched"])
        savings.append(1 - t["loop_trunc"] / t["loop_full"])
        batch_only.append(t["loop_trunc"] / t["batched"])
        cl_ratio.append(t["batched"] / t["channels_last"])
        bf_ratio.append(t["batched"] / t["bf16"])
        ref = out["batched"].images
        cl_diff.append(float((out["channels_last"].images - ref).abs().mean()))
        bf_diff.append(float((out["bf16"].images - ref).abs().mean()))
        rows.append(
            _row(f"{layer}: batched+truncated vs 1-at-a-time full", speedups[-1], "x", ">= 2", speedups[-1] >= 2)
        )
        rows.append(_row(f"{layer}: batched+truncated filter-steps/s", K * STEPS / t["batched"], "1/s"))
        rows.append(_row(f"{layer}: truncation saving (1 filter)", 100 * savings[-1], "%"))
        print(
            f"  {layer}: x{speedups[-1]:.2f} batched+truncated, truncation saves {100 * savings[-1]:.0f} %",
            file=sys.stderr,
            flush=True,
        )
    gm = float(np.exp(np.mean(np.log(speedups))))
    rows.append(_row("mean over blocks: batched+truncated vs 1-at-a-time full", gm, "x", ">= 2", gm >= 2))
    rows.append(_row("mean over blocks: truncation saving", 100 * float(np.mean(savings)), "%", "~40"))
    rows.append(_row("mean over blocks: batching alone (truncated)", float(np.exp(np.mean(np.log(batch_only)))), "x"))
    rows.append(_row("mean over blocks: channels_last speed-up", float(np.exp(np.mean(np.log(cl_ratio)))), "x"))
    rows.append(_row("channels_last: mean |pixel diff| vs float32", float(np.mean(cl_diff)), "[0,1]"))
    rows.append(_row("mean over blocks: bf16 autocast speed-up", float(np.exp(np.mean(np.log(bf_ratio)))), "x"))
    rows.append(_row("bf16: mean |pixel diff| vs float32", float(np.mean(bf_diff)), "[0,1]"))
    return rows


def bench_stage(weights: Path, tmp: Path) -> list[dict]:
    from generator import models
    from generator.build import Build, BuildOptions
    from generator.config import get_profile

    root = Path(__file__).resolve().parents[2]
    opts = BuildOptions(
        profile=get_profile("default"),
        images_dir=root / "images",
        out_dir=tmp / "gen",
        cache_dir=tmp / "cache",
        weights=models.WeightsSource(weights, explicit=True),
        device=torch.device(DEVICE),
        only=["predictions"],
        progress=False,
    )
    Build(opts).run()  # a dependency, not part of the stage
    stages = ["activation_max", "class_model", "inversion"]
    opts.only = ["predictions", *stages]
    import resource

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    report = Build(opts).run()
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    rows = [
        _row(f"stage: {n} (compute + render)", report.stats[n].compute_s + report.stats[n].render_s, "s")
        for n in stages
    ]
    ok = report.ok and wall <= 360
    rows.append(_row(f"stage total, default profile, {report.images} photos x 2 models", wall, "s", "<= 360", ok))
    # On a shared machine wall time includes waiting for the CPU; CPU seconds over the
    # thread count is what the stage would take with the cores to itself.
    rows.append(
        _row(
            f"stage CPU time / {torch.get_num_threads()} threads (load-independent)",
            cpu / torch.get_num_threads(),
            "s",
            "<= 360",
        )
    )
    for f in report.failures:
        print(f"optimisation bench: {f.where}: {f.message}", file=sys.stderr)
    return rows


def run(args) -> list[dict]:
    global DEVICE
    from generator import models
    from generator.bench import bench_device

    device = bench_device(args)
    DEVICE = str(device)
    repeats = max(1, int(getattr(args, "repeats", 3)))
    with tempfile.TemporaryDirectory(prefix="cnn-sees-bench-opt-") as tmp:
        tmp = Path(tmp)
        weights = _weights(args, tmp)
        net = models.build_trained(weights, device)
        rows = [_row(f"threads {torch.get_num_threads()}, load average at start", _load(), "")]
        rows += bench_layers(net, repeats)
        del net
        if os.environ.get("CNN_SEES_BENCH_NO_STAGE") != "1":
            rows += bench_stage(weights, tmp)
    rows.append(_row("load average at the end", _load(), ""))
    return rows
