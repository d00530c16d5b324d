"""Representation inversion: recovering a photo from the first conv layer, batching layers, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from generator import images as imgmod
from generator.lib import optvis
from generator.lib.metrics import psnr, ssim_rgb
from generator.models import build_untrained
from tests.conftest import IMAGES

# Measured: inverting block1_conv1 of the seed-0 untrained VGG16 at 32x32 px for 80 Adam steps gives
# PSNR 28.1 dB and SSIM 0.86 on chelsea (seeds 0 and 1 alike); the photo's own mean colour scores
# about 12 dB.  The thresholds leave a margin for other CPUs and library versions.
PSNR_MIN = 25.0
SSIM_MIN = 0.75


@pytest.fixture(scope="module")
def vgg():
    return build_untrained()


@pytest.fixture(scope="module")
def photo():
    return imgmod.prepare(imgmod.load_rgb(IMAGES / "chelsea.png"), 32)


def test_first_conv_layer_recovers_the_photo(vgg, photo):
    res = optvis.invert(vgg, "block1_conv1", photo.tensor, steps=80, lambda_tv=0.05, seed=0)
    rec = res.images[0].permute(1, 2, 0).numpy()
    flat = np.broadcast_to(photo.seen.mean(axis=(0, 1)), photo.seen.shape)
    assert psnr(rec, photo.seen) >= PSNR_MIN
    assert psnr(rec, photo.seen) > psnr(flat, photo.seen) + 8
    assert ssim_rgb(rec, photo.seen) >= SSIM_MIN
    assert res.history[-1, 0] < 0.3 * res.history[0, 0]  # the loss falls
    assert float(res.final[0]) < 0.5  # feature-space relative error


def test_layers_batched_match_layers_alone(vgg, photo):
    x = photo.tensor.repeat(2, 1, 1, 1)
    both = optvis.invert(vgg, ["block1_conv2", "block2_conv2"], x, steps=4, seed=1)
    # the hook path (module names) gives the same features, so the same optimisation
    hooked = optvis.invert(vgg, ["features.3", "features.8"], x, steps=4, seed=1)
    assert torch.allclose(both.images, hooked.images, atol=1e-5)
    assert both.images.shape == (2, 3, 32, 32)


def test_deeper_layers_keep_less(vgg, photo):
    x = photo.tensor.repeat(2, 1, 1, 1)
    res = optvis.invert(vgg, ["block1_conv2", "block5_conv3"], x, steps=30, lambda_tv=[0.05, 3.0], seed=0)
    s = [ssim_rgb(im.permute(1, 2, 0).numpy(), photo.seen) for im in res.images]
    assert s[0] > s[1]


def test_bad_inputs_name_the_choices(vgg, photo):
    with pytest.raises(ValueError, match="valid layers"):
        optvis.invert(vgg, "block6_conv1", photo.tensor, steps=1)
    with pytest.raises(ValueError, match="give one layer, or one per image"):
        optvis.invert(vgg, ["block1_conv1"] * 3, photo.tensor, steps=1)


def test_works_on_another_torchvision_cnn(photo):
    from torchvision.models import resnet18

    torch.manual_seed(0)
    net = resnet18(weights=None).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    res = optvis.invert(net, "layer1", photo.tensor, steps=2)
    assert res.images.shape == (1, 3, 32, 32)


def test_build_reports_quality_for_every_block(quick_build):
    state = json.loads((quick_build / ".state" / "inversion.json").read_text())
    recs = state["records"]
    assert len(recs["photos"]) >= 2
    assert [r["layer"][:6] for r in recs["table"]] == ["block1", "block2", "block3", "block4", "block5"]
    for r in recs["table"]:
        for key in ("relative_error", "ssim", "psnr"):
            assert np.isfinite(r[f"{key}_trained"]) and np.isfinite(r[f"{key}_untrained"])
    text = (quick_build / "fragments" / "inversion.numbers.md").read_text()
    assert "SSIM" in text and "PSNR" in text
