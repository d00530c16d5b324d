"""The attribution families beyond gradients and Grad-CAM, each against an independent implementation on
the same seeded VGG16 (float64, so that 1e-5 does not depend on summation order): Captum for gradient x
input, Integrated Gradients, DeconvNet and occlusion, pytorch-grad-cam for Score-CAM and LayerCAM, zennit
for LRP.  DeepDream has no oracle; it gets analytic checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from generator.lib import (
    completeness_error,
    deconvnet,
    deep_dream,
    input_x_gradient,
    integrated_gradients,
    layer_cam,
    lrp,
    occlusion,
    score_cam,
)
from tests.test_grad_cam import photo64, target  # noqa: F401  (the CAM tests' photo and class)
from tests.test_saliency import rel_err

RTOL = 1e-5
SIZE = 64


def test_exports():
    import generator.lib as lib

    for name in ("input_x_gradient", "integrated_gradients", "deconvnet", "lrp", "occlusion", "score_cam",
                 "layer_cam", "deep_dream", "deletion_curve", "insertion_curve"):  # fmt: skip
        assert name in lib.__all__ and callable(getattr(lib, name)), name


def test_input_x_gradient_matches_captum(vgg64, photo64, target):
    from captum.attr import InputXGradient

    ref = InputXGradient(vgg64).attribute(photo64.clone().requires_grad_(True), target=target)[0]
    assert rel_err(input_x_gradient(vgg64, photo64, target), ref) <= RTOL


@pytest.mark.parametrize("method", ["gausslegendre", "riemann_trapezoid"])
def test_integrated_gradients_matches_captum(vgg64, photo64, target, method):
    from captum.attr import IntegratedGradients

    ref = IntegratedGradients(vgg64).attribute(
        photo64.clone(), baselines=torch.zeros_like(photo64), target=target, n_steps=16, method=method
    )[0]
    mine = integrated_gradients(vgg64, photo64, target, steps=16, method=method, batch_size=8)
    assert mine.shape == (3, SIZE, SIZE)
    if method == "riemann_trapezoid":
        # Captum's trapezoid spaces n points 1/n apart (weights summing to (n-1)/n); ours spaces them
        # 1/(n-1) apart over [0, 1], the trapezoid rule proper: the same points, weights n/(n-1) larger
        ref = ref * 16 / 15
    assert rel_err(mine, ref) <= RTOL


def test_integrated_gradients_completeness_improves_with_steps(vgg64, photo64, target):
    """Σ IG = S(x) - S(baseline) holds for the exact integral; the quadrature's gap shrinks with more steps
    (about 0.15 at 2 steps and 0.003 at 64 here: compared with wide margins, not at a threshold's edge).
    The blurred baseline: the stand-in's biases are zero, so along a ray from the black baseline the
    network is linear and any quadrature is exact (the second check)."""

    def gap(steps, baseline):
        maps = integrated_gradients(vgg64, photo64, target, steps=steps, baseline=baseline)
        return completeness_error(vgg64, photo64, target, maps, baseline=baseline)

    few, many = gap(2, "blur"), gap(64, "blur")
    assert many < 0.02 and many < few / 5
    assert gap(2, "black") < 1e-8


def test_integrated_gradients_on_a_linear_model_is_exact_and_equals_gradient_x_input():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4)).double().eval()
    x = torch.randn(1, 3, 8, 8, dtype=torch.float64)
    ig = integrated_gradients(net, x, 2, steps=3)
    torch.testing.assert_close(ig, input_x_gradient(net, x, 2))
    assert completeness_error(net, x, 2, ig) < 1e-10
    blur = integrated_gradients(net, x, 2, steps=3, baseline="blur")
    assert completeness_error(net, x, 2, blur, baseline="blur") < 1e-10


def test_a_batch_gives_one_map_per_image(vgg64, photo64, target):
    batch = torch.cat([photo64, photo64.flip(-1)])
    maps = integrated_gradients(vgg64, batch, [target, 0], steps=4)
    assert maps.shape == (2, 3, SIZE, SIZE)
    torch.testing.assert_close(maps[0], integrated_gradients(vgg64, photo64, target, steps=4))
    with pytest.raises(ValueError, match="3 targets for 2 images"):
        integrated_gradients(vgg64, batch, [1, 2, 3], steps=2)


def test_deconvnet_matches_captum(vgg64, photo64, target):
    from captum.attr import Deconvolution

    ref = Deconvolution(vgg64).attribute(photo64.clone().requires_grad_(True), target=target)[0]
    assert rel_err(deconvnet(vgg64, photo64, target, reduce=False), ref) <= RTOL
    assert rel_err(deconvnet(vgg64, photo64, target), ref.abs().amax(0)) <= RTOL


@pytest.mark.parametrize(("window", "stride"), [(16, 8), (20, 12)])
def test_occlusion_matches_captum(vgg64, photo64, target, window, stride):
    """Captum's Occlusion with the same window, stride and a zero baseline; (20, 12) clips the last windows."""
    from captum.attr import Occlusion

    ref = Occlusion(vgg64).attribute(
        photo64.clone(), sliding_window_shapes=(3, window, window), strides=(3, stride, stride), baselines=0.0,
        target=target,
    )[0]  # fmt: skip
    mine = occlusion(vgg64, photo64, target, window=window, stride=stride, batch_size=7)
    assert mine.shape == (SIZE, SIZE)
    for c in range(3):  # the window covers all three channels: one value per pixel
        assert rel_err(mine, ref[c]) <= RTOL


def small_cnn() -> nn.Module:
    """A seeded CNN of VGG's kind, small enough that Score-CAM's one pass per channel takes milliseconds:
    two conv blocks (16 and 32 channels), then global average pooling and a dense layer of 10 classes."""
    torch.manual_seed(7)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )  # fmt: skip
    return net.double().eval()


def test_occlusion_and_score_cam_need_no_gradient(vgg64, photo64, target):
    with torch.no_grad():
        occlusion(vgg64, photo64, target, window=32, stride=32)
        score_cam(small_cnn(), photo64, 3, "4")


def test_occlusion_refuses_a_window_larger_than_the_image(vgg64, photo64, target):
    with pytest.raises(ValueError, match="larger than the image"):
        occlusion(vgg64, photo64, target, window=65)


def _pgc_score_cam(net, module, x, target) -> np.ndarray:
    from pytorch_grad_cam import ScoreCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with ScoreCAM(model=net, target_layers=[module]) as cam:
        cam.batch_size = 64
        return cam(input_tensor=x.clone(), targets=[ClassifierOutputTarget(target)])[0]


def test_score_cam_matches_pytorch_grad_cam_at_every_depth():
    """Both conv layers of a small CNN, three classes: the same maps to 1e-5 (the arithmetic is the same). Two
    channels of the deeper layer are dead (all zero, as many of VGG16's are after a ReLU), which ours scores
    in one shared pass and pytorch-grad-cam one by one. (A small CNN, not VGG16: Score-CAM costs one pass per
    channel, and float64 VGG16 takes half a minute for its 512; the VGG16 path runs
    in every quick build, in the trust chapter.)"""
    net = small_cnn()
    with torch.no_grad():
        net[3].weight[[5, 9]] = 0.0
        net[3].bias[[5, 9]] = 0.0
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    stats: dict = {}
    score_cam(net, x, 0, "4", stats=stats)
    with torch.no_grad():
        acts = net[:5](x)[0].flatten(1)
    live = int(((acts.max(1).values - acts.min(1).values) > 0).sum())
    assert live <= 30 and stats["passes"] == 1 + live + 1  # the photo, each live channel, one for all dead ones
    assert stats["constant"] == acts.shape[0] - live  # what the trust table names as sharing that pass
    for layer in ("1", "4"):  # after each ReLU, as block5_conv3 is
        for cls in (0, 4, 9):
            mine = score_cam(net, x, cls, layer, batch_size=5).numpy()
            ref = _pgc_score_cam(net, net[int(layer)], x, cls)
            assert float(np.abs(mine - ref).max()) <= 1e-5, (layer, cls)


def test_score_cam_on_its_most_active_channels_scores_only_those():
    """With ``channels=k``: k passes after the photo's, weight 0 for every other channel, and the map is the
    full method's when the other channels' weights are set to 0 by hand."""
    from generator.lib.perturbation import score_cam_weights

    net = small_cnn()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    stats: dict = {}
    with torch.no_grad():
        weights, acts = score_cam_weights(net, net[4], x, 3, 8, stats, channels=6)
        full, _ = score_cam_weights(net, net[4], x, 3, 8)
    chosen = torch.sort(-acts.flatten(1).mean(1).double(), stable=True).indices[:6]
    assert stats["passes"] == 1 + 6
    assert set(torch.nonzero(weights).flatten().tolist()) == set(chosen.tolist())
    assert float(weights.sum()) == pytest.approx(1.0)
    # the kept channels' weights are the full method's, renormalised over them (a softmax of the same scores)
    np.testing.assert_allclose(weights[chosen].numpy(), (full[chosen] / full[chosen].sum()).numpy(), rtol=1e-9)
    assert torch.equal(score_cam(net, x, 3, "4", channels=32), score_cam(net, x, 3, "4"))  # k >= live: all


def test_layer_cam_export_matches_pytorch_grad_cam(vgg64, photo64, target):
    from pytorch_grad_cam import LayerCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with LayerCAM(model=vgg64, target_layers=[vgg64.features[15]]) as cam:
        ref = cam(input_tensor=photo64.clone().requires_grad_(True), targets=[ClassifierOutputTarget(target)])[0]
    assert float(np.abs(layer_cam(vgg64, photo64, target, "block3_conv3").numpy() - ref).max()) <= 1e-5


def _zennit_vgg_composite(vgg64):
    """zennit's rules per module, as generator.lib.lrp.VGG_COMPOSITE assigns them."""
    from zennit.composites import NameMapComposite
    from zennit.rules import Epsilon, Gamma, Norm, Pass, ZBox

    mean = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)
    convs = [f"features.{i}" for i, m in enumerate(vgg64.features) if isinstance(m, nn.Conv2d)]
    relus = [f"features.{i}" for i, m in enumerate(vgg64.features) if isinstance(m, nn.ReLU)]
    relus += [f"classifier.{i}" for i, m in enumerate(vgg64.classifier) if isinstance(m, nn.ReLU)]
    linears = [f"classifier.{i}" for i, m in enumerate(vgg64.classifier) if isinstance(m, nn.Linear)]
    return NameMapComposite(
        name_map=[
            ((convs[0],), ZBox(low=(0 - mean) / std, high=(1 - mean) / std)),
            (tuple(convs[1:7]), Gamma(gamma=0.25)),
            (tuple(convs[7:]), Epsilon(epsilon=0.25)),
            (tuple(linears), Epsilon(epsilon=1e-6)),
            (tuple(relus), Pass()),
            (("avgpool",), Norm()),
        ]
    )


def test_lrp_matches_zennit_with_the_same_rules(vgg64, photo64, target):
    from zennit.attribution import Gradient

    with torch.no_grad():
        logit = vgg64(photo64)[0, target]
    onehot = torch.zeros(1, 1000, dtype=torch.float64)
    onehot[0, target] = logit
    with Gradient(model=vgg64, composite=_zennit_vgg_composite(vgg64)) as attributor:
        _, ref = attributor(photo64.clone().requires_grad_(True), onehot)
    mine = lrp(vgg64, photo64, target)
    assert mine.shape == (3, SIZE, SIZE)
    assert rel_err(mine, ref[0]) <= RTOL


def test_lrp_refuses_a_network_it_has_no_rules_for():
    import torchvision

    with pytest.raises(ValueError, match="features -> avgpool -> classifier"):
        lrp(torchvision.models.resnet18(weights=None).eval(), torch.zeros(1, 3, 32, 32), 0)


def test_deep_dream_raises_the_layer_it_amplifies(vgg64, photo64):
    res = deep_dream(vgg64, photo64, "block3_conv3", octaves=2, steps=4, lr=0.02)
    h = res.history[:, 0]
    assert res.images.shape == photo64.shape
    assert float(res.final) > float(h[-4]) and float(h[3]) > float(h[0])  # each octave's ascent climbs


def test_deep_dream_leaves_a_fixed_point_alone():
    """A photo on which the layer's gradient is zero everywhere (every unit dead) does not move."""
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2)).double()
    with torch.no_grad():
        net[0].weight.zero_()
        net[0].bias.fill_(-1.0)  # ReLU(-1) = 0 whatever the photo
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    net(x)
    res = deep_dream(net, x, net[1], octaves=2, steps=3)
    assert torch.equal(res.images, x)
