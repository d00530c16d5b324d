"""Sanity checks: the cascade's networks, its end point, overlay colours, and the chapter's conditional wording."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from generator.chapters.cascading_randomisation.compute import CascadeVGG
from generator.chapters.cascading_randomisation.spec import STEPS
from generator.lib.methods import METHODS, Signals, cam_rules_used
from generator.models import build_trained, build_untrained
from generator.render import colormap, overlay, to_uint8
from generator.site import fragments


@pytest.fixture(scope="module")
def nets(standin_weights):
    return build_trained(standin_weights), build_untrained()


def test_cascade_end_points_are_the_two_models(nets):
    trained, untrained = nets
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(CascadeVGG(trained, untrained, set())(x), trained(x))
        assert torch.equal(CascadeVGG(trained, untrained, set(STEPS))(x), untrained(x))
        top = CascadeVGG(trained, untrained, {"classifier"})
    assert top.features[0] is trained.features[0] and top.classifier is untrained.classifier
    mid = CascadeVGG(trained, untrained, {"classifier", "block5", "block4"})
    assert mid.features[16] is trained.features[16]  # block3_pool stays trained
    assert mid.features[17] is untrained.features[17]  # block4_conv1 is re-initialised
    assert mid.features[28] is untrained.features[28]


def test_cascade_rejects_unknown_groups(nets):
    with pytest.raises(ValueError, match="unknown layer group.*valid: classifier, block5"):
        CascadeVGG(*nets, {"block6"})


def test_method_maps_shapes_and_flat_cam():
    rng = np.random.default_rng(0)
    g = rng.normal(size=(3, 16, 16)).astype(np.float32)
    flat = np.zeros((2, 2), np.float32)
    signals = Signals(size=(16, 16), gradient=g, guided=g, deconvnet=g, input=g, smooth=np.abs(g),
                      cams={r: flat for r in cam_rules_used()})  # fmt: skip
    maps = {name: m.map(signals) for name, m in METHODS.items()}
    assert all(m.shape == (16, 16) and np.isfinite(m).all() for m in maps.values())
    assert all(not maps[name].any() for name, m in METHODS.items() if m.family == "cam")  # a flat CAM stays flat
    assert np.array_equal(maps["gradient"], np.abs(g).max(0))
    assert np.allclose(maps["input_x_gradient"], np.abs((g * g).sum(0)))


def test_overlay_colours():
    """alpha 0 gives back the photo exactly; alpha 1 gives the colour map; RGB order is kept."""
    rng = np.random.default_rng(1)
    seen = rng.random((8, 8, 3)).astype(np.float32)
    heat = rng.random((8, 8)).astype(np.float32)
    assert np.array_equal(overlay(seen, heat, alpha=0.0), to_uint8(seen))
    assert np.array_equal(overlay(seen, heat, alpha=1.0, cmap="inferno"), colormap(heat, "inferno"))
    red = np.zeros((4, 4, 3), np.float32)
    red[..., 0] = 1.0
    out = overlay(red, np.zeros((4, 4)), alpha=0.5)
    assert out[..., 0].min() > out[..., 1].max() and out[..., 0].min() > out[..., 2].max()
    # inferno's top end is bright yellow: red and green high, blue lower
    top = colormap(np.ones((1, 1)), "inferno")[0, 0]
    assert top[0] > 200 and top[1] > 200 and top[2] < top[0]


def _records(gradient_rho: float, guided_rho: float, cam_rho: float | None) -> dict:
    titles = {
        "gradient": "Gradient",
        "smoothgrad": "SmoothGrad",
        "guided": "Guided backprop",
        "grad_cam": "Grad-CAM",
        "guided_grad_cam": "Guided Grad-CAM",
    }
    means = {
        "gradient": gradient_rho,
        "smoothgrad": 0.5,
        "guided": guided_rho,
        "grad_cam": cam_rho,
        "guided_grad_cam": 0.4,
    }
    means = {k: {"spearman": v, "ssim": 0.3} for k, v in means.items()}
    ranked = sorted(means, key=lambda m: -(means[m]["spearman"] if means[m]["spearman"] is not None else -2))
    fig = {"path": "figures/x.png", "caption": "c", "width": 10}
    from generator.chapters.cascading_randomisation.verdicts import weight_dependence

    intervals = {
        k: {"mean": v["spearman"], "n": 7}
        | ({"low": v["spearman"] - 0.05, "high": v["spearman"] + 0.05} if v["spearman"] is not None else {})
        for k, v in means.items()
    }
    return {
        "sanity_plot": fig,
        "table": [],
        "means": means,
        "intervals": intervals,
        "weights": {k: weight_dependence(iv) for k, iv in intervals.items()},
        "passes_below": 0.5,
        "ranked": ranked,
        "methods": list(titles),
        "titles": titles,
    }


def _sanity_text(records: dict) -> str:
    env = fragments.environment()
    return env.get_template("cascading_randomisation.sanity.md.j2").render(records=records)


def test_sanity_wording_follows_the_numbers():
    text = _sanity_text(_records(gradient_rho=0.2, guided_rho=0.9, cam_rho=0.1))
    assert "clearly more alike across the two models than the plain gradient's (0.90 against 0.20)" in text
    assert "changed least between the two models is **Guided backprop**" in text
    assert "its map depends on the weights" in text
    text = _sanity_text(_records(gradient_rho=0.8, guided_rho=0.3, cam_rho=0.9))
    assert "less alike across the two models than the plain gradient's" in text
    assert "its map ignores the weights" in text
    text = _sanity_text(_records(gradient_rho=0.5, guided_rho=0.55, cam_rho=None))
    assert "about as alike" in text and "n/a" in text
    assert "nan" not in text.lower().replace("n/a", "")


def test_quick_build_cascade_ends_at_the_untrained_model(quick_build):
    """The records wire the cascade's last step (every group re-initialised) to the
    trained-vs-untrained numbers, and every fragment and figure is there without NaNs."""
    state = json.loads((quick_build / ".state" / "cascading_randomisation.json").read_text())
    r = state["records"]
    for m in r["cascade_methods"]:
        for key in ("spearman", "ssim"):
            last, direct = r["cascade"][m][key][-1], r["means"][m][key]
            assert (last is None and direct is None) or last == pytest.approx(direct, abs=1e-9), (m, key)
        assert r["cascade"][m]["spearman"][0] == 1.0
    for name in (
        "saliency.featured",
        "saliency.numbers",
        "grad_cam.blocks",
        "grad_cam.numbers",
        "cascading_randomisation.sanity",
        "cascading_randomisation.cascade",
        "cascading_randomisation.edges",
    ):
        text = (quick_build / "fragments" / f"{name}.md").read_text()
        assert text.strip() and " nan" not in text.lower(), name
    for f in state["figures"]:
        assert (quick_build / f["path"]).is_file()


def test_fully_randomised_cascade_gives_the_untrained_maps_bit_for_bit(nets):
    """The cascade reuses the untrained model's maps for its last step; that is only valid
    if explaining the fully re-initialised network gives exactly the same numbers."""
    from generator.lib.engine import explain

    trained, untrained = nets
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    for cl in (False, True):  # the default profile runs channels-last
        kw = dict(
            cam_layers=["block5_conv3"], guided=True, smooth_n=2, sigma=0.15, seed=3, batch_size=2, channels_last=cl
        )
        a = explain(CascadeVGG(trained, untrained, set(STEPS)), x, 7, **kw)
        b = explain(untrained, x, 7, **kw)
        for name in ("gradient", "guided", "smooth"):
            assert torch.equal(getattr(a, name), getattr(b, name)), (name, cl)
        assert torch.equal(a.cams["block5_conv3"], b.cams["block5_conv3"])
