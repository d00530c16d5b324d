"""Building blocks: the block5_conv3 channels that add most to the class score, where they fire, what they want."""

from __future__ import annotations

import json

import numpy as np

from generator.chapters.building_blocks.compute import top_units


def test_units_are_ranked_by_weighted_contribution_not_by_weight_alone():
    weights = np.array([5.0, 1.0, -3.0, 1.0])
    maps = np.stack([np.full((2, 2), v) for v in (0.1, 2.0, 9.0, 2.0)])  # means 0.1, 2, 9, 2
    channels, contribution = top_units(weights, maps, 3)
    # contributions: 0.5, 2.0, -27, 2.0 -> channel 1 before 3 (tie: lower index), then 0; never 2
    assert channels == [1, 3, 0]
    assert contribution == [2.0, 2.0, 0.5]


def test_quick_build_shows_the_featured_photo_only(quick_build):
    manifest = json.loads((quick_build / "manifest.json").read_text())
    figures = [f for f in manifest["figures"] if f["technique"] == "building_blocks"]
    assert {f["image"] for f in figures} == {"chelsea"}
    assert {f["model"] for f in figures} == {"trained", "untrained"}
    state = json.loads((quick_build / ".state" / "building_blocks.json").read_text())
    (shown,) = state["records"]["shown"]
    for model, channels in shown["channels"].items():
        assert len(channels) == 2 and len(set(channels)) == 2, model
    fragment = (quick_build / "fragments" / "building_blocks.md").read_text()
    assert "top channels for" in fragment
