"""Similarity between two explanation maps, in plain numpy.

The sanity checks compare a map made by the trained VGG16 with one made by
the untrained VGG16 (or by a partly randomised one).  Two numbers, as in
Adebayo et al. (2018):

* :func:`spearman` -- the rank correlation: do both maps order the pixels the
  same way, whatever their scale?  Ties get the average of their ranks
  (a Grad-CAM map has many exact zeros), exactly like ``scipy.stats.spearmanr``.
* :func:`ssim` -- the structural similarity index of Wang et al. (2004) with
  ``skimage.metrics.structural_similarity``'s defaults: a 7 × 7 uniform
  window, K1 = 0.01, K2 = 0.03, sample covariance, and the mean over the
  windows that lie fully inside the image.

Both are written here (tested against scipy and scikit-image) so that the
generator does not depend on either at run time.
"""

from __future__ import annotations

import math

import numpy as np

from generator.lib.arrays import scale01


def rankdata(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a flat array; tied values share the mean of their ranks."""
    a = np.asarray(values, dtype=np.float64).ravel()
    n = a.size
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    # start of every run of equal values in the sorted array
    new_run = np.empty(n, dtype=bool)
    if n:
        new_run[0] = True
        new_run[1:] = sorted_a[1:] != sorted_a[:-1]
    run_id = np.cumsum(new_run) - 1
    starts = np.flatnonzero(new_run)
    ends = np.append(starts[1:], n)  # exclusive
    mean_rank = (starts + ends + 1) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = mean_rank[run_id]
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two equally sized arrays (flattened).

    Returns NaN when either array is constant (the correlation is undefined
    there; scipy does the same).
    """
    a = np.asarray(a).ravel()
    b = np.asarray(b).ravel()
    if a.shape != b.shape:
        raise ValueError(f"spearman needs arrays of equal size, got {a.size} and {b.size}")
    ra, rb = rankdata(a), rankdata(b)
    ra -= ra.mean()
    rb -= rb.mean()
    denom = math.sqrt(float(ra @ ra) * float(rb @ rb))
    if denom == 0.0:
        return float("nan")
    return float(np.clip((ra @ rb) / denom, -1.0, 1.0))


def _window_means(x: np.ndarray, win: int) -> np.ndarray:
    """Mean of every fully contained win × win window (a 'valid' box filter), via a summed-area table."""
    s = np.zeros((x.shape[0] + 1, x.shape[1] + 1), dtype=np.float64)
    s[1:, 1:] = x.cumsum(0).cumsum(1)
    total = s[win:, win:] - s[:-win, win:] - s[win:, :-win] + s[:-win, :-win]
    return total / (win * win)


def ssim(
    a: np.ndarray,
    b: np.ndarray,
    *,
    data_range: float | None = None,
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> float:
    """Mean structural similarity of two 2-D maps.

    ``data_range`` defaults to the larger of the two maps' value ranges (the
    maps here are scaled to [0, 1] first, so it is normally 1).  Two identical
    maps score 1; unrelated ones score near 0.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"ssim needs two 2-D arrays of the same shape, got {a.shape} and {b.shape}")
    if min(a.shape) < win_size:
        raise ValueError(f"ssim: maps of {a.shape[0]}×{a.shape[1]} are smaller than the {win_size}×{win_size} window")
    if data_range is None:
        data_range = max(float(a.max() - a.min()), float(b.max() - b.min()), 1e-12)
    n = win_size * win_size
    cov_norm = n / (n - 1.0)  # sample covariance, as skimage's default
    ux, uy = _window_means(a, win_size), _window_means(b, win_size)
    uxx, uyy, uxy = (_window_means(a * a, win_size), _window_means(b * b, win_size), _window_means(a * b, win_size))
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return float(s.mean())


def compare(a: np.ndarray, b: np.ndarray) -> dict[str, float | None]:
    """Spearman and SSIM of two maps, each first scaled to [0, 1]; None where undefined."""
    ua, ub = scale01(a), scale01(b)  # float64
    rho = spearman(ua, ub)
    return {"spearman": None if math.isnan(rho) else rho, "ssim": ssim(ua, ub, data_range=1.0)}


def sobel_magnitude(gray: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of a 2-D image (edges replicated at the border)."""
    g = np.pad(np.asarray(gray, dtype=np.float64), 1, mode="edge")
    gx = (g[:-2, :-2] + 2 * g[1:-1, :-2] + g[2:, :-2]) - (g[:-2, 2:] + 2 * g[1:-1, 2:] + g[2:, 2:])
    gy = (g[:-2, :-2] + 2 * g[:-2, 1:-1] + g[:-2, 2:]) - (g[2:, :-2] + 2 * g[2:, 1:-1] + g[2:, 2:])
    return np.hypot(gx, gy)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an H x W x 3 image."""
    return np.asarray(rgb, dtype=np.float64) @ np.array([0.299, 0.587, 0.114])


def psnr(a, b, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB between two images of equal shape."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(data_range**2 / mse)


def ssim_rgb(a, b, data_range: float = 1.0) -> float:
    """Mean structural similarity of two HxW or HxWx3 images in [0, data_range].

    :func:`ssim` (Wang et al. 2004, 7x7 window, as
    scikit-image's default) per colour channel, averaged over the channels.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"ssim needs images of equal shape, got {a.shape} and {b.shape}")
    if a.ndim == 2:
        return ssim(a, b, data_range=data_range)
    return float(np.mean([ssim(a[..., c], b[..., c], data_range=data_range) for c in range(a.shape[-1])]))


def bootstrap_interval(values, *, n: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """A percentile bootstrap interval of the mean of ``values`` (resampled with replacement, ``n`` times,
    from ``seed``): (low, high).  One value gives (it, it); none gives (nan, nan)."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return float("nan"), float("nan")
    if v.size == 1:
        return float(v[0]), float(v[0])
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n, v.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    return float(np.percentile(means, tail)), float(np.percentile(means, 100 - tail))


EDGE_BLOCK = 8
"""The edge measure compares maps in blocks of this many pixels a side (a 28 × 28 grid at 224 px)."""


def block_mean(a: np.ndarray, block: int) -> np.ndarray:
    """Mean over non-overlapping ``block`` × ``block`` squares of a 2-D array (a remainder at the far edges
    is dropped)."""
    a = np.asarray(a, dtype=np.float64)
    h, w = a.shape[0] // block * block, a.shape[1] // block * block
    if h == 0 or w == 0:
        raise ValueError(f"block_mean needs at least {block} × {block} pixels, got {a.shape[0]} × {a.shape[1]}")
    return a[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def input_edges(x: np.ndarray) -> np.ndarray:
    """Edge magnitude of a network input (C × H × W, as preprocessed): the sum over its channels of each
    channel's Sobel magnitude, so that colour edges count as the network's first layer sees them."""
    return sum(sobel_magnitude(channel) for channel in np.asarray(x, dtype=np.float64))


def edge_agreement(saliency_map: np.ndarray, x: np.ndarray, block: int = EDGE_BLOCK) -> float:
    """How much a map is "just the edges": the Spearman correlation between the map and the edge magnitude
    of the input ``x`` it explains, both averaged over ``block`` × ``block`` squares first.

    At single pixels a gradient map is dominated by speckle (and the edge magnitude by fine texture), so a
    map that visibly traces the photo's contours still correlates weakly with its edges pixel by pixel;
    averaged over small squares, the comparison is the one the eye makes."""
    edges = input_edges(x)
    if saliency_map.shape != edges.shape:
        raise ValueError(f"edge_agreement: map {saliency_map.shape} and input {edges.shape} differ in size")
    return spearman(block_mean(saliency_map, block), block_mean(edges, block))
