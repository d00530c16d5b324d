"""generator.metrics against the reference implementations (scipy, scikit-image)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import rankdata as sp_rankdata
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

from generator.lib import metrics


def _maps(seed: int, shape=(40, 33)):
    rng = np.random.default_rng(seed)
    a = rng.random(shape)
    b = 0.6 * a + 0.4 * rng.random(shape)
    return a, b


def test_rankdata_matches_scipy_average_ties():
    """Ties get the mean of their ranks (method='average')."""
    x = np.array([3.0, 1.0, 3.0, 0.0, 3.0, 1.0, 7.0])
    assert np.array_equal(metrics.rankdata(x), sp_rankdata(x, method="average"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spearman_matches_scipy(seed):
    a, b = _maps(seed)
    assert metrics.spearman(a, b) == pytest.approx(spearmanr(a.ravel(), b.ravel()).statistic, abs=1e-12)


def test_spearman_with_many_ties_matches_scipy():
    """Grad-CAM maps are mostly exact zeros after the ReLU: ties must be averaged."""
    rng = np.random.default_rng(5)
    a = np.maximum(rng.normal(size=(30, 30)), 0)
    b = np.maximum(a + rng.normal(scale=0.5, size=a.shape), 0)
    b[::3] = 0.0
    assert metrics.spearman(a, b) == pytest.approx(spearmanr(a.ravel(), b.ravel()).statistic, abs=1e-12)


def test_spearman_extremes_and_undefined():
    a, _ = _maps(3)
    assert metrics.spearman(a, a) == pytest.approx(1.0)
    assert metrics.spearman(a, -a) == pytest.approx(-1.0)
    assert math.isnan(metrics.spearman(a, np.zeros_like(a)))
    with pytest.raises(ValueError, match="equal size"):
        metrics.spearman(a, a[:5])


@pytest.mark.parametrize("seed", [0, 4])
def test_ssim_matches_skimage(seed):
    a, b = _maps(seed, shape=(48, 57))
    ref = structural_similarity(a, b, data_range=1.0)
    assert metrics.ssim(a, b, data_range=1.0) == pytest.approx(ref, abs=1e-10)


def test_ssim_identical_is_one_and_small_maps_refused():
    a, _ = _maps(1)
    assert metrics.ssim(a, a, data_range=1.0) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="window"):
        metrics.ssim(a[:5, :5], a[:5, :5])


def test_compare_flat_map_gives_none_not_nan():
    a, _ = _maps(2)
    out = metrics.compare(a, np.zeros_like(a))
    assert out["spearman"] is None
    assert math.isfinite(out["ssim"])


# --------------------------------------------------------------------------- is a map just the edges?


def _square_photo(size: int = 64) -> np.ndarray:
    """A bright square on a dark ground, in three channels (as preprocessed: zero-centred)."""
    x = np.full((3, size, size), -1.0)
    x[:, 16:48, 16:48] = 1.0
    return x


def test_a_map_that_is_the_edges_agrees_fully_and_a_speckled_copy_still_agrees():
    from generator.lib.metrics import edge_agreement, input_edges, spearman

    x = _square_photo()
    edges = input_edges(x)
    assert edge_agreement(edges, x) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    # The contour with its values scattered, on a speckled ground: what a gradient map of it looks like.
    speckled = edges * rng.random(edges.shape) ** 2 + edges.max() * rng.random(edges.shape) ** 8
    pixelwise, squares = spearman(speckled, edges), edge_agreement(speckled, x)
    assert pixelwise < 0.35  # pixel by pixel, the speckle hides the contour...
    assert squares > 0.5 and squares > pixelwise + 0.2  # ...which the 8 × 8 squares see
    noise = rng.random(edges.shape)
    assert abs(edge_agreement(noise, x)) < 0.3


def test_edge_agreement_refuses_maps_of_another_size():
    from generator.lib.metrics import edge_agreement

    with pytest.raises(ValueError, match="differ in size"):
        edge_agreement(np.zeros((32, 32)), _square_photo())
