"""Deletion and insertion curves (Petsiuk et al., 2018) on a network whose answer is known: its class score
is the sum of one region of the photo, so the ideal ranking is that region, first."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from generator.lib import deletion_curve, insertion_curve, random_map, sobel_map
from generator.lib.faithfulness import auc, ranking

SIDE = 32


def _toy():
    """A photo with a ±1 checkerboard in one 12 x 12 region (grey elsewhere), and a linear "network" whose
    class-0 score is 4 * (the checkerboard's match in that region) - 2: +2 on the photo, about -2 once the
    region is blurred away (a blurred checkerboard is about 0).  Class 1 scores 0, so p(class 0) is a
    sigmoid of that score."""
    region = np.zeros((SIDE, SIDE), bool)
    region[4:16, 10:22] = True
    checker = np.indices((SIDE, SIDE)).sum(0) % 2 * 2.0 - 1.0
    x = torch.zeros(1, 3, SIDE, SIDE, dtype=torch.float64)
    x[0, 0][torch.from_numpy(region)] = torch.from_numpy(checker[region])
    w = torch.zeros(2, 3 * SIDE * SIDE, dtype=torch.float64)
    pattern = torch.zeros(3, SIDE, SIDE, dtype=torch.float64)
    pattern[0][torch.from_numpy(region)] = torch.from_numpy(checker[region]) * 4 / region.sum()
    w[0] = pattern.flatten()
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * SIDE * SIDE, 2)).double().eval()
    with torch.no_grad():
        net[1].weight.copy_(w)
        net[1].bias.copy_(torch.tensor([-2.0, 0.0]))
    return net, x, region


def test_the_ideal_ranking_deletes_fastest_and_a_random_one_lands_in_the_middle():
    net, x, region = _toy()
    ideal = deletion_curve(net, x, region.astype(float), 0, steps=16, blur_sigma=2.0)
    worst = deletion_curve(net, x, (~region).astype(float), 0, steps=16, blur_sigma=2.0)
    rand = [deletion_curve(net, x, random_map((SIDE, SIDE), s), 0, steps=16, blur_sigma=2.0).auc for s in range(5)]
    assert ideal.probs[0] == pytest.approx(1 / (1 + np.exp(-2)), rel=1e-9)  # nothing deleted yet
    assert ideal.probs[-1] < 0.2 and worst.probs[-1] == pytest.approx(ideal.probs[-1])  # all deleted: same image
    assert ideal.auc < np.mean(rand) < worst.auc
    # a random ranking deletes the region evenly: well inside the middle of the ideal-to-worst range
    lo, hi = ideal.auc + 0.25 * (worst.auc - ideal.auc), ideal.auc + 0.75 * (worst.auc - ideal.auc)
    assert lo < np.mean(rand) < hi


def test_insertion_mirrors_deletion():
    net, x, region = _toy()
    ideal = insertion_curve(net, x, region.astype(float), 0, steps=16, blur_sigma=2.0)
    worst = insertion_curve(net, x, (~region).astype(float), 0, steps=16, blur_sigma=2.0)
    assert ideal.probs[0] < 0.2 and ideal.probs[-1] == pytest.approx(1 / (1 + np.exp(-2)), rel=1e-9)
    assert ideal.auc > worst.auc
    assert np.all(np.diff(ideal.probs) >= -1e-12)  # restoring the region only ever adds evidence


@pytest.mark.parametrize("curve", [deletion_curve, insertion_curve])
@pytest.mark.parametrize("steps", [1, 2, 7])
def test_shared_end_points_give_the_same_curve(curve, steps):
    """The photo's and the blurred copy's probabilities, computed once and passed as ``ends``, replace the
    first and last point of every curve without changing it."""
    from generator.lib import end_points

    net, x, region = _toy()
    ends = end_points(net, x, 0, blur_sigma=2.0)
    for ranking_map in (region.astype(float), random_map((SIDE, SIDE), 3)):
        alone = curve(net, x, ranking_map, 0, steps=steps, blur_sigma=2.0)
        shared = curve(net, x, ranking_map, 0, steps=steps, blur_sigma=2.0, ends=ends)
        np.testing.assert_allclose(shared.probs, alone.probs, rtol=1e-12, atol=1e-15)
        assert len(shared.probs) == steps + 1


@pytest.mark.parametrize("steps,batch_size", [(1, 32), (2, 1), (7, 3)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_many_maps_in_shared_batches_give_each_map_its_own_curves(steps, batch_size, channels_last):
    """:func:`curves` puts several maps' images through the network together (batches that cross maps and
    kinds); each map's deletion and insertion curves are the ones it gets alone."""
    from generator.lib.faithfulness import curves

    net, x, region = _toy()
    maps = {"region": region.astype(float), "flat": np.zeros((SIDE, SIDE)), "noise": random_map((SIDE, SIDE), 1)}
    found = curves(net, x, maps, 0, steps=steps, blur_sigma=2.0, batch_size=batch_size, channels_last=channels_last)
    assert list(found) == list(maps)
    for name, m in maps.items():
        for kind, alone in (("deletion", deletion_curve), ("insertion", insertion_curve)):
            expected = alone(net, x, m, 0, steps=steps, blur_sigma=2.0)
            np.testing.assert_allclose(found[name][kind].probs, expected.probs, rtol=1e-12, atol=1e-15)
            assert found[name][kind].kind == kind and found[name][kind].auc == pytest.approx(expected.auc, abs=1e-12)
    with pytest.raises(ValueError, match="'small' is"):
        curves(net, x, {"small": np.zeros((8, 8))}, 0)
    with pytest.raises(ValueError, match="steps >= 1"):
        curves(net, x, maps, 0, steps=0)


def test_one_step_and_a_map_that_says_nothing():
    net, x, region = _toy()
    one = deletion_curve(net, x, region.astype(float), 0, steps=1, blur_sigma=2.0)
    assert len(one.probs) == 2 and one.auc == pytest.approx(one.probs.mean())
    flat = deletion_curve(net, x, np.zeros((SIDE, SIDE)), 0, steps=4, blur_sigma=2.0)  # ties: reading order
    assert len(flat.probs) == 5 and np.isfinite(flat.probs).all()
    assert list(ranking(np.zeros((2, 2)))) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="non-empty H x W"):
        deletion_curve(net, x, np.zeros((0, 0)), 0)
    with pytest.raises(ValueError, match="must match"):
        deletion_curve(net, x, np.zeros((8, 8)), 0)
    with pytest.raises(ValueError, match="steps >= 1"):
        insertion_curve(net, x, region.astype(float), 0, steps=0)
    with pytest.raises(ValueError, match="NaN"):
        deletion_curve(net, x, np.full((SIDE, SIDE), np.nan), 0)
    assert auc(np.array([0.0, 1.0])) == pytest.approx(0.5)


def test_the_edge_baseline_finds_edges():
    image = np.zeros((16, 16, 3))
    image[:, 8:] = 1.0  # one vertical edge
    edges = sobel_map(image)
    assert edges.shape == (16, 16)
    assert set(np.argwhere(edges > 0)[:, 1]) == {7, 8}
