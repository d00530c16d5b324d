"""Activation maximisation: the sign, the objective, batching, errors and the build's figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from generator.chapters.activation_max.compute import LAYERS, chosen_filters
from generator.lib import optvis
from generator.lib.layers import capture, resolve_layer
from generator.models import build_untrained

# A vertical edge: dark on the left, bright on the right, the same in all three colours.
EDGE = torch.tensor([[-1.0, -1.0, 0.0, 1.0, 1.0]] * 5)
MATCH_THRESHOLD = 0.8  # Pearson r of the best-matching 5x5 patch with the kernel


def edge_net(kernel: torch.Tensor) -> nn.Module:
    conv = nn.Conv2d(3, 1, 5, bias=False)
    with torch.no_grad():
        conv.weight.copy_(kernel.expand(1, 3, 5, 5))
    net = nn.Sequential(conv, nn.ReLU())
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def best_patch_match(img: torch.Tensor, kernel: torch.Tensor) -> float:
    """Largest Pearson correlation between any 5x5 patch of the image's luminance and the kernel."""
    gray = img.mean(0)[None, None].double()
    patches = F.unfold(gray, 5)[0].T  # n x 25
    patches = patches - patches.mean(1, keepdim=True)
    k = kernel.flatten().double() - kernel.double().mean()
    r = (patches @ k) / (patches.norm(dim=1) * k.norm()).clamp_min(1e-12)
    return float(r.max())


@pytest.mark.parametrize("param", ["fourier", "pixel"])
def test_one_edge_filter_yields_its_edge(param):
    net = edge_net(EDGE)
    res = optvis.activation_maximisation(net, "1", [0], steps=48, size=32, param=param, seed=0)
    img = res.images[0]
    assert best_patch_match(img, EDGE) >= MATCH_THRESHOLD
    # the orientation is right: the same edge turned by 90 degrees matches far worse
    assert best_patch_match(img, EDGE.T) < best_patch_match(img, EDGE)
    # and the image contains vertical structure, not horizontal: dx energy dominates dy
    gray = img.mean(0)
    dx = (gray[:, 1:] - gray[:, :-1]).pow(2).mean()
    dy = (gray[1:, :] - gray[:-1, :]).pow(2).mean()
    assert dx > dy
    assert res.history[-1, 0] > res.history[0, 0]


@pytest.fixture(scope="module")
def vgg():
    return build_untrained()


def test_objective_rises_on_vgg_and_run_is_repeatable(vgg):
    kw = dict(steps=12, size=32, relu_warmup=4)
    a = optvis.activation_maximisation(vgg, "block2_conv2", [3, 7], generator=torch.Generator().manual_seed(1), **kw)
    b = optvis.activation_maximisation(vgg, "block2_conv2", [3, 7], generator=torch.Generator().manual_seed(1), **kw)
    assert torch.equal(a.images, b.images) and torch.equal(a.history, b.history)
    assert a.images.shape == (2, 3, 32, 32)
    assert a.history.shape == (12, 2)
    rise = a.history[-3:].mean(0) - a.history[:3].mean(0)
    assert bool((rise > 0).all()) and float(rise.sum()) > 0.05
    # the final, untransformed images excite their channels more than the photos' grey start does
    with torch.no_grad():
        grey = optvis.normalise(torch.full((1, 3, 32, 32), 0.5))
        (out,) = capture(vgg, [resolve_layer(vgg, "block2_conv2").conv], grey)
        start = F.relu(out)[0, [3, 7]].mean(dim=(1, 2))
    assert bool((a.final > start).all())


def test_truncated_and_full_forward_give_the_same_images(vgg):
    kw = dict(steps=3, size=24, seed=0)
    a = optvis.activation_maximisation(vgg, "block1_conv2", [1], truncate=True, **kw)
    b = optvis.activation_maximisation(vgg, "block1_conv2", [1], truncate=False, **kw)
    assert torch.allclose(a.images, b.images, atol=1e-6)


def test_bad_channel_layer_and_param_name_the_valid_choices(vgg):
    with pytest.raises(ValueError, match=r"valid channels are 0\.\.511"):
        optvis.activation_maximisation(vgg, "block5_conv3", [512], steps=1, size=16)
    with pytest.raises(ValueError, match="valid layers: block1_conv1"):
        optvis.activation_maximisation(vgg, "conv99", [0], steps=1, size=16)
    with pytest.raises(ValueError, match="valid: fourier, pixel"):
        optvis.activation_maximisation(vgg, "block1_conv1", [0], steps=1, size=16, param="dct")


def test_works_on_another_torchvision_cnn():
    from torchvision.models import resnet18

    torch.manual_seed(0)
    net = resnet18(weights=None).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    res = optvis.activation_maximisation(net, "layer2.0.conv1", [0, 5], steps=2, size=32)
    assert res.images.shape == (2, 3, 32, 32) and torch.isfinite(res.final).all()


def test_final_objective_is_measured_on_the_image_as_returned(vgg):
    """The naive method's pixels leave [0, 1] (a large step from grey); ``final`` and the table are the
    objective of the clipped image that the figure shows, not of the unclipped one."""
    res = optvis.activation_maximisation(vgg, "block1_conv2", [0, 3], steps=3, size=24, lr=5.0, param="pixel")
    assert float(res.images.min()) == 0.0 and float(res.images.max()) == 1.0  # it did clip
    conv = resolve_layer(vgg, "block1_conv2").conv
    with torch.no_grad():
        (out,) = capture(vgg, [conv], optvis.normalise(res.images), truncate=True)
    want = torch.stack([F.relu(out[i, c]).mean() for i, c in enumerate([0, 3])])
    assert torch.allclose(res.final, want, rtol=1e-5, atol=1e-6)


def test_chosen_filters_are_the_most_activated_on_average(vgg):
    from generator.core import ImageInput

    g = torch.Generator().manual_seed(0)
    imgs = [
        ImageInput(f"i{i}", "", "", np.zeros((1, 1, 3), np.float32), torch.randn(1, 3, 32, 32, generator=g))
        for i in range(2)
    ]
    got = chosen_filters(vgg, imgs, ["block2_conv2"], 3)["block2_conv2"]
    with torch.no_grad():
        means = torch.stack([vgg.features[:9](i.tensor)[0].mean(dim=(1, 2)) for i in imgs]).mean(0)
    assert got[0] == torch.sort(-means.double(), stable=True).indices[:3].tolist()
    assert got[1] == pytest.approx(sorted(means.tolist(), reverse=True)[:3], rel=1e-5)


def test_build_lists_filters_in_captions_and_fragments(quick_build):
    state = json.loads((quick_build / ".state" / "activation_max.json").read_text())
    kinds = {(f["model"], f["layer"], f["kind"]) for f in state["figures"]}
    for model in ("trained", "untrained"):
        for layer in LAYERS:
            assert (model, layer, "filters") in kinds
        assert (model, None, "naive-vs-fourier") in kinds and (model, None, "overview") in kinds
    for f in state["figures"]:
        assert (quick_build / f["path"]).is_file()
        if f["kind"] == "filters":
            assert "steps of Adam" in f["caption"] and "px" in f["caption"] and "filters " in f["caption"]
    row = state["records"]["table"][0]
    text = (quick_build / "fragments" / "activation_max.numbers.md").read_text()
    assert ", ".join(map(str, row["channels_trained"])) in text
