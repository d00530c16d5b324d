"""Does deleting what a map ranks first destroy the class?  Deletion and insertion curves (Petsiuk et al.,
2018, RISE).

A map ranks the pixels (most relevant first; ties in reading order).  **Deletion** replaces them, in that
order and in ``steps`` equal portions, with a blurred copy of the photo, and records the class's softmax
probability after each portion: a faithful map makes it fall fast (a low area under the curve).
**Insertion** starts from the blurred copy and restores the photo's pixels in the same order: a faithful
map makes it rise fast (a high area).  The blurred copy, not black, is what "removed" means here: it keeps
the colours and drops the detail, so the network is not asked about an image unlike any photo.

Two rankings that know nothing of the network are the yardsticks: a random one, and a Sobel edge map of
the photo (Adebayo et al., 2018: an edge detector can look like a convincing explanation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generator.lib.integrated import BLUR_SIGMA, _batch
from generator.lib.layers import device_of, prepared
from generator.lib.optvis.transforms import gaussian_blur


@dataclass(frozen=True)
class Curve:
    """One deletion or insertion curve: the class probability after each step (``steps + 1`` values, the
    first before anything changed) and the area under it, over a fraction of pixels from 0 to 1."""

    kind: str  # "deletion" or "insertion"
    probs: np.ndarray
    auc: float


def ranking(saliency) -> np.ndarray:
    """Pixel indices (row-major) from most to least relevant; equal values keep reading order."""
    s = np.asarray(saliency, dtype=np.float64)
    if s.ndim != 2 or s.size == 0:
        raise ValueError(f"a saliency map must be a non-empty H x W array, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("the saliency map holds NaN or infinite values")
    return np.argsort(-s.ravel(), kind="stable")


def auc(probs: np.ndarray) -> float:
    """Area under a curve sampled at equal steps over [0, 1] (the trapezoid rule)."""
    p = np.asarray(probs, dtype=np.float64)
    if len(p) < 2:
        raise ValueError("a curve needs at least two points (steps >= 1)")
    return float(((p[1:] + p[:-1]) / 2).mean())


def _changed(order: torch.Tensor, n: int, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """``start`` with its first ``n`` pixels of ``order`` taken from ``end`` (1 x C x H x W)."""
    h, w = start.shape[-2:]
    keep = torch.zeros(h * w, dtype=torch.bool, device=start.device)
    keep[order[:n]] = True
    return torch.where(keep.view(1, 1, h, w), end, start)


def curves(
    model: nn.Module,
    x,
    maps: dict,
    target: int,
    *,
    steps: int = 16,
    blur_sigma=None,
    batch_size: int = 32,
    kinds: tuple[str, ...] = ("deletion", "insertion"),
    channels_last: bool = False,
) -> dict[str, dict[str, Curve]]:
    """The deletion and insertion curves of several maps of one photo: ``{name: {kind: Curve}}``.

    Every curve of the photo starts and ends at the same two images (the photo and its blurred copy), so
    those two are scored once for all of them; the images between, of every map and kind, go through the
    network together, ``batch_size`` at a time (a few large batches, not one small one per curve).
    ``channels_last`` runs the convolutions channels-last (faster with oneDNN on a CPU; the last bits of a
    probability may differ)."""
    if steps < 1:
        raise ValueError(f"a curve needs steps >= 1, got {steps}")
    x = _batch(x)[:1].detach().to(device_of(model))
    h, w = x.shape[-2:]
    orders = {}
    for name, saliency in maps.items():
        orders[name] = torch.as_tensor(ranking(saliency), device=x.device)
        if np.shape(saliency) != (h, w):
            raise ValueError(f"the saliency map {name!r} is {np.shape(saliency)}, the image {h} x {w}: they must match")
    sigma = BLUR_SIGMA * max(h, w) if blur_sigma is None else blur_sigma
    blurred = gaussian_blur(x, sigma)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    counts = [round(k * h * w / steps) for k in range(steps + 1)]
    jobs = [(name, kind, n) for name in orders for kind in kinds for n in counts[1:-1]]
    probs: list[float] = []
    with torch.no_grad(), prepared(model, channels_last):

        def scored(images: list[torch.Tensor]) -> list[float]:
            batch = torch.cat(images).contiguous(memory_format=fmt)
            return F.softmax(model(batch).double(), dim=1)[:, int(target)].cpu().tolist()

        photo, blur = scored([x, blurred])
        for i in range(0, len(jobs), batch_size):
            images = []
            for name, kind, n in jobs[i : i + batch_size]:
                start, end = (x, blurred) if kind == "deletion" else (blurred, x)
                images.append(_changed(orders[name], n, start, end))
            probs.extend(scored(images))
    out: dict[str, dict[str, Curve]] = {name: {} for name in orders}
    inner = iter(probs)
    for name in orders:
        for kind in kinds:
            middle = [next(inner) for _ in counts[1:-1]]
            values = np.asarray([photo, *middle, blur] if kind == "deletion" else [blur, *middle, photo])
            out[name][kind] = Curve(kind, values, auc(values))
    return out


def _curve(
    kind: str,
    model: nn.Module,
    x,
    saliency,
    target: int,
    *,
    steps: int = 16,
    blur_sigma=None,
    batch_size: int = 17,
    ends: tuple[float, float] | None = None,
) -> Curve:
    if steps < 1:
        raise ValueError(f"a {kind} curve needs steps >= 1, got {steps}")
    x = _batch(x)[:1].detach().to(device_of(model))
    h, w = x.shape[-2:]
    order = torch.as_tensor(ranking(saliency), device=x.device)
    if order.numel() != h * w:
        raise ValueError(f"the saliency map is {np.shape(saliency)}, the image {h} x {w}: they must match")
    sigma = BLUR_SIGMA * max(h, w) if blur_sigma is None else blur_sigma
    blurred = gaussian_blur(x, sigma)
    start, end = (x, blurred) if kind == "deletion" else (blurred, x)
    counts = [round(k * h * w / steps) for k in range(steps + 1)]
    # With ``ends`` (the photo's and the blurred copy's probabilities, from :func:`end_points`) only the
    # steps between are computed; :func:`curves` does this for many maps at once.
    inner = counts[1:-1] if ends is not None else counts
    probs = []
    with torch.no_grad(), prepared(model):
        for i in range(0, len(inner), batch_size):
            images = [_changed(order, n, start, end) for n in inner[i : i + batch_size]]
            out = F.softmax(model(torch.cat(images)).double(), dim=1)[:, int(target)]
            probs.extend(out.cpu().tolist())
    if ends is not None:
        photo, blur = ends
        probs = [photo, *probs, blur] if kind == "deletion" else [blur, *probs, photo]
    values = np.asarray(probs)
    return Curve(kind, values, auc(values))


def end_points(model: nn.Module, x, target: int, *, blur_sigma=None) -> tuple[float, float]:
    """The class probability on the photo and on its blurred copy: where every deletion curve starts and
    ends (and every insertion curve ends and starts). Pass them as ``ends=`` to skip both per curve."""
    x = _batch(x)[:1].detach().to(device_of(model))
    sigma = BLUR_SIGMA * max(x.shape[-2:]) if blur_sigma is None else blur_sigma
    with torch.no_grad(), prepared(model):
        out = F.softmax(model(torch.cat([x, gaussian_blur(x, sigma)])).double(), dim=1)[:, int(target)]
    photo, blur = out.cpu().tolist()
    return photo, blur


def deletion_curve(model: nn.Module, x, saliency, target: int, **options) -> Curve:
    """The class probability as the map's pixels, most relevant first, are replaced by the blurred photo.

    ``options``: ``steps`` (16), ``blur_sigma`` (None: 5 % of the side), ``batch_size`` (17), ``ends`` (None,
    or the photo's and the blurred copy's probabilities from :func:`end_points`, shared by every curve).
    For many maps of one photo, :func:`curves` batches them together."""
    return _curve("deletion", model, x, saliency, target, **options)


def insertion_curve(model: nn.Module, x, saliency, target: int, **options) -> Curve:
    """The class probability as the photo's pixels, most relevant first, are restored into the blurred photo
    (``options`` as for :func:`deletion_curve`)."""
    return _curve("insertion", model, x, saliency, target, **options)


def random_map(shape: tuple[int, int], seed: int) -> np.ndarray:
    """A ranking that knows nothing: uniform noise of ``shape`` from ``seed``."""
    return np.random.default_rng(seed).random(shape)


def sobel_map(image: np.ndarray) -> np.ndarray:
    """The Sobel gradient magnitude of an H x W x 3 image's luminance: an edge detector posing as an
    explanation (the same edge map the sanity checks compare every method with)."""
    from generator.lib.metrics import luminance, sobel_magnitude

    return sobel_magnitude(luminance(image))
