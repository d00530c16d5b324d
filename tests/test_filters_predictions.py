"""Filters, predictions and architecture: the science on arrays (analytic cases), and
the figures' geometry read back from the saved PNGs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image
from torch import nn

from generator.chapters import registry
from generator.chapters.architecture import compute as architecture
from generator.chapters.filters import compute as filters
from generator.chapters.filters.render import grey_grid, rgb_grid
from generator.chapters.predictions import compute as predictions
from generator.config import SEED, get_profile
from generator.core import Context, ImageInput, ModelInput
from generator.images import load_rgb, prepare
from generator.lib.geometry import receptive_fields
from generator.models import CATEGORIES, CONV_LAYERS, build_untrained
from tests.conftest import IMAGES, figure_files


@pytest.fixture(scope="module")
def untrained():
    return build_untrained(SEED)


def _ctx(technique, images=()):
    return Context(
        profile=get_profile("quick"),
        settings=technique.settings_for("quick"),
        device=torch.device("cpu"),
        images=list(images),
        seed=0,
        result_fn=None,
        model_fn=None,
    )


def _runs(mask: np.ndarray) -> int:
    """Number of runs of True in a 1-D boolean array."""
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    return int((np.diff(m) == 1).sum())


# --------------------------------------------------------------------------- filters: figures


def test_layer1_filter_figure_has_64_tiles(quick_build):
    """Read the saved PNG back: 8 columns and 8 rows of tiles separated by white gaps."""
    px = registry()["filters"].settings_for("quick")["px_rgb"]
    for model in ("trained", "untrained"):
        (path,) = figure_files(quick_build, "filters", model=model, kind="rgb")
        arr = np.asarray(Image.open(path).convert("RGB"))
        white = (arr == 255).all(axis=2)
        gap_cols, gap_rows = white.all(axis=0), white.all(axis=1)
        assert _runs(~gap_cols) == 8 and _runs(~gap_rows) == 8, model
        tile = 3 * px
        assert arr.shape[:2] == (8 * tile + 7 * 2, 8 * tile + 7 * 2)


def test_rgb_grid_scales_each_filter_to_its_own_range():
    w = np.zeros((2, 3, 3, 3), np.float32)
    w[0, 0, 0, 0] = 5.0  # filter 0: one red weight, the rest 0
    w[1] = -1.0
    w[1, 2, 1, 1] = 1.0  # filter 1: one blue weight above the rest
    grid = rgb_grid(w, px=1, cols=2, gap=1)
    assert grid.shape == (3, 7, 3)
    np.testing.assert_array_equal(grid[0, 0], [255, 0, 0])  # max -> full red, min -> 0
    np.testing.assert_array_equal(grid[1, 5], [0, 0, 255])
    np.testing.assert_array_equal(grid[:, 3], 255)  # the gap


def test_grey_grid_is_symmetric_around_zero():
    w = np.zeros((1, 2, 3, 3), np.float32)
    w[0, 0, 0, 0], w[0, 1, 2, 2] = 2.0, -1.0
    grid = grey_grid(w, px=1, gap=1)
    assert grid.shape == (3, 7, 3)
    assert grid[1, 1, 0] == 128 and grid[0, 0, 0] == 255  # zero -> mid-grey; +max -> white
    assert grid[2, 6, 0] == 64  # -max/2 -> a quarter


# --------------------------------------------------------------------------- filters: numbers


def test_smoothness_analytic_cases():
    rng = np.random.default_rng(0)
    const = np.repeat(rng.normal(size=(64, 8, 1, 1)), 9, axis=2).reshape(64, 8, 3, 3)
    assert filters.smoothness(const) == pytest.approx(1.0)
    assert abs(filters.smoothness(rng.normal(size=(256, 64, 3, 3)))) < 0.02
    # a checkerboard flips sign between neighbours
    checker = np.array([[1, -1, 1], [-1, 1, -1], [1, -1, 1]], float)
    assert filters.smoothness(np.stack([checker, -checker])[None]) == pytest.approx(-1.0)


def test_mean_share_analytic_cases():
    rng = np.random.default_rng(1)
    assert filters.mean_share(np.ones((4, 4, 3, 3))) == pytest.approx(1.0)
    assert filters.mean_share(rng.normal(size=(512, 64, 3, 3))) == pytest.approx(1 / 9, abs=0.005)
    zero_mean = rng.normal(size=(8, 8, 3, 3))
    zero_mean -= zero_mean.mean(axis=(2, 3), keepdims=True)
    assert filters.mean_share(zero_mean) == pytest.approx(0.0, abs=1e-12)


def test_colour_share_analytic_cases():
    rng = np.random.default_rng(2)
    k = rng.normal(size=(3, 3))
    grey = np.stack([k, k, k])[None]
    opponent = np.stack([k, -k, np.zeros_like(k)])[None]
    assert filters.colour_share(grey)[0] == pytest.approx(0.0, abs=1e-12)
    assert filters.colour_share(opponent)[0] == pytest.approx(1.0)
    assert filters.colour_share(rng.normal(size=(4096, 3, 3, 3))).mean() == pytest.approx(2 / 3, abs=0.01)
    with pytest.raises(ValueError):
        filters.colour_share(rng.normal(size=(4, 64, 3, 3)))


def test_filters_compute_on_the_untrained_model(untrained):
    result = filters.compute(_ctx(registry()["filters"]), ModelInput("untrained", untrained), None)
    layers = result.records["layers"]
    assert list(layers) == CONV_LAYERS
    np.testing.assert_array_equal(result.arrays["block1_conv1.weights"], untrained.features[0].weight.numpy())
    s = registry()["filters"].settings_for("quick")
    assert result.arrays["block3_conv1.weights"].shape == (s["filters"], s["inputs"], 3, 3)
    # torchvision's Kaiming init (fan_out, ReLU gain): std = sqrt(2 / (C_out * 9)), so
    # std * sqrt(fan_in) = sqrt(2 * C_in / C_out)
    for name in CONV_LAYERS[1:]:
        c_out, c_in = layers[name]["shape"][:2]
        assert layers[name]["std_x_sqrt_fan_in"] == pytest.approx(math.sqrt(2 * c_in / c_out), rel=0.05), name
        assert layers[name]["std_x_sqrt_fan_out"] == pytest.approx(math.sqrt(2), rel=0.05), name
        assert abs(layers[name]["smoothness"]) < 0.05, name
    assert layers["block1_conv1"]["params"] == 64 * 27 + 64


def test_kernels_names_and_errors():
    resnet = torchvision.models.resnet18(weights=None)
    assert filters.kernels(resnet, "conv1").shape == (64, 3, 7, 7)
    vgg = torchvision.models.vgg16(weights=None)
    np.testing.assert_array_equal(filters.kernels(vgg, "block2_conv1"), filters.kernels(vgg, "features.5"))
    with pytest.raises(ValueError) as err:
        filters.kernels(vgg, "block2_pool")
    assert "block1_conv1" in str(err.value) and "features.0" in str(err.value)
    with pytest.raises(ValueError) as err:
        filters.kernels(resnet, "block1_conv1")  # VGG names mean nothing on a ResNet
    assert "layer1.0.conv1" in str(err.value) and "block1_conv1, block1_conv2" not in str(err.value)


# --------------------------------------------------------------------------- predictions


@pytest.fixture(scope="module")
def photo():
    prep = prepare(load_rgb(IMAGES / "chelsea.png"), 64)
    return ImageInput("chelsea", "Chelsea the cat", "0" * 64, prep.seen, prep.tensor)


def test_probabilities_sum_to_one_and_untrained_is_near_uniform(untrained, photo):
    from generator.chapters.feature_maps import compute as feature_maps

    model = ModelInput("untrained", untrained)

    def result_fn(technique, image_id, model_name):  # what the pipeline's ctx.result does
        assert (technique, image_id, model_name) == ("feature_maps", photo.id, "untrained")
        return feature_maps.compute(_ctx(registry()["feature_maps"], [photo]), model, photo)

    ctx = _ctx(registry()["predictions"], [photo])
    ctx._result_fn = result_fn
    result = predictions.compute(ctx, model, photo)
    probs, logits = result.arrays["probs"], result.arrays["logits"]
    assert probs.shape == (1000,) and float(probs.sum()) == pytest.approx(1.0, abs=1e-12)
    assert result.records["sum"] == pytest.approx(1.0, abs=1e-12)
    with torch.no_grad():
        np.testing.assert_allclose(logits, untrained(photo.tensor)[0].numpy(), rtol=1e-6, atol=1e-6)
    entropy = -(probs * np.log(probs)).sum()
    assert result.records["entropy"] == pytest.approx(entropy)
    assert math.log(1000) - 0.01 < entropy <= math.log(1000)  # near-uniform: within 0.15 % of ln 1000
    top = result.records["top"]
    assert [r["prob"] for r in top] == sorted((r["prob"] for r in top), reverse=True)
    assert top[0]["label"] == CATEGORIES[int(np.argmax(probs))]
    assert result.records["max_prob"] < 2 / 1000


def test_top_k_uses_torchvision_class_names():
    logits = torch.full((1000,), -50.0, dtype=torch.float64)
    logits[281], logits[285], logits[0] = 3.0, 2.0, 1.0
    top = predictions.top_k(logits, 3)
    assert [r["label"] for r in top] == ["tabby", "Egyptian cat", "tench"]
    assert [r["index"] for r in top] == [281, 285, 0]
    assert top[0]["prob"] == pytest.approx(float(torch.softmax(logits, 0)[281]))


def test_ranks_come_from_logits_even_when_probabilities_underflow():
    """A confident network: every class but the top-1 has probability 0.0 in float64.

    Ranked by probability they would all share rank 2 and be listed in arbitrary
    order; ranked by logit each has its own place.
    """
    logits = torch.full((1000,), -2000.0, dtype=torch.float64)
    logits[7] = 0.0  # the top-1
    logits[1], logits[281] = -900.0, -1000.0  # goldfish above tabby, both underflow
    probs = torch.softmax(logits, 0)
    assert probs[1] == 0.0 and probs[281] == 0.0
    assert predictions.rank_of(logits, 281) == 3
    assert predictions.rank_of(logits, 1) == 2
    assert [r["index"] for r in predictions.top_k(logits, 3)] == [7, 1, 281]


def test_quick_build_predictions_fragments(quick_build):
    confidence = (quick_build / "fragments" / "predictions.confidence.md").read_text()
    assert "6.908" in confidence and "uniform" in confidence
    expected = (quick_build / "fragments" / "predictions.expected.md").read_text()
    assert "of 7" in expected
    bars = figure_files(quick_build, "predictions", kind="top5")
    assert all(b.is_file() for b in bars)
    assert len(bars) == 7 * 2


# --------------------------------------------------------------------------- architecture


def test_receptive_fields_quoted_in_the_chapters_match_the_architecture():
    """Sentences such as "a unit of `block4_conv3` sees a 92 × 92 pixel patch" state the computed field."""
    import re

    from generator.models import feature_index
    from tests.conftest import ROOT

    rf = receptive_fields(torchvision.models.vgg16(weights=None).features)
    quoted = []
    for chapter in sorted((ROOT / "docs").glob("*.md")):
        text = " ".join(chapter.read_text(encoding="utf-8").split())
        for layer, a, b in re.findall(r"`(block\d_(?:conv\d|pool))`[^.`]*? sees an? (\d+) × (\d+)", text):
            quoted.append((chapter.name, layer, int(a)))
            assert int(a) == int(b) == rf[feature_index(layer)][0], (chapter.name, layer, a)
    assert {q[1] for q in quoted} >= {"block4_conv3", "block5_conv3"}, quoted


def test_receptive_fields_of_vgg16_and_alexnet():
    rf = receptive_fields(torchvision.models.vgg16(weights=None).features)
    assert rf[1] == (3, 1, 0.5) and rf[4] == (6, 2, 1.0)  # block1_conv1; block1_pool (centre of pixel 0)
    assert rf[29][:2] == (196, 16) and rf[30][:2] == (212, 32)  # block5_conv3; block5_pool
    # AlexNet: 11x11 stride 4 padding 2 first, then 3x3 stride-2 pools and 5x5 / 3x3 convs
    assert receptive_fields(torchvision.models.alexnet(weights=None).features)[-1][:2] == (195, 32)
    # a centre that padding moves: a 3x3 conv without padding centres pixel 0's field at input pixel 1.5
    assert receptive_fields([nn.Conv2d(1, 1, 3)])[0] == (3, 1, 1.5)
    with pytest.raises(TypeError):
        receptive_fields([nn.Sequential(nn.Conv2d(1, 1, 3))])


def test_architecture_records(untrained):
    result = architecture.compute(_ctx(registry()["architecture"]), ModelInput("untrained", untrained), None)
    totals = result.records["totals"]
    assert totals["params"] == totals["params_check"] == 138_357_544
    assert totals["n_conv"] == 13 and totals["n_dense"] == 3
    rows = {r["name"]: r for r in result.records["rows"]}
    assert rows["block1_conv1"]["macs"] == 224 * 224 * 64 * 3 * 9
    assert rows["fc1"]["macs"] == 25088 * 4096
    assert rows["block5_conv3"]["receptive_field"] == 196
