"""The optimisation machinery (generator/lib/optvis/): parameterisation, transformations, priors, metrics,
truncation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from generator.lib import optvis
from generator.lib.layers import capture, resolve_layer
from generator.lib.metrics import psnr, ssim_rgb
from generator.models import build_untrained, feature_index


@pytest.fixture(scope="module")
def vgg():
    return build_untrained()


def test_fourier_image_starts_grey_and_is_repeatable():
    with torch.no_grad():
        a = optvis.FourierImage(3, 24, generator=torch.Generator().manual_seed(5))()
        b = optvis.FourierImage(3, 24, generator=torch.Generator().manual_seed(5))()
        c = optvis.FourierImage(3, 24, generator=torch.Generator().manual_seed(6))()
    assert a.shape == (3, 3, 24, 24)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # init sd 0.01 on the spectrum: every pixel starts within a few percent of mid-grey
    assert float((a - 0.5).abs().max()) < 0.1
    assert float(a.min()) > 0 and float(a.max()) < 1


def test_spectrum_scale_is_one_over_frequency_with_clamped_dc():
    s = optvis.spectrum_scale(8, 8)
    assert s.shape == (8, 5)
    assert float(s[0, 0]) == pytest.approx(8.0)  # 1 / (1/max(h, w))
    assert float(s[0, 1]) == pytest.approx(8.0)  # frequency 1/8 -> 8
    assert float(s[0, 4]) == pytest.approx(2.0)  # Nyquist 1/2 -> 2
    assert float(s[4, 4]) == pytest.approx(1 / np.sqrt(0.5))


def test_decorrelated_colour_matrix_has_unit_largest_column():
    assert float(optvis.COLOUR_CORRELATION.norm(dim=0).max()) == pytest.approx(1.0)


def test_transformations_are_deterministic_given_a_generator_and_keep_the_batch():
    x = torch.rand(4, 3, 40, 40)
    a = optvis.robustness(x, torch.Generator().manual_seed(1))
    b = optvis.robustness(x, torch.Generator().manual_seed(1))
    c = optvis.robustness(x, torch.Generator().manual_seed(2))
    # pad 12 on each side, then crops of 8 and 4
    assert a.shape == (4, 3, 40 + 24 - 8 - 4, 40 + 24 - 8 - 4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_jitter_crops_a_shifted_window():
    x = torch.arange(2 * 3 * 10 * 10, dtype=torch.float32).view(2, 3, 10, 10)
    y = optvis.jitter(x, 4, torch.Generator().manual_seed(0))
    assert y.shape == (2, 3, 6, 6)
    for i in range(2):  # each crop is a contiguous window of its own image
        oy, ox = divmod(int(y[i, 0, 0, 0] - x[i, 0, 0, 0]), 10)
        assert torch.equal(y[i], x[i, :, oy : oy + 6, ox : ox + 6])


def test_scale_rotate_identity_and_pad_value():
    x = torch.rand(2, 3, 16, 16)
    same = optvis.scale_rotate(x, scales=(1.0,), angles=(0,), generator=torch.Generator().manual_seed(0))
    assert torch.allclose(same, x, atol=1e-5)
    p = optvis.pad(x, 12, 0.5)
    assert p.shape[-1] == 40 and float(p[0, 0, 0, 0]) == 0.5


def test_gaussian_blur_keeps_constants_and_smooths_noise():
    c = torch.full((1, 3, 12, 12), 0.3)
    assert torch.allclose(optvis.gaussian_blur(c, 1.0), c, atol=1e-6)
    n = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert optvis.total_variation(optvis.gaussian_blur(n, 1.0)) < 0.3 * optvis.total_variation(n)


def test_total_variation_and_alpha_norm_values():
    ramp = torch.arange(5, dtype=torch.float32).view(1, 1, 1, 5).expand(1, 1, 5, 5).contiguous()
    assert float(optvis.total_variation(ramp)) == pytest.approx(1.0)  # dx = 1, dy = 0 everywhere
    assert float(optvis.total_variation(torch.ones(1, 3, 6, 6))) == 0.0
    x = torch.full((1, 3, 2, 2), 2.0)
    assert float(optvis.alpha_norm(x, 6)) == pytest.approx(64.0)


def test_ssim_and_psnr_match_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    a = rng.random((40, 40, 3))
    b = np.clip(a + 0.1 * rng.standard_normal(a.shape), 0, 1)
    ref = metrics.structural_similarity(a, b, channel_axis=-1, data_range=1.0)
    assert ssim_rgb(a, b) == pytest.approx(ref, abs=0.01)  # skimage averages over a cropped border
    assert ssim_rgb(a, a) == pytest.approx(1.0)
    assert psnr(a, b) == pytest.approx(metrics.peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-6)
    assert psnr(np.zeros((4, 4)), np.full((4, 4), 0.1)) == pytest.approx(20.0)


class _Boom(nn.Module):
    def forward(self, x):
        raise AssertionError("the forward pass went past the target layer")


def test_capture_stops_at_the_target_layer_and_removes_its_hooks():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), _Boom())
    (out,) = capture(net, [net[1]], torch.rand(1, 3, 8, 8))
    assert out.shape == (1, 4, 6, 6)
    assert not any(m._forward_hooks for m in net.modules())
    with pytest.raises(AssertionError):
        capture(net, [net[1]], torch.rand(1, 3, 8, 8), truncate=False)
    assert not any(m._forward_hooks for m in net.modules())


def test_resolve_layer_names_and_errors(vgg):
    layer = resolve_layer(vgg, "block3_conv3")
    assert layer.conv is vgg.features[feature_index("block3_conv3") - 1] and layer.rectify
    assert layer.module is vgg.features[feature_index("block3_conv3")]
    layer = resolve_layer(vgg, "features.28")
    assert layer.module is vgg.features[28] and not layer.rectify
    assert resolve_layer(vgg, vgg.features[28]).path == "features.28"
    with pytest.raises(ValueError, match=r"unknown layer 'block9_conv1' for this VGG; valid layers: block1_conv1"):
        resolve_layer(vgg, "block9_conv1")
    with pytest.raises(ValueError, match="not part of the model"):
        resolve_layer(vgg, nn.Conv2d(1, 1, 1))


def test_progressive_forward_equals_separate_forwards(vgg):
    x = torch.rand(3, 3, 32, 32)
    layers = ["block1_conv2", "block3_conv1", "block2_pool"]
    cut = [feature_index(n) for n in layers]
    outs = optvis.progressive(vgg.features, x, cut)
    for i, c in enumerate(cut):
        ref = vgg.features[: c + 1](x[i : i + 1])
        assert torch.allclose(outs[i], ref, atol=1e-5)


def test_optimisation_leaves_parameters_without_gradients_and_denormals_off(vgg):
    optvis.activation_maximisation(vgg, "block1_conv1", [0], steps=2, size=16)
    assert all(p.grad is None and not p.requires_grad for p in vgg.parameters())
    # flush-to-zero is switched back off afterwards: a denormal survives
    assert float(torch.tensor(1e-40) * 1.0) != 0.0
