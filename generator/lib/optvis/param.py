"""Image parameterisations: what the optimiser actually changes.

:class:`FourierImage` (Olah et al. 2017, Lucid's default): scaled Fourier
coefficients with 1/frequency weights, decorrelated colour and a sigmoid.
:class:`PixelImage`: the pixels themselves, in the model's input space (the
naive way, and the class-model start).
"""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import VGG16_Weights

# ImageNet statistics of torchvision's VGG16 weights, from the weights' own preprocessing.
_PRESET = VGG16_Weights.IMAGENET1K_V1.transforms()
IMAGENET_MEAN = tuple(_PRESET.mean)
IMAGENET_STD = tuple(_PRESET.std)

# Square root of the colour-correlation matrix of ImageNet pixels (from its SVD),
# the matrix Lucid uses to decorrelate colour.  Columns are scaled so that the
# largest has unit norm.
_COLOUR_SQRT = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
COLOUR_CORRELATION = _COLOUR_SQRT / _COLOUR_SQRT.norm(dim=0).max()


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

    def __init__(
        self,
        batch: int,
        size: int | tuple[int, int],
        *,
        sd: float = 0.01,
        decay_power: float = 1.0,
        decorrelate: bool = True,
        generator: torch.Generator | None = None,
    ):
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
