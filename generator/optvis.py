"""Optimising an input image: the machinery behind three chapters.

Pure torch, no drawing, usable on any torchvision CNN.  Three public
functions do the work, all on a batch so that one forward/backward pass
serves many images at once:

* :func:`activation_maximisation` -- images that excite chosen channels of a
  layer (Olah et al. 2017 "Feature Visualization": Fourier parameterisation,
  decorrelated colour, transformation robustness), or the naive pixel-space
  gradient ascent for comparison (``param="pixel"``);
* :func:`class_model` -- Simonyan et al. (2013): maximise an unnormalised class
  score minus an L2 penalty, with jitter and a blur every few steps;
* :func:`invert` -- Mahendran & Vedaldi (2015): reconstruct a photo from one
  layer's features with an alpha-norm and a total-variation prior.

Layers are given as a module, a module name of the model
(``"features.28"``) or, on a torchvision VGG, a name from
:mod:`generator.models` (``"block5_conv3"``).  The forward pass stops at the
target layer: a forward hook records the layer's output and then raises, so
the rest of the network is never run (``truncate=False`` runs it all, for
benchmarks).

Every random choice (initial image, transformations) is drawn from the
``torch.Generator`` passed in, so a call is repeatable bit for bit.
The functions freeze nothing themselves but never ask for parameter
gradients: only the input image requires grad, and hooks are always removed.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

def _source_version() -> str:
    import hashlib
    from pathlib import Path

    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


SOURCE_VERSION = _source_version()
"""Hash of this file: techniques built on it pass it as ``Technique.version``, so that
editing the optimisation code invalidates their cached results."""

# ImageNet statistics of torchvision's VGG16 weights (VGG16_Weights.IMAGENET1K_V1.transforms()).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Square root of the colour-correlation matrix of ImageNet pixels (from its SVD),
# the matrix Lucid uses to decorrelate colour.  Columns are scaled so that the
# largest has unit norm.
_COLOUR_SQRT = torch.tensor([[0.26, 0.09, 0.02],
                             [0.27, 0.00, -0.05],
                             [0.27, -0.09, 0.03]])
COLOUR_CORRELATION = _COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()

# Lucid's transformation robustness, in order.
PAD = 12
JITTER_1 = 8
SCALES = tuple(1 + (i - 5) / 50 for i in range(11))  # 0.90 ... 1.10
ANGLES = tuple(range(-10, 11))  # degrees
JITTER_2 = 4


# =========================================================================== layers and truncation


class _Stop(Exception):
    """Raised by a forward hook once the target layer has run."""


def resolve_layer(model: nn.Module, layer) -> tuple[nn.Module, bool, str]:
    """``(module, rectify, label)`` for a layer given as a module, a module name or a VGG layer name.

    ``rectify`` is True for VGG conv names such as ``"block3_conv3"``: the
    module returned is then the Conv2d and the objective applies the ReLU
    itself (so the ReLU can be skipped during a warm-up).
    """
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError(f"the module {type(layer).__name__} given as layer is not part of the model")
        return layer, False, type(layer).__name__
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a module or a name, got {type(layer).__name__}")
    named = dict(model.named_modules())
    if layer in named and layer != "":
        return named[layer], False, layer
    from generator import models as vgg

    if layer in vgg.LAYERS and _is_vgg16(model):
        if "_conv" in layer:
            return vgg.conv_module(model, layer), True, layer
        return named[vgg.LAYERS[layer]], False, layer
    choices = [n for n in named if n]
    if _is_vgg16(model):
        choices = list(vgg.LAYERS) + choices
    shown = ", ".join(choices[:60]) + (f", … ({len(choices)} in all)" if len(choices) > 60 else "")
    raise ValueError(f"unknown layer {layer!r}; valid layers: {shown}")


def _is_vgg16(model: nn.Module) -> bool:
    feats = getattr(model, "features", None)
    return isinstance(feats, nn.Sequential) and len(feats) == 31 and hasattr(model, "classifier")


def capture(model: nn.Module, modules: Sequence[nn.Module], x: torch.Tensor, *,
            truncate: bool = True) -> list[torch.Tensor]:
    """Outputs of ``modules`` for input ``x``; with ``truncate`` the pass stops once all have run."""
    outs: dict[int, torch.Tensor] = {}
    wanted = {id(m) for m in modules}

    def hook(module, args, output):
        outs[id(module)] = output
        if truncate and wanted <= outs.keys():
            raise _Stop

    handles = [m.register_forward_hook(hook) for m in {id(m): m for m in modules}.values()]
    try:
        with contextlib.suppress(_Stop):
            model(x)
    finally:
        for h in handles:
            h.remove()
    missing = [m for m in modules if id(m) not in outs]
    if missing:
        raise ValueError(f"layer {type(missing[0]).__name__} never ran in the model's forward pass")
    return [outs[id(m)] for m in modules]


# =========================================================================== parameterisations


def normalise(img01: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """[0, 1] RGB to the model's input space."""
    m = torch.tensor(mean, dtype=img01.dtype, device=img01.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=img01.dtype, device=img01.device).view(1, 3, 1, 1)
    return (img01 - m) / s


def denormalise(x: torch.Tensor, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> torch.Tensor:
    """The model's input space back to [0, 1] RGB (not clipped)."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return x * s + m


def spectrum_scale(h: int, w: int, decay_power: float = 1.0) -> torch.Tensor:
    """1/frequency weights for an ``rfft2`` spectrum of an h x w image (h x (w//2+1)).

    The lowest frequency is clamped at 1/max(h, w), so the DC term is not infinite.
    """
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    freq = torch.sqrt(fx * fx + fy * fy)
    return 1.0 / freq.clamp_min(1.0 / max(h, w)) ** decay_power


class FourierImage(nn.Module):
    """A batch of images held as scaled Fourier coefficients with decorrelated colour.

    ``forward()`` returns the images in [0, 1]: inverse real FFT of the
    coefficients times 1/frequency, then the 3x3 colour-correlation matrix,
    then a sigmoid.  Gradient steps on the coefficients change all
    frequencies at a comparable rate, which is what keeps the high-frequency
    noise of pixel-space ascent away.
    """

    def __init__(self, batch: int, size: int | tuple[int, int], *, sd: float = 0.01,
                 decay_power: float = 1.0, decorrelate: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        h, w = (size, size) if isinstance(size, int) else size
        self.h, self.w, self.decorrelate = h, w, decorrelate
        init = torch.randn(batch, 3, h, w // 2 + 1, 2, generator=generator) * sd
        self.spectrum = nn.Parameter(init)
        self.register_buffer("scale", spectrum_scale(h, w, decay_power)[None, None, :, :, None])

    def forward(self) -> torch.Tensor:
        coeffs = torch.view_as_complex((self.spectrum * self.scale).contiguous())
        img = torch.fft.irfft2(coeffs, s=(self.h, self.w), norm="ortho") / 4.0
        if self.decorrelate:
            img = torch.einsum("bchw,dc->bdhw", img, COLOUR_CORRELATION.to(img))
        return torch.sigmoid(img)


class PixelImage(nn.Module):
    """A batch of images held directly as pixels in the model's input space (the naive way)."""

    def __init__(self, batch: int, size: int, *, sd: float = 0.1, generator: torch.Generator | None = None):
        super().__init__()
        grey = normalise(torch.full((1, 3, size, size), 0.5))
        self.pixels = nn.Parameter(grey + sd * torch.randn(batch, 3, size, size, generator=generator))

    def forward(self) -> torch.Tensor:
        return denormalise(self.pixels)


# =========================================================================== transformations


def _randint(n: int, high: int, generator) -> list[int]:
    return torch.randint(0, high, (n,), generator=generator).tolist()


def pad(x: torch.Tensor, width: int = PAD, value: float = 0.5) -> torch.Tensor:
    return F.pad(x, (width,) * 4, mode="constant", value=value)


def jitter(x: torch.Tensor, d: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Crop each image to (H-d) x (W-d) at its own random offset in [0, d)."""
    if d <= 0:
        return x
    n, _, h, w = x.shape
    oy, ox = _randint(n, d, generator), _randint(n, d, generator)
    return torch.stack([x[i, :, oy[i]:oy[i] + h - d, ox[i]:ox[i] + w - d] for i in range(n)])


def scale_rotate(x: torch.Tensor, scales: Sequence[float] = SCALES, angles: Sequence[float] = ANGLES,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """Scale each image by a factor from ``scales``, then rotate it by an angle (degrees) from ``angles``.

    Both happen in one bilinear resampling about the centre, at a fixed output
    size (so the batch stays one tensor); pixels from outside repeat the border.
    """
    n = x.shape[0]
    s = torch.tensor(scales, dtype=x.dtype)[torch.randint(0, len(scales), (n,), generator=generator)]
    a = torch.tensor(angles, dtype=x.dtype)[torch.randint(0, len(angles), (n,), generator=generator)]
    a = a * (math.pi / 180)
    cos, sin = torch.cos(a) / s, torch.sin(a) / s  # output -> input coordinates: inverse of R·S
    theta = torch.stack([torch.stack([cos, sin, torch.zeros_like(s)], 1),
                         torch.stack([-sin, cos, torch.zeros_like(s)], 1)], 1).to(x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def robustness(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Lucid's standard transformations: pad 12 (grey) -> jitter 8 -> scale 0.9-1.1 -> rotate ±10° -> jitter 4."""
    x = pad(x, PAD, 0.5)
    x = jitter(x, JITTER_1, generator)
    x = scale_rotate(x, SCALES, ANGLES, generator)
    return jitter(x, JITTER_2, generator)


def roll_jitter(x: torch.Tensor, d: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each image circularly by its own random offset in [-d, d] pixels (keeps the size)."""
    if d <= 0:
        return x
    n = x.shape[0]
    dy = [v - d for v in _randint(n, 2 * d + 1, generator)]
    dx = [v - d for v in _randint(n, 2 * d + 1, generator)]
    return torch.stack([torch.roll(x[i], (dy[i], dx[i]), dims=(1, 2)) for i in range(n)])


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Per-channel Gaussian blur with reflect padding (radius 2 sigma, at least 1)."""
    if sigma <= 0:
        return x
    r = max(1, int(math.ceil(2 * sigma)))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-t * t / (2 * sigma * sigma))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


# =========================================================================== regularisers and metrics


def total_variation(x: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """Per-image mean of ((dx)² + (dy)²)^(β/2) over the pixels (forward differences)."""
    dx = x[:, :, :-1, 1:] - x[:, :, :-1, :-1]
    dy = x[:, :, 1:, :-1] - x[:, :, :-1, :-1]
    sq = (dx * dx + dy * dy).sum(1)
    tv = sq if beta == 2 else (sq + 1e-8).pow(beta / 2)
    return tv.flatten(1).mean(1)


def alpha_norm(x: torch.Tensor, alpha: float = 6.0) -> torch.Tensor:
    """Per-image mean of |x|^α over pixels and channels."""
    return x.abs().pow(alpha).flatten(1).mean(1)


def psnr(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB between two images of equal shape."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10 * math.log10(data_range ** 2 / mse)


def ssim(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor, data_range: float = 1.0) -> float:
    """Mean structural similarity of two HxW or HxWx3 images in [0, data_range].

    :func:`generator.metrics.ssim` (Wang et al. 2004, 7x7 window, as
    scikit-image's default) per colour channel, averaged over the channels.
    """
    from generator.metrics import ssim as ssim2d

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"ssim needs images of equal shape, got {a.shape} and {b.shape}")
    if a.ndim == 2:
        return ssim2d(a, b, data_range=data_range)
    return float(np.mean([ssim2d(a[..., c], b[..., c], data_range=data_range) for c in range(a.shape[-1])]))


# =========================================================================== results


@dataclass
class OptResult:
    """What an optimisation returns.

    ``images``: Bx3xHxW in [0, 1] (detached, on the CPU); ``history``: the
    objective (for inversion: the loss) of every image at every step, steps x B;
    ``final``: the objective of the final, untransformed images; ``extra``:
    method-specific numbers.
    """

    images: torch.Tensor
    history: torch.Tensor
    final: torch.Tensor
    extra: dict = field(default_factory=dict)


def _channel_objective(out: torch.Tensor, channels: torch.Tensor, rectify: bool) -> torch.Tensor:
    if rectify:
        out = F.relu(out)
    idx = torch.arange(out.shape[0], device=out.device)
    picked = out[idx, channels.to(out.device)]
    return picked.flatten(1).mean(1) if picked.ndim > 1 else picked


@contextlib.contextmanager
def flush_denormals():
    """Treat denormal floats as zero while optimising (restored afterwards).

    Gradients of normalised losses reach the 1e-38 range deep in the
    backward pass; on a CPU every denormal operand costs a microcode assist,
    which made inversion 3x slower here.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def _autocast(enabled: bool, device: torch.device):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


# =========================================================================== activation maximisation


@flush_denormals()
def activation_maximisation(model: nn.Module, layer, channels: Sequence[int], *, steps: int = 256,
                            size: int = 128, lr: float = 0.05, param: str = "fourier",
                            transforms: bool | None = None, decorrelate: bool = True, relu_warmup: int = 16,
                            generator: torch.Generator | None = None, seed: int = 0,
                            truncate: bool = True, channels_last: bool = False, bf16: bool = False,
                            record_every: int = 1) -> OptResult:
    """Images that maximise the mean activation of ``channels`` of ``layer``, one image per channel.

    All channels are optimised together as one batch (image i targets
    ``channels[i]``; repeat a channel to get several images of it).

    ``param="fourier"`` (default): Fourier parameterisation with 1/f scaling,
    init sd 0.01, decorrelated colour and a sigmoid, Adam at ``lr`` and
    Lucid's transformation robustness.  ``param="pixel"``: the naive method
    (plain pixel-space gradient ascent from grey plus a little noise, steps of
    ``lr`` times the RMS-normalised gradient, no transformations).

    For VGG conv names (``"block4_conv3"``) the objective is the rectified
    channel mean, but for the first ``relu_warmup`` steps the ReLU is skipped
    so that a unit that starts dead still gets a gradient (as Lucid does).
    ``truncate=False`` runs the whole network (for benchmarks).
    ``channels_last``/``bf16`` change memory layout and precision (autocast).
    """
    module, rectify, label = resolve_layer(model, layer)
    n_out = _out_channels(module)
    chans = torch.as_tensor(list(channels), dtype=torch.long)
    if chans.numel() == 0:
        raise ValueError("channels is empty; give at least one channel index")
    if n_out is not None and (int(chans.min()) < 0 or int(chans.max()) >= n_out):
        raise ValueError(f"channel out of range for {label}: valid channels are 0..{n_out - 1}")
    if param not in ("fourier", "pixel"):
        raise ValueError(f"unknown param {param!r}; valid: fourier, pixel")
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    device = _device_of(model)
    n = len(chans)
    transforms = (param == "fourier") if transforms is None else transforms
    if param == "fourier":
        image = FourierImage(n, size, decorrelate=decorrelate, generator=gen).to(device)
        opt = torch.optim.Adam(image.parameters(), lr=lr)
    else:
        image = PixelImage(n, size, generator=gen).to(device)
        opt = None
    history = []
    for step in range(steps):
        img = image()
        if transforms:
            img = robustness(img, gen)
        x = normalise(img)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(bf16, device):
            (out,) = capture(model, [module], x, truncate=truncate)
        obj = _channel_objective(out.float(), chans, rectify and step >= relu_warmup)
        if opt is not None:
            opt.zero_grad(set_to_none=True)
            (-obj.sum()).backward()
            opt.step()
        else:
            (g,) = torch.autograd.grad(obj.sum(), [image.pixels])
            rms = g.pow(2).flatten(1).mean(1).sqrt().clamp_min(1e-12).view(-1, 1, 1, 1)
            with torch.no_grad():
                image.pixels.add_(lr * g / rms)
        if step % record_every == 0 or step == steps - 1:
            history.append(obj.detach().float().cpu())
    with torch.no_grad():
        final_img = image().detach()
        (out,) = capture(model, [module], normalise(final_img), truncate=True)
        final = _channel_objective(out.float(), chans, rectify).cpu()
    return OptResult(final_img.clamp(0, 1).cpu(), torch.stack(history), final,
                     {"layer": label, "channels": chans.tolist()})


def _out_channels(module: nn.Module) -> int | None:
    for attr in ("out_channels", "out_features", "num_features"):
        if hasattr(module, attr):
            return int(getattr(module, attr))
    return None


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# =========================================================================== class model


@flush_denormals()
def class_model(model: nn.Module, classes: Sequence[int], *, steps: int = 200, size: int = 224,
                lr: float = 0.1, l2: float = 0.01, jitter: int = 4, blur_every: int = 4,
                blur_sigma: float = 0.5, generator: torch.Generator | None = None, seed: int = 0,
                n_classes: int | None = None) -> OptResult:
    """Simonyan et al. (2013): images that maximise the unnormalised score of each class in ``classes``.

    The objective of image I for class c is S_c(I) - l2 * ||I||² / N, with
    S_c the pre-softmax score (the model's output), I in the model's
    (normalised) input space and N its number of values.  Each step jitters
    the images by up to ``jitter`` pixels and moves them by ``lr`` times the
    RMS-normalised gradient; every ``blur_every`` steps they are blurred
    (Gaussian, ``blur_sigma`` px) and clipped to the valid pixel range.
    Starts from a grey image plus a little noise.  ``extra`` holds the start
    and final target scores, the final best other class and the target's
    softmax probability.
    """
    chans = torch.as_tensor(list(classes), dtype=torch.long)
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    device = _device_of(model)
    n = len(chans)
    if n == 0:
        raise ValueError("classes is empty; give at least one class index")
    pixels = PixelImage(n, size, sd=0.05, generator=gen).pixels.detach().to(device)
    lo = normalise(torch.zeros(1, 3, 1, 1)).to(device)
    hi = normalise(torch.ones(1, 3, 1, 1)).to(device)
    idx = torch.arange(n, device=device)

    def scores(x):
        out = model(x)
        if out.ndim != 2:
            raise ValueError(f"class_model needs a classifier with (batch, classes) outputs, got {tuple(out.shape)}")
        return out

    with torch.no_grad():
        start_logits = scores(pixels)
    k = start_logits.shape[1] if n_classes is None else n_classes
    if int(chans.min()) < 0 or int(chans.max()) >= k:
        raise ValueError(f"class index out of range: valid classes are 0..{k - 1}")
    history = []
    for step in range(steps):
        x = pixels.clone().requires_grad_(True)
        xj = roll_jitter(x, jitter, gen)
        target = scores(xj)[idx, chans.to(device)]
        obj = target - l2 * x.pow(2).flatten(1).mean(1)
        (g,) = torch.autograd.grad(obj.sum(), [x])
        rms = g.pow(2).flatten(1).mean(1).sqrt().clamp_min(1e-12).view(-1, 1, 1, 1)
        with torch.no_grad():
            pixels = pixels + lr * g / rms
            if blur_every and (step + 1) % blur_every == 0:
                pixels = gaussian_blur(pixels, blur_sigma)
            pixels = torch.maximum(torch.minimum(pixels, hi), lo)
        history.append(target.detach().cpu())
    with torch.no_grad():
        logits = scores(pixels).float().cpu()
    final = logits[torch.arange(n), chans]
    others = logits.clone()
    others[torch.arange(n), chans] = -float("inf")
    extra = {
        "start": start_logits.float().cpu()[torch.arange(n), chans].tolist(),
        "final": final.tolist(),
        "best_other": others.max(1).values.tolist(),
        "best_other_index": others.argmax(1).tolist(),
        "rank": [int((logits[i] > logits[i, c]).sum()) + 1 for i, c in enumerate(chans.tolist())],
        "prob": torch.softmax(logits.double(), 1)[torch.arange(n), chans].tolist(),
    }
    return OptResult(denormalise(pixels).clamp(0, 1).cpu(), torch.stack(history), final, extra)


# =========================================================================== inversion


@flush_denormals()
def invert(model: nn.Module, layer, x: torch.Tensor, *, steps: int = 200, lr: float = 0.05,
           lr_end: float = 0.005, alpha: float = 6.0, lambda_alpha: float = 1e-3, beta: float = 2.0,
           lambda_tv: float | Sequence[float] = 1.0, bound: float = 2.0, init_sd: float = 0.1,
           generator: torch.Generator | None = None, seed: int = 0) -> OptResult:
    """Mahendran & Vedaldi (2015): reconstruct ``x`` (Bx3xHxW, model input space) from a layer's features.

    ``layer`` is one layer for the whole batch or a list with one layer per
    image (so that reconstructions from several layers share one batch).
    Minimises, per image,

        ||Φ(y) − Φ(x)||² / ||Φ(x)||²  +  λ_α · mean(|y / B|^α)  +  λ_TV · mean(TV_β(y)) / V^β

    with B = ``bound`` (about the largest pixel magnitude in input space) and
    V = B / 6.5, by Adam with a learning rate falling geometrically from
    ``lr`` to ``lr_end``, from small random noise.  On a torchvision VGG with
    several layers the forward pass of ``model.features`` drops each image
    from the batch once its layer is reached.  ``extra`` holds the final
    feature-space relative error ||Φ(y) − Φ(x)|| / ||Φ(x)|| per image.
    """
    b = x.shape[0]
    layers = list(layer) if isinstance(layer, (list, tuple)) else [layer] * b
    if len(layers) != b:
        raise ValueError(f"{len(layers)} layers for {b} images; give one layer, or one per image")
    lam_tv = torch.as_tensor(list(lambda_tv) if isinstance(lambda_tv, (list, tuple)) else [lambda_tv] * b,
                             dtype=torch.float32)
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    device = _device_of(model)
    x = x.to(device)
    feats_fn = _feature_fn(model, layers)
    with torch.no_grad():
        target = [t.detach() for t in feats_fn(x)]
    t_norm = torch.stack([t.pow(2).sum() for t in target]).clamp_min(1e-12)
    y = (init_sd * torch.randn(x.shape, generator=gen)).to(device).requires_grad_(True)
    opt = torch.optim.Adam([y], lr=lr)
    gamma = (lr_end / lr) ** (1 / max(1, steps - 1))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
    v = bound / 6.5
    history = []
    lam_tv = lam_tv.to(device)
    for _ in range(steps):
        feats = feats_fn(y)
        rel = torch.stack([(f - t).pow(2).sum() for f, t in zip(feats, target)]) / t_norm
        loss = rel + lambda_alpha * alpha_norm(y / bound, alpha) + lam_tv * total_variation(y, beta) / v ** beta
        opt.zero_grad(set_to_none=True)
        loss.sum().backward()
        opt.step()
        sched.step()
        history.append(loss.detach().cpu())
    with torch.no_grad():
        feats = feats_fn(y)
        rel = torch.stack([((f - t).pow(2).sum() / tn).sqrt() for f, t, tn in zip(feats, target, t_norm)])
    return OptResult(denormalise(y.detach()).clamp(0, 1).cpu(), torch.stack(history), rel.cpu(),
                     {"relative_error": rel.cpu().tolist()})


def _feature_fn(model: nn.Module, layers: list) -> Callable[[torch.Tensor], list[torch.Tensor]]:
    """A function mapping a batch to one feature tensor per image (image i at ``layers[i]``)."""
    from generator import models as vgg

    if _is_vgg16(model) and all(isinstance(l, str) and l in vgg.FEATURE_LAYERS for l in layers):
        cut = [vgg.feature_index(l) for l in layers]
        return lambda x: progressive(model.features, x, cut)
    resolved = [resolve_layer(model, l) for l in layers]
    modules = [m for m, _, _ in resolved]
    rect = [r for _, r, _ in resolved]
    unique = list({id(m): m for m in modules}.values())

    def fn(x):
        outs = dict(zip([id(m) for m in unique], capture(model, unique, x)))
        res = []
        for i, (m, r) in enumerate(zip(modules, rect)):
            o = outs[id(m)][i:i + 1]
            res.append(F.relu(o) if r else o)
        return res

    return fn


def progressive(seq: nn.Sequential, x: torch.Tensor, cut: Sequence[int], drop: bool = True) -> list[torch.Tensor]:
    """Run ``seq`` on a batch, taking image i's output after module ``cut[i]`` and dropping it from the batch.

    Images whose layer is shallow stop early, so a batch of reconstructions
    from several depths costs little more than the deepest one alone.
    """
    order = sorted(range(len(cut)), key=lambda i: cut[i])
    out: list[torch.Tensor | None] = [None] * len(cut)
    alive = order  # indices of x still in the running batch, in batch order
    h = x[torch.tensor(alive, device=x.device)]
    pos = 0
    for j, module in enumerate(seq):
        h = module(h)
        done = [k for k, i in enumerate(alive) if cut[i] == j]
        if done:
            for k in done:
                out[alive[k]] = h[k:k + 1]
            if not drop:
                if j == max(cut):
                    break
                continue
            for k in done:
                out[alive[k]] = h[k:k + 1]
            keep = [k for k in range(len(alive)) if k not in done]
            if not keep:
                break
            alive = [alive[k] for k in keep]
            h = h[torch.tensor(keep, device=h.device)]
        pos = j
    del pos
    return out  # type: ignore[return-value]
