"""Grad-CAM and guided Grad-CAM: oracles (Captum, pytorch-grad-cam), an analytic case, flat maps, bad input.

Oracle tolerance: 1e-5 relative to the reference's largest value, on a
float64 copy of the seeded stand-in VGG16 (what is left is summation order,
about 1e-15).  pytorch-grad-cam computes in float32 numpy and resizes with
OpenCV, and adds 1e-7 to the maximum when it scales a map; its final maps
lie in [0, 1], so there the 1e-5 bound is absolute on that range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from test_saliency import Mask, RegionNet, region, rel_err  # noqa: F401  (shared oracle helpers)

from generator import images as imgmod
from generator.chapters.grad_cam.compute import cam_stats
from generator.chapters.saliency.compute import CAM_LAYERS
from generator.lib.attr import grad_cam, guided_grad_cam, upsample
from generator.lib.engine import explain

IMAGES = Path(__file__).resolve().parents[1] / "images"
RTOL = 1e-5
SIZE = 64


@pytest.fixture(scope="module")
def photo64():
    return imgmod.prepare(imgmod.load_rgb(IMAGES / "camera.png"), SIZE).tensor.double()


@pytest.fixture(scope="module")
def target(vgg64, photo64):
    with torch.no_grad():
        return int(vgg64(photo64).argmax())


@pytest.fixture(scope="module")
def shared(vgg64, photo64, target):
    """One pass for all five layers, as the pipeline does it."""
    return explain(vgg64, photo64, target, cam_layers=CAM_LAYERS, guided=True)


def test_every_block_matches_captum_layer_grad_cam(vgg64, photo64, target, shared):
    from captum.attr import LayerGradCam

    from generator.models import LAYERS

    for layer in CAM_LAYERS:
        module = vgg64.get_submodule(LAYERS[layer])
        ref = LayerGradCam(vgg64, module).attribute(
            photo64.clone().requires_grad_(True), target=target, relu_attributions=True
        )[0, 0]
        assert float(ref.detach().max()) > 0, layer
        assert rel_err(shared.cams[layer], ref) <= RTOL, layer
    # the public function, raw map at the layer's resolution
    raw = grad_cam(vgg64, photo64, target, "block5_conv3", upsample_to_input=False)
    assert rel_err(raw, shared.cams["block5_conv3"]) <= RTOL


def test_guided_grad_cam_matches_captum(vgg64, photo64, target):
    from captum.attr import GuidedGradCam

    with pytest.warns(UserWarning):
        ref = GuidedGradCam(vgg64, vgg64.features[29]).attribute(
            photo64.clone().requires_grad_(True), target=target, interpolate_mode="bilinear"
        )[0]
    mine = guided_grad_cam(vgg64, photo64, target, "block5_conv3", reduce=False)
    assert rel_err(mine, ref) <= RTOL
    assert rel_err(guided_grad_cam(vgg64, photo64, target, "features.29"), ref.abs().amax(0)) <= RTOL


def pytorch_grad_cam_maps(method, net, x, target, module):
    """pytorch-grad-cam's final map (input size, scaled) and its raw map at the layer (weighted sum, then ReLU)."""
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    with method(model=net, target_layers=[module]) as cam:
        # frozen parameters: the input must carry the graph
        ref = cam(input_tensor=x.clone().requires_grad_(True), targets=[ClassifierOutputTarget(target)])[0]
        acts = cam.activations_and_grads.activations[0].cpu().numpy()
        grads = cam.activations_and_grads.gradients[0].cpu().numpy()
        raw = np.maximum(cam.get_cam_image(x, module, None, acts, grads, False), 0)[0]
    return ref, raw


def test_matches_pytorch_grad_cam(vgg64, photo64, target, shared):
    from pytorch_grad_cam import GradCAM

    for layer, idx in (("block5_conv3", 29), ("block3_conv3", 15)):
        ref, raw = pytorch_grad_cam_maps(GradCAM, vgg64, photo64, target, vgg64.features[idx])
        assert rel_err(shared.cams[layer], torch.from_numpy(raw)) <= RTOL, layer
        mine = upsample(shared.cams[layer], (SIZE, SIZE)).numpy()
        assert ref.shape == mine.shape == (SIZE, SIZE)
        assert float(np.abs(mine - ref).max()) <= RTOL, layer


def test_public_map_is_scaled_and_sized(vgg64, photo64, target):
    m = grad_cam(vgg64, photo64, target, "block4_conv3")
    assert m.shape == (SIZE, SIZE)
    assert float(m.min()) == 0.0 and float(m.max()) == pytest.approx(1.0)


def test_analytic_region_gets_all_grad_cam_mass():
    """Activations outside the masked region are zero, so Grad-CAM there must be zero too."""
    size, rows, cols = 24, slice(4, 11), slice(13, 20)
    net = RegionNet(size, rows, cols)
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        target = int(net(x).argmax())
    raw = grad_cam(net, x, target, "features.4", upsample_to_input=False).numpy()
    assert raw.sum() > 0
    assert raw[~region(size, rows, cols, grow=1)].sum() == 0.0  # the second conv reaches one pixel out
    ggc = guided_grad_cam(net, x, target, "features.4").numpy()
    assert ggc.sum() > 0 and ggc[~region(size, rows, cols, grow=2)].sum() == 0.0


def test_all_negative_weighted_sum_gives_a_flat_map_not_nan():
    size = 16
    net = RegionNet(size, slice(0, size), slice(0, size))
    with torch.no_grad():
        net.fc.weight.copy_(-net.fc.weight.abs() - 0.1)  # every alpha_k < 0, activations >= 0
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    raw = grad_cam(net, x, 1, "features.4", upsample_to_input=False)
    up = grad_cam(net, x, 1, "features.4")
    assert torch.equal(raw, torch.zeros_like(raw)) and torch.equal(up, torch.zeros_like(up))
    assert torch.isfinite(guided_grad_cam(net, x, 1, "features.4")).all()
    stats = cam_stats(up.numpy(), raw.numpy())
    assert stats["flat"] and stats["coverage"] == 0.0


def test_bad_layers_give_one_line_errors(vgg64, photo64):
    with pytest.raises(ValueError, match="unknown layer 'features.99'.*valid layers:") as err:
        grad_cam(vgg64, photo64, 1, "features.99")
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="N x C x H x W"):
        grad_cam(vgg64, photo64, 1, "classifier.0")
    resnet = torchvision.models.resnet18(weights=None)
    with pytest.raises(ValueError, match="not a VGG16; valid layers: conv1, bn1"):
        grad_cam(resnet, torch.zeros(3, 32, 32), 1, "block5_conv3")
    with pytest.raises(ValueError, match=r"valid classes: 0\.\.999"):
        grad_cam(resnet, torch.zeros(3, 32, 32), 1000, "layer4")


def test_any_torchvision_cnn():
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(1, 3, SIZE, SIZE)
    m = grad_cam(net, x, 5, "layer4")
    assert m.shape == (SIZE, SIZE) and torch.isfinite(m).all()
    assert guided_grad_cam(net, x, 5, "layer3").shape == (SIZE, SIZE)


def test_grad_cam_plus_plus_matches_pytorch_grad_cam(vgg64, photo64, target):
    """A CAM variant is one weight rule: Grad-CAM++ agrees with pytorch-grad-cam's GradCAMPlusPlus within 1e-5."""
    from pytorch_grad_cam import GradCAMPlusPlus

    from generator.lib import grad_cam_plus_plus

    for layer, idx in (("block5_conv3", 29), ("block4_conv3", 22)):
        ref, raw = pytorch_grad_cam_maps(GradCAMPlusPlus, vgg64, photo64, target, vgg64.features[idx])
        assert float(raw.max()) > 0, layer
        mine_raw = grad_cam_plus_plus(vgg64, photo64, target, layer, upsample_to_input=False)
        assert rel_err(mine_raw, torch.from_numpy(raw)) <= RTOL, layer
        mine = grad_cam_plus_plus(vgg64, photo64, target, layer).numpy()
        assert ref.shape == mine.shape == (SIZE, SIZE)
        assert float(np.abs(mine - ref).max()) <= RTOL, layer
        # a different rule from Grad-CAM's, so a different map
        assert float(np.abs(mine - grad_cam(vgg64, photo64, target, layer).numpy()).max()) > 1e-3, layer


def test_batches_and_per_image_targets(vgg64, photo64, target):
    """A batch of N images with one class each gives N maps, each equal to the single-image map."""
    from generator.lib import grad_cam, saliency

    batch = torch.cat([photo64, photo64.flip(-1)])
    targets = [target, (target + 1) % 1000]
    cams = grad_cam(vgg64, batch, targets, vgg64.features[29])
    assert cams.shape == (2, SIZE, SIZE)
    for i in range(2):
        assert rel_err(cams[i], grad_cam(vgg64, batch[i : i + 1], targets[i], "block5_conv3")) <= RTOL
    sal = saliency(vgg64, batch, torch.tensor(targets))
    assert sal.shape == (2, SIZE, SIZE)
    assert rel_err(sal[1], saliency(vgg64, batch[1], targets[1])) <= RTOL
    with pytest.raises(ValueError, match="3 targets for 2 images"):
        grad_cam(vgg64, batch, [1, 2, 3], "block5_conv3")


def test_quick_build_explains_the_expected_class_where_the_prediction_differs(quick_build):
    """One 'predicted vs expected' Grad-CAM figure per photo whose trained top-1 is not its credited class."""
    import json

    state = json.loads((quick_build / ".state" / "predictions.json").read_text())
    wrong = {p["id"] for p in state["records"]["photos"] if p.get("expected") and not p.get("match")}
    figures = [
        f
        for f in json.loads((quick_build / "manifest.json").read_text())["figures"]
        if f["kind"] == "grad-cam-expected"
    ]
    assert figures, "no expected-class Grad-CAM figure"
    for f in figures:
        assert (quick_build / f["path"]).is_file()
        assert "for the class the credits expect" in f["caption"]
    assert {f["image"] for f in figures} == wrong
    fragment = (quick_build / "fragments" / "grad_cam.expected.md").read_text()
    assert f"for {len(figures)} of the" in fragment


def test_explain_returns_the_activations_its_grad_cam_weights_multiply(vgg64, photo64):
    """building_blocks reads these instead of running a second forward pass: they must be the layer's output."""
    from torchvision.models.feature_extraction import create_feature_extractor

    e = explain(vgg64, photo64, 3, cam_layers=["block5_conv3"], guided=False)
    reference = create_feature_extractor(vgg64, {"features.29": "a"})(photo64)["a"][0].detach()
    act = e.cam_activations["block5_conv3"]
    assert act.shape == reference.shape
    torch.testing.assert_close(act, reference, rtol=1e-5, atol=1e-6)
    raw = torch.relu(torch.einsum("k,khw->hw", e.cam_weights["block5_conv3"], act))
    torch.testing.assert_close(raw, e.cams["block5_conv3"])


def test_an_element_wise_rule_layer_cam_matches_pytorch_grad_cam(vgg64, photo64, target):
    """A CAM combiner need not be a channel-weight rule: LayerCAM (ReLU(Σ ReLU(G) ⊙ A)) from the same pass
    agrees with pytorch-grad-cam's LayerCAM within 1e-5, and has no channel weights."""
    from pytorch_grad_cam import LayerCAM

    e = explain(vgg64, photo64, target, cam_layers=["block5_conv3", "block4_conv3"], guided=False,
                cam="grad_cam", cam_variants=["layer_cam"])  # fmt: skip
    for layer, idx in (("block5_conv3", 29), ("block4_conv3", 22)):
        _, raw = pytorch_grad_cam_maps(LayerCAM, vgg64, photo64, target, vgg64.features[idx])
        assert float(raw.max()) > 0, layer
        assert rel_err(e.variants["layer_cam"][layer], torch.from_numpy(raw)) <= RTOL, layer
        assert layer not in e.variant_weights.get("layer_cam", {})
        # the primary variant is untouched by the extra one
        assert torch.equal(e.cams[layer], e.variants["grad_cam"][layer])
