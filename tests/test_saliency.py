"""Saliency, SmoothGrad and guided backprop: oracles (Captum), an analytic case, bad input, reruns.

Oracle tolerance: 1e-5 relative to the largest value of the reference map.
The comparisons run on a float64 copy of the seeded stand-in VGG16, so the
only differences left are summation order (about 1e-15 here); 1e-5 leaves
room for other BLAS builds without letting a real bug through (a missing
abs, a sign flip, an inverted sigma or a wrong ReLU rule is off by O(1)).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from generator import images as imgmod
from generator.lib.attr import guided_backprop, saliency, smoothgrad
from generator.lib.engine import explain, smoothgrad_noise
from generator.lib.layers import resolve_layer

IMAGES = Path(__file__).resolve().parents[1] / "images"

RTOL = 1e-5
SIZE = 64


def rel_err(mine: torch.Tensor, ref: torch.Tensor) -> float:
    mine, ref = torch.as_tensor(mine).detach().double(), torch.as_tensor(ref).detach().double()
    assert mine.shape == ref.shape, (mine.shape, ref.shape)
    return float((mine - ref).abs().max() / ref.abs().max().clamp_min(1e-300))


@pytest.fixture(scope="module")
def photo64():
    pil = imgmod.load_rgb(IMAGES / "chelsea.png")
    return imgmod.prepare(pil, SIZE).tensor.double()


@pytest.fixture(scope="module")
def target(vgg64, photo64):
    with torch.no_grad():
        return int(vgg64(photo64).argmax())


def test_vanilla_gradient_matches_captum_saliency(vgg64, photo64, target):
    from captum.attr import Saliency

    ref = Saliency(vgg64).attribute(photo64.clone().requires_grad_(True), target=target, abs=True)[0]
    mine = saliency(vgg64, photo64, target)
    assert mine.shape == (SIZE, SIZE)
    assert rel_err(mine, ref.amax(0)) <= RTOL
    assert rel_err(explain(vgg64, photo64, target, guided=False).gradient.abs(), ref) <= RTOL


def test_smoothgrad_matches_captum_noise_tunnel_with_identical_noise(vgg64, photo64, target):
    """Captum draws its noise from the global generator; seeding it with our seed gives the same draw."""
    from captum.attr import NoiseTunnel, Saliency

    n, sigma, seed = 4, 0.15, 1234
    stdev = sigma * float(photo64.max() - photo64.min())
    torch.manual_seed(seed)
    ref = NoiseTunnel(Saliency(vgg64)).attribute(
        photo64.clone().requires_grad_(True), nt_type="smoothgrad", nt_samples=n, stdevs=stdev, target=target
    )[0]
    e = explain(vgg64, photo64, target, guided=False, smooth_n=n, sigma=sigma, seed=seed, batch_size=4)
    assert e.sigma_abs == pytest.approx(stdev)
    assert rel_err(e.smooth, ref) <= RTOL
    assert rel_err(smoothgrad(vgg64, photo64, target, n=n, sigma=sigma, seed=seed, batch_size=4), ref.amax(0)) <= RTOL


def test_smoothgrad_sigma_is_a_fraction_of_the_input_range():
    """A known bug elsewhere inverted sigma: check the noise's spread directly."""
    x = torch.zeros(1, 3, 32, 32)
    x[0, 0, 0, 0], x[0, 1, 0, 0] = -2.0, 2.0  # range 4
    noise, sigma_abs = smoothgrad_noise(x, 50, 0.15, seed=0)
    assert sigma_abs == pytest.approx(0.6)
    assert float(noise.std()) == pytest.approx(0.6, rel=0.02)
    with pytest.raises(ValueError, match="sigma"):
        smoothgrad_noise(x, 5, 0.0, seed=0)


def test_guided_backprop_matches_captum(vgg64, photo64, target):
    from captum.attr import GuidedBackprop

    with pytest.warns(UserWarning):
        ref = GuidedBackprop(vgg64).attribute(photo64.clone().requires_grad_(True), target=target)[0]
    mine = guided_backprop(vgg64, photo64, target, reduce=False)
    assert rel_err(mine, ref) <= RTOL
    assert rel_err(guided_backprop(vgg64, photo64, target), ref.abs().amax(0)) <= RTOL
    # the shared pass (normal backward first, then guided on the same graph) gives the same numbers
    both = explain(vgg64, photo64, target, cam_layers=["block5_conv3"], guided=True)
    assert rel_err(both.guided, ref) <= RTOL
    assert rel_err(both.gradient, explain(vgg64, photo64, target, guided=False).gradient) == 0.0


# --------------------------------------------------------------------------- analytic case


class RegionNet(nn.Module):
    """A tiny CNN whose class scores only see the pixels inside ``rows`` x ``cols``.

    The mask sits after the first 3 x 3 conv, so the scores depend on the input
    inside the region grown by one pixel (the first conv's reach) and on nothing else.
    """

    def __init__(self, size: int, rows: slice, cols: slice):
        super().__init__()
        torch.manual_seed(7)
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), Mask(size, rows, cols), nn.Conv2d(6, 8, 3, padding=1), nn.ReLU()
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


class Mask(nn.Module):
    def __init__(self, size, rows, cols):
        super().__init__()
        m = torch.zeros(1, 1, size, size)
        m[..., rows, cols] = 1.0
        self.register_buffer("m", m)

    def forward(self, x):
        return x * self.m


def region(size, rows, cols, grow=0):
    out = np.zeros((size, size), bool)
    out[max(rows.start - grow, 0) : rows.stop + grow, max(cols.start - grow, 0) : cols.stop + grow] = True
    return out


def test_analytic_region_gets_all_saliency_mass():
    size, rows, cols = 24, slice(4, 11), slice(13, 20)
    net = RegionNet(size, rows, cols)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(3))
    inside = region(size, rows, cols, grow=1)
    for name, m in (
        ("gradient", saliency(net, x, 2)),
        ("smoothgrad", smoothgrad(net, x, 2, n=6, seed=1)),
        ("guided", guided_backprop(net, x, 2)),
    ):
        m = m.numpy()
        assert m.sum() > 0, name
        assert m[~inside].sum() == 0.0, f"{name}: mass outside the region"


# --------------------------------------------------------------------------- bad input and hygiene


def test_bad_target_and_input_give_one_line_errors(vgg64, photo64):
    for bad in (1000, -1):
        with pytest.raises(ValueError, match=r"valid classes: 0\.\.999") as err:
            saliency(vgg64, photo64, bad)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="class index"):
        saliency(vgg64, photo64, 2.5)
    with pytest.raises(ValueError, match="shape"):
        saliency(vgg64, photo64.reshape(-1)[:64].reshape(8, 8), 1)


def test_bad_layer_names_the_valid_choices(vgg64):
    with pytest.raises(ValueError, match="unknown layer 'block9_conv1'.*valid layers: block1_conv1") as err:
        resolve_layer(vgg64, "block9_conv1")
    assert "\n" not in str(err.value) and "features.29" in str(err.value)
    assert resolve_layer(vgg64, "block5_conv3").path == "features.29"
    assert resolve_layer(vgg64, "features.28").path == "features.28"
    resnet = torchvision.models.resnet18(weights=None)
    with pytest.raises(ValueError, match="VGG16 layer name.*not a VGG16.*valid layers: conv1"):
        resolve_layer(resnet, "block5_conv3")


def test_model_state_is_restored_and_nothing_leaks():
    """Any torchvision CNN: eval/train flag, requires_grad, in-place ReLUs and hooks all come back as they were."""
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None)
    net.train()
    x = torch.randn(3, SIZE, SIZE)
    out = smoothgrad(net, x, 3, n=2, batch_size=2)
    g = guided_backprop(net, x, 3)
    assert out.shape == g.shape == (SIZE, SIZE)
    assert net.training
    assert all(p.requires_grad and p.grad is None for p in net.parameters())
    assert all(m.inplace for m in net.modules() if isinstance(m, nn.ReLU))
    assert all(not m._forward_hooks for m in net.modules())
    with pytest.raises(ValueError):
        explain(net, x, 5000, cam_layers=["layer4"])  # fails after the hooks are in place
    assert all(not m._forward_hooks for m in net.modules())


def test_reruns_are_identical_and_seeds_matter(vgg64, photo64, target):
    a = explain(vgg64, photo64, target, cam_layers=["block5_conv3"], guided=True, smooth_n=3, seed=5)
    b = explain(vgg64, photo64, target, cam_layers=["block5_conv3"], guided=True, smooth_n=3, seed=5)
    c = explain(vgg64, photo64, target, guided=False, smooth_n=3, seed=6)
    for name in ("gradient", "guided", "smooth"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert torch.equal(a.cams["block5_conv3"], b.cams["block5_conv3"])
    assert not torch.equal(a.smooth, c.smooth)


@pytest.mark.slow
def test_build_reruns_are_byte_identical(tmp_path, standin_weights):
    """Two builds of the gradient techniques from empty caches write the same bytes."""
    from generator.cli import main

    images = tmp_path / "images"
    images.mkdir()
    for name in ("chelsea.png", "CREDITS.toml"):
        shutil.copy(IMAGES / name, images / name)
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run / "gen"
        rc = main(
            [
                "build",
                "--profile",
                "quick",
                "--images",
                str(images),
                "--out",
                str(out),
                "--cache",
                str(tmp_path / run / "cache"),
                "--weights",
                str(standin_weights),
                "--no-progress",
                "--only",
                "predictions",
                "saliency",
                "grad_cam",
                "cascading_randomisation",
            ]
        )
        assert rc == 0
        outs.append(out)
    # the build page states how long each unit took, which differs between two cold builds by design
    files = sorted(
        p.relative_to(outs[0])
        for p in outs[0].rglob("*")
        if p.is_file() and ".state" not in p.parts and p.name not in ("build.md", "methods.md")
    )
    mine = [f for f in files if any(t in str(f) for t in ("saliency", "grad_cam", "cascading_randomisation"))]
    assert len(mine) >= 8
    for f in files:
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f


def test_channels_last_option_agrees_and_restores_the_weights(vgg64, photo64, target):
    """channels_last is an opt-in speed option: same maps (float64: up to rounding), weights put back."""
    before = [p.data_ptr() for p in vgg64.parameters()]
    a = explain(vgg64, photo64, target, cam_layers=["block5_conv3"], guided=True, smooth_n=2, seed=1)
    b = explain(
        vgg64, photo64, target, cam_layers=["block5_conv3"], guided=True, smooth_n=2, seed=1, channels_last=True
    )
    for name in ("gradient", "guided", "smooth"):
        assert rel_err(getattr(b, name), getattr(a, name)) <= RTOL, name
    assert [p.data_ptr() for p in vgg64.parameters()] == before
    assert all(p.is_contiguous() for p in vgg64.parameters())


def test_deconvnet_rule_matches_captum(vgg64, photo64, target):
    """The third backward rule on the shared graph: DeconvNet (Zeiler & Fergus) agrees with Captum's
    Deconvolution, and differs from guided backprop, which also keeps the forward mask."""
    from captum.attr import Deconvolution

    with pytest.warns(UserWarning):
        ref = Deconvolution(vgg64).attribute(photo64.clone().requires_grad_(True), target=target)[0]
    e = explain(vgg64, photo64, target, guided=True, deconvnet=True)
    assert rel_err(e.deconvnet, ref) <= RTOL
    assert rel_err(e.guided, e.deconvnet) > 1e-2
    assert rel_err(e.gradient, explain(vgg64, photo64, target, guided=False).gradient) == 0.0
