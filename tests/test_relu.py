"""Before and after the ReLU: the captured outputs against torchvision's feature extractor, the half that
a random layer passes, and the section's sentences on each side of their thresholds."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torchvision.models.feature_extraction import create_feature_extractor

from generator.chapters.relu import compute as relu
from generator.chapters.relu.spec import TECHNIQUE
from generator.config import SEED, get_profile
from generator.core import Context, ImageInput, ModelInput
from generator.images import load_rgb, prepare
from generator.models import CONV_LAYERS, LAYERS, build_untrained
from tests.conftest import IMAGES
from tests.test_claims import render


@pytest.fixture(scope="module")
def photo() -> ImageInput:
    prep = prepare(load_rgb(IMAGES / "chelsea.png"), 64)
    return ImageInput("chelsea", "Chelsea the cat", "0" * 64, prep.seen, prep.tensor)


@pytest.fixture(scope="module")
def result(photo):
    ctx = Context(profile=get_profile("quick"), settings=TECHNIQUE.settings_for("default"), device=torch.device("cpu"),
                  images=[photo], seed=0, result_fn=None, model_fn=None)  # fmt: skip
    return relu.compute(ctx, ModelInput("untrained", build_untrained(SEED)), photo)


def test_the_maps_before_the_relu_are_the_conv_outputs_torchvision_extracts(photo, result):
    """The oracle: torchvision's feature extractor at each conv module (the node before its ReLU)."""
    torch.manual_seed(SEED)
    stock = torchvision.models.vgg16(weights=None).eval()
    for module in stock.modules():  # torchvision's in-place ReLUs would overwrite the extracted conv outputs
        if isinstance(module, torch.nn.ReLU):
            module.inplace = False
    nodes = {LAYERS[n].rsplit(".", 1)[0] + f".{int(LAYERS[n].rsplit('.', 1)[1]) - 1}": n for n in relu.SHOWN}
    with torch.no_grad():
        reference = create_feature_extractor(stock, return_nodes=nodes)(photo.tensor)
    for layer in relu.SHOWN:
        z = reference[layer][0]
        channels = result.arrays[f"{layer}.channels"]
        want = z[channels] / z[channels].abs().amax(dim=(1, 2), keepdim=True)
        np.testing.assert_allclose(result.arrays[f"{layer}.z"].astype(np.float32), want.numpy(), atol=2e-3)
        assert result.records["layers"][layer]["positive"] == pytest.approx(float((z > 0).float().mean()), abs=1e-6)
        assert min(result.arrays[f"{layer}.z"].min(), 0) < 0 < result.arrays[f"{layer}.z"].max()  # both signs


def test_a_random_layer_with_zero_biases_passes_about_half(result):
    """Zero biases and symmetric weights: each output is as likely below zero as above (an interval, not a
    threshold at the edge: 64 to 512 channels of an independent draw each)."""
    for layer in CONV_LAYERS:
        rec = result.records["layers"][layer]
        assert rec["bias_rms"] == 0.0
        assert 0.38 < rec["positive"] < 0.62, (layer, rec["positive"])


def test_the_most_divided_channels_are_nearest_to_half():
    z = torch.stack([torch.ones(4, 4), -torch.ones(4, 4), torch.arange(16.0).reshape(4, 4) - 7.5, -torch.ones(4, 4)])
    z[3, 0, :2] = 1.0  # 2 of 16 above zero
    assert relu.most_divided(z, 2).tolist() == [2, 3]


def records(untrained=(0.49, 0.52), trained=(0.30, 0.55), zero_bias=True):
    row = {"positive_trained": 0.4, "positive_untrained": 0.5, "z_rms_trained": 1.0, "z_rms_untrained": 1.0,
           "bias_rms_trained": 0.2, "bias_rms_untrained": 0.0}  # fmt: skip
    rows = [{"layer": n} | row for n in CONV_LAYERS]
    half = {m: all(abs(v - 0.5) < 0.05 for v in r) for m, r in (("trained", trained), ("untrained", untrained))}
    return {"models": ["trained", "untrained"], "layers": rows, "shown": [], "share_plot": None,
            "near_half": half, "zero_bias": {"trained": False, "untrained": zero_bias}, "passed_half": 0.05,
            "range": {"trained": list(trained), "untrained": list(untrained)}, "featured": None}  # fmt: skip


@pytest.mark.parametrize(
    "kwargs,want,not_want",
    [
        (
            {},
            "The untrained network passes half of what every layer computes: between 49.0 % and 52.0 %",
            "as expected of stand-in",
        ),
        ({"untrained": (0.30, 0.52)}, "not half in every layer", "passes half of what"),
        ({"zero_bias": False}, "passes half", "Its biases are all zero"),
        ({"trained": (0.48, 0.51)}, "The trained network passes about half in every layer too", "fitted to data"),
        ({}, "The trained network passes between 30.0 % and 55.0 %", "about half in every layer too"),
    ],
)
def test_relu_claims(kwargs, want, not_want):
    text = render("relu.md.j2", records(**kwargs))
    assert want in text and not_want not in text


def test_a_stand_in_that_passes_half_is_called_what_it_is():
    text = render("relu.md.j2", records(trained=(0.48, 0.51)), official=False)
    assert "no more selective than the untrained network's, as expected of stand-in weights" in text
