"""Class model visualisation: the target score rises well above its start and above every other class."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from generator.chapters.class_model.spec import WELL_KNOWN
from generator.lib import optvis
from generator.models import CATEGORIES


def small_classifier() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(4),
        nn.Flatten(),
        nn.Linear(256, 10),
    )
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


def test_target_scores_rise_above_start_and_other_classes():
    net = small_classifier()
    res = optvis.class_model(net, [2, 7, 9], steps=60, size=32, lr=0.1, l2=0.01, seed=0)
    start = torch.tensor(res.extra["start"])
    final = torch.tensor(res.extra["final"])
    spread = float(
        net(optvis.normalise(torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)))).std()
    )  # typical logit spread
    assert bool((final - start > 2 * spread).all())  # measured: 2.6x to 5.4x the spread after 40 steps
    assert bool((final > torch.tensor(res.extra["best_other"])).all())
    assert res.extra["rank"] == [1, 1, 1]
    assert res.images.shape == (3, 3, 32, 32)
    assert float(res.images.min()) >= 0 and float(res.images.max()) <= 1
    assert not any(m._forward_hooks for m in net.modules())


def test_score_rises_on_vgg16_and_is_repeatable():
    from generator.models import build_untrained

    vgg = build_untrained()
    a = optvis.class_model(vgg, [11, 980], steps=5, size=32, seed=3)
    b = optvis.class_model(vgg, [11, 980], steps=5, size=32, seed=3)
    assert torch.equal(a.images, b.images)
    assert all(f > s for f, s in zip(a.extra["final"], a.extra["start"]))


def test_bad_class_names_the_range():
    with pytest.raises(ValueError, match=r"valid classes are 0\.\.9"):
        optvis.class_model(small_classifier(), [10], steps=1, size=16)
    with pytest.raises(ValueError, match="at least one class"):
        optvis.class_model(small_classifier(), [], steps=1, size=16)


def test_well_known_classes_are_what_the_chapter_says():
    assert [CATEGORIES[c] for c in WELL_KNOWN] == ["goldfinch", "flamingo", "volcano"]


def test_build_has_both_models_and_the_photo_classes(quick_build):
    state = json.loads((quick_build / ".state" / "class_model.json").read_text())
    kinds = {(f["model"], f["kind"]) for f in state["figures"]}
    assert {("trained", "classes"), ("untrained", "classes"), ("both", "scores")} <= kinds
    table = state["records"]["table"]
    assert {r["index"] for r in table} >= set(WELL_KNOWN)
    assert any(r["source"] for r in table)  # at least one class came from a photo's top-1
    text = (quick_build / "fragments" / "class_model.numbers.md").read_text()
    assert "goldfinch" in text and "steps" in (quick_build / "fragments" / "class_model.numbers.md").read_text()
