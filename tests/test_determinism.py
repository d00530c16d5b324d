"""The deterministic formulations that CUDA builds use (generator.lib.determinism) give the values of the
PyTorch ops they replace, forward and backward.  They are exercised here on the CPU, by calling them
directly; on a CUDA device in deterministic mode the build takes them automatically."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from generator.lib import determinism
from generator.lib.optvis.transforms import ANGLES, SCALES


def _grid(n, size, gen):
    import math

    s = torch.tensor(SCALES)[torch.randint(0, len(SCALES), (n,), generator=gen)]
    a = torch.tensor(ANGLES, dtype=torch.float32)[torch.randint(0, len(ANGLES), (n,), generator=gen)] * math.pi / 180
    cos, sin = torch.cos(a) / s, torch.sin(a) / s
    theta = torch.stack([torch.stack([cos, sin, torch.zeros(n)], 1), torch.stack([-sin, cos, torch.zeros(n)], 1)], 1)
    return F.affine_grid(theta, [n, 3, size, size], align_corners=False)


@pytest.mark.parametrize("size", [17, 64])
def test_gathered_bilinear_sampling_matches_grid_sample(size):
    gen = torch.Generator().manual_seed(size)
    x = torch.rand(4, 3, size, size, generator=gen, dtype=torch.float64, requires_grad=True)
    grid = _grid(4, size, gen).double()
    grid[0, 0, 0] = torch.tensor([-1.3, 1.2], dtype=torch.float64)  # outside: clamped to the border
    ref = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    ours = determinism.bilinear_sample_border(x, grid)
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
    w = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), x)
    (g_ours,) = torch.autograd.grad((ours * w).sum(), x)
    torch.testing.assert_close(g_ours, g_ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("size_in", [2, 5, 7, 9, 14])
def test_pooling_by_matrices_matches_adaptive_avg_pool(size_in, monkeypatch):
    gen = torch.Generator().manual_seed(size_in)
    x = torch.rand(2, 4, size_in, size_in + 1, generator=gen, dtype=torch.float64, requires_grad=True)
    ref = F.adaptive_avg_pool2d(x, (7, 7))
    monkeypatch.setattr(determinism, "deterministic_cuda", lambda t: True)  # take the CUDA formulation here
    ours = determinism.adaptive_avg_pool2d(x, (7, 7))
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12)
    w = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(
        torch.autograd.grad((ours * w).sum(), x)[0], torch.autograd.grad((ref * w).sum(), x)[0], rtol=0, atol=1e-12
    )


def test_same_size_pooling_is_the_identity_bit_for_bit():
    x = torch.randn(1, 512, 7, 7)
    pool = determinism.AdaptiveAvgPool2d((7, 7))
    assert torch.equal(pool(x), F.adaptive_avg_pool2d(x, (7, 7)))
    assert torch.equal(pool(x), x)


def test_picking_one_channel_per_image_by_gather():
    gen = torch.Generator().manual_seed(0)
    out = torch.randn(3, 8, 5, 5, generator=gen, requires_grad=True)
    chans = torch.tensor([7, 0, 3])
    ref = out[torch.arange(3), chans]
    ours = determinism.pick_channels(out, chans)
    assert torch.equal(ours, ref)
    assert torch.equal(torch.autograd.grad(ours.sum(), out)[0], torch.autograd.grad(ref.sum(), out)[0])
    logits = torch.randn(3, 10, generator=gen)
    assert torch.equal(determinism.pick_channels(logits, chans), logits[torch.arange(3), chans])


def test_the_vgg16s_use_the_reproducible_pooling(standin_weights):
    from generator import models

    for net in (models.build_untrained(), models.build_trained(standin_weights)):
        assert isinstance(net.avgpool, determinism.AdaptiveAvgPool2d) and net.avgpool.output_size == (7, 7)


def test_configure_is_a_no_op_on_a_cpu(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = torch.are_deterministic_algorithms_enabled()
    determinism.configure("cpu")
    assert torch.are_deterministic_algorithms_enabled() == before
    import os

    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_configure_makes_cuda_deterministic():
    determinism.configure("cuda")
    import os

    assert (
        os.environ["CUBLAS_WORKSPACE_CONFIG"] == determinism.CUBLAS_WORKSPACE or os.environ["CUBLAS_WORKSPACE_CONFIG"]
    )
    assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    assert not torch.backends.cudnn.benchmark
