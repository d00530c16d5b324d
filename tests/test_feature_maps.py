"""Feature maps: our maps against torchvision's feature extractor, an analytic edge
filter, and what the technique stores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

from generator.chapters.feature_maps import compute as fm
from generator.chapters.feature_maps.spec import TECHNIQUE as FM_TECHNIQUE
from generator.config import SEED, get_profile
from generator.core import Context, ImageInput, ModelInput
from generator.images import load_rgb, prepare
from generator.lib.layers import activations as feature_outputs
from generator.models import BLOCKS, FEATURE_LAYERS, LAYERS, build_untrained, conv_module
from tests.conftest import IMAGES, figure_files


@pytest.fixture(scope="module")
def untrained():
    return build_untrained(SEED)


@pytest.fixture(scope="module")
def photo() -> ImageInput:
    prep = prepare(load_rgb(IMAGES / "coffee.png"), 64)
    return ImageInput("coffee", "Espresso cup", "0" * 64, prep.seen, prep.tensor)


@pytest.fixture(scope="module")
def reference(photo):
    """torchvision's own feature extractor on a freshly built, seeded stock VGG16."""
    torch.manual_seed(SEED)
    stock = torchvision.models.vgg16(weights=None).eval()
    extractor = create_feature_extractor(stock, return_nodes={LAYERS[n]: n for n in FEATURE_LAYERS})
    with torch.no_grad():
        return extractor(photo.tensor)


@pytest.fixture(scope="module")
def computed(untrained, photo):
    settings = FM_TECHNIQUE.settings_for("quick")
    ctx = Context(
        profile=get_profile("quick"),
        settings=settings,
        device=torch.device("cpu"),
        images=[photo],
        seed=0,
        result_fn=None,
        model_fn=None,
    )
    return fm.compute(ctx, ModelInput("untrained", untrained), photo), settings


def test_feature_outputs_equal_torchvision_feature_extractor(untrained, photo, reference):
    with torch.no_grad():
        ours = feature_outputs(untrained, photo.tensor, FEATURE_LAYERS)
    assert list(ours) == FEATURE_LAYERS
    for name in FEATURE_LAYERS:
        torch.testing.assert_close(ours[name], reference[name], rtol=1e-5, atol=1e-6, msg=name)


def test_stored_maps_equal_torchvision_feature_extractor(computed, reference):
    """What the technique keeps (maps scaled by their peak, float16) restores torchvision's maps."""
    result, settings = computed
    for name in FEATURE_LAYERS:
        ref = reference[name][0].numpy()
        keep = result.arrays[f"{name}.channels"]
        restored = result.arrays[f"{name}.maps"].astype(np.float32) * result.arrays[f"{name}.peak"][:, None, None]
        np.testing.assert_allclose(restored, ref[keep], rtol=2e-3, atol=1e-4 * max(1.0, float(ref.max())), err_msg=name)
        # the top-k really are the channels with the largest total activation
        totals = ref.sum(axis=(1, 2))
        top = result.arrays[f"{name}.top"]
        assert len(top) == min(settings["top_k"], ref.shape[0])
        assert totals[top].min() >= np.sort(totals)[-len(top)] - 1e-4 * abs(totals).max()
        np.testing.assert_array_equal(result.arrays[f"{name}.first"], np.arange(len(top)))
        # sparsity record = share of exact zeros
        assert result.records["layers"][name]["sparsity"] == pytest.approx(float((ref == 0).mean()), abs=1e-6)


def test_block_aggregate_is_the_sum_of_all_maps(computed, reference):
    result, _ = computed
    for block in BLOCKS:
        np.testing.assert_allclose(
            result.arrays[f"{block}.aggregate"], reference[f"{block}_pool"][0].sum(0).numpy(), rtol=1e-5, atol=1e-5
        )


def _step(h: int = 12, w: int = 12, at: int = 6) -> torch.Tensor:
    img = torch.zeros(h, w)
    img[:, at:] = 1.0
    return img


SOBEL_X = torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]])


def test_hand_built_sobel_conv_gives_the_expected_edge_map():
    """Analytic case: a vertical Sobel kernel on a dark-to-bright step.

    Cross-correlation with [[1,0,-1],[2,0,-2],[1,0,-1]] gives -(1+2+1) = -4 in the two
    columns either side of the step and 0 elsewhere (away from the zero-padded border).
    """
    conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(SOBEL_X[None, None])
    net = nn.Sequential(conv, nn.ReLU())
    x = _step()[None, None]
    out = feature_outputs(net, x, ["0", "1"])
    expected = torch.zeros(12, 12)
    expected[:, 5:7] = -4.0
    torch.testing.assert_close(out["0"][0, 0, 1:-1, :-1], expected[1:-1, :-1])
    assert float(out["1"][0, 0, 1:-1, :-1].max()) == 0.0  # the ReLU removes a dark-to-bright edge for this sign
    # flipped kernel: the same edge, now positive and kept by the ReLU
    with torch.no_grad():
        conv.weight.neg_()
    out = feature_outputs(net, x, ["1"])
    torch.testing.assert_close(out["1"][0, 0, 1:-1, :-1], -expected[1:-1, :-1])


def test_sobel_planted_in_vgg16_block1_conv1(untrained):
    """The same analytic map through our VGG16 path: filter 0 of block1_conv1 set to the
    (flipped) Sobel kernel on the red channel, so its feature map is +4 on the edge."""
    net = build_untrained(SEED)
    conv = conv_module(net, "block1_conv1")
    with torch.no_grad():
        conv.weight[0].zero_()
        conv.weight[0, 0] = -SOBEL_X
        conv.bias[0] = 0.0
    x = torch.zeros(1, 3, 12, 12)
    x[0, 0] = _step()
    with torch.no_grad():
        got = feature_outputs(net, x, ["block1_conv1"])["block1_conv1"][0, 0]
    expected = torch.zeros(12, 12)
    expected[:, 5:7] = 4.0
    torch.testing.assert_close(got[1:-1, :-1], expected[1:-1, :-1])


def test_activations_works_on_other_torchvision_cnns_and_frees_its_hooks():
    net = torchvision.models.resnet18(weights=None).eval()
    out = feature_outputs(net, torch.randn(1, 3, 64, 64), ["layer2.0.conv1", "layer4"])
    assert out["layer2.0.conv1"].shape == (1, 128, 8, 8) and out["layer4"].shape == (1, 512, 2, 2)
    assert not out["layer4"].requires_grad
    assert all(not m._forward_hooks for m in net.modules())


def test_activations_copies_before_an_in_place_relu():
    stock = torchvision.models.vgg16(weights=None).eval()
    out = feature_outputs(stock, torch.randn(1, 3, 32, 32), ["features.0"])
    assert out["features.0"].min() < 0


def test_activations_unknown_layer_lists_valid_ones(untrained):
    with pytest.raises(ValueError) as err:
        feature_outputs(untrained, torch.zeros(1, 3, 32, 32), ["block9_conv1"])
    msg = str(err.value)
    assert "block9_conv1" in msg and "block1_conv1" in msg and "\n" not in msg


def test_select_channels_breaks_ties_by_index():
    act = torch.zeros(6, 2, 2)
    act[4] = 1.0
    act[1] = 1.0
    top, first = fm.select_channels(act, 3)
    assert top.tolist() == [1, 4, 0] and first.tolist() == [0, 1, 2]


def test_quick_build_fragments_state_the_numbers(quick_build):
    text = (quick_build / "fragments" / "feature_maps.numbers.md").read_text()
    assert "block5_conv3" in text and "%" in text
    grids = figure_files(quick_build, "feature_maps", image="chelsea")
    assert all(g.is_file() for g in grids)
    # 18 layers x 2 kinds x 2 models + 2 aggregate strips
    assert len(grids) == 18 * 2 * 2 + 2
