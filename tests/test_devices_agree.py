"""A CUDA build states the same numbers as a CPU build, within stated tolerances (skipped without CUDA).

The figures of a CPU and a GPU build differ in their last bits: other kernels, TF32 convolutions
(PyTorch's default for cuDNN), and SmoothGrad's noise, which a GPU draws from its own generator.  So
this compares the numbers the chapters state -- every floating-point value in the records of every
technique -- between the session's quick CPU build and a quick CUDA build of the same photos and
weights.  The tolerance is relative to the larger magnitude, per technique:

* forward passes and plain gradients (predictions, feature maps, filters, Grad-CAM): 2 %;
* SmoothGrad statistics (different noise draws of the same distribution) and the randomisation
  cascade built on them: 15 %;
* optimisations (activation maximisation, class models, inversion), where rounding differences grow
  over the steps: 30 %.

Integers, strings and captions (which print the same floats) are not compared.  On a machine with a GPU
run ``nox -s tests -- tests/test_devices_agree.py``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from tests.conftest import quick_args, run_generator

ROOT = Path(__file__).resolve().parents[1]

TOLERANCE = {
    "architecture": 1e-6,
    "filters": 1e-6,
    "predictions": 0.02,
    "feature_maps": 0.02,
    "relu": 0.02,  # shares of a forward pass's outputs above zero
    "grad_cam": 0.02,
    "building_blocks": 0.02,
    "saliency": 0.15,
    "cascading_randomisation": 0.15,
    "activation_max": 0.3,
    "class_model": 0.3,
    "inversion": 0.3,
    "explorer": 0.02,  # the feature maps' forward pass, quantised to 256 levels
    "trust": 0.3,  # rankings of many maps and optimised curves: every upstream difference adds up
}
ABSOLUTE = 1e-3  # values near zero (shares, correlations) compare absolutely


def floats(tree, path=""):
    """(path, value) of every float in a records tree, figures (which carry captions) left out."""
    if isinstance(tree, dict):
        if "caption" in tree and "path" in tree:
            return
        for k, v in tree.items():
            yield from floats(v, f"{path}.{k}")
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from floats(v, f"{path}[{i}]")
    elif isinstance(tree, float):
        yield path, tree


def disagreements(cpu: dict, gpu: dict, rtol: float) -> list[str]:
    a, b = dict(floats(cpu)), dict(floats(gpu))
    out = [f"{p}: only on one device" for p in sorted(a.keys() ^ b.keys())]
    for p in sorted(a.keys() & b.keys()):
        x, y = a[p], b[p]
        if math.isnan(x) and math.isnan(y):
            continue
        if not abs(x - y) <= ABSOLUTE + rtol * max(abs(x), abs(y)):
            out.append(f"{p}: cpu {x:.6g}, cuda {y:.6g}")
    return out


def test_the_tolerance_rule():
    from generator.chapters import registry

    assert set(TOLERANCE) == set(registry())  # a new technique states its tolerance here
    assert not disagreements(
        {"a": 1.0, "f": {"caption": "x", "path": "y", "w": 3.0}},
        {"a": 1.01, "f": {"caption": "z", "path": "y", "w": 9.0}},
        0.02,
    )
    assert disagreements({"a": [1.0, 2.0]}, {"a": [1.0, 2.5]}, 0.02) == [".a[1]: cpu 2, cuda 2.5"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_build_states_the_cpu_builds_numbers(quick_build, standin_weights, tmp_path):
    out = tmp_path / "cuda"
    proc = run_generator(
        *quick_args(ROOT / "images", out, tmp_path / "cache", standin_weights, "--device", "cuda"), timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    problems = []
    for technique, rtol in TOLERANCE.items():
        cpu = json.loads((quick_build / ".state" / f"{technique}.json").read_text())["records"]
        gpu = json.loads((out / ".state" / f"{technique}.json").read_text())["records"]
        problems += [f"{technique}{line}" for line in disagreements(cpu, gpu, rtol)]
    assert not problems, f"{len(problems)} numbers disagree, e.g.:\n" + "\n".join(problems[:30])
