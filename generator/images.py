"""The input photos: finding them, reading them safely, and preparing them for VGG16.

Three layers, each usable on its own:

* :func:`discover` (from :mod:`generator.discovery`) lists the photos in a folder, gives each a stable id
  and attaches its entry from ``CREDITS.toml`` (read by :func:`load_credits`).
* :func:`load_rgb` turns one file into a plain 8-bit RGB :class:`PIL.Image.Image`,
  or raises :class:`ImageError` with a one-line message saying what is wrong
  and what to do about it. Any bad file ends there, never as a traceback.
* :func:`prepare` applies exactly the preprocessing of torchvision's
  ``VGG16_Weights.IMAGENET1K_V1`` and also keeps the pixels the network sees.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.models import VGG16_Weights
from torchvision.transforms import functional as TF

from generator.credits import CREDITS_FILE, Credit, load_credits  # noqa: F401  (part of this module's API)
from generator.discovery import IMAGE_SUFFIXES, SourceImage, discover  # noqa: F401  (part of this module's API)
from generator.errors import ImageError
from generator.errors import one_line as _one_line
from generator.photo_ids import MAX_ID, slug, unique_ids  # noqa: F401  (part of this module's API)

MIN_SIDE = 32
"""Shorter side, in pixels, below which an image is refused."""

MAX_PIXELS = 180_000_000
"""Images with more pixels than this are refused as possible decompression bombs: above any camera's sensor
(phones reach 48 to 200 megapixels in binned modes, but save 12 to 50), far below what fills memory."""

_WEIGHTS = VGG16_Weights.IMAGENET1K_V1
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


@dataclass(frozen=True, eq=False)
class Prepared:
    """An image ready for VGG16.

    ``seen`` is the resized, centre-cropped image as HxWx3 float32 in [0, 1]:
    exactly what the model looks at, before normalisation. ``tensor`` is the
    same pixels normalised with the weights' mean and std, shaped 1x3xHxW.
    """

    seen: np.ndarray
    tensor: torch.Tensor


@contextlib.contextmanager
def _pillow_limit(max_pixels: int):
    """Pillow's own bomb check (a warning above ``Image.MAX_IMAGE_PIXELS``, an error above twice that) set to
    this loader's limit for the call, so that it neither refuses a 48-megapixel photo at its default of about 89
    million nor lets through what ours refuses."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def load_rgb(path: Path, *, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """Read an image file as an 8-bit RGB image, upright as the camera meant it.

    * EXIF orientation is applied.
    * Transparency (RGBA, LA, PA, or P/L/RGB with a transparent colour) is
      composited over white.
    * ``I;16`` is divided by 257. ``I`` holding 0..65535 is treated the same way;
      other ``I`` data is stretched from its own minimum to maximum. ``F`` in
      [0, 1] is multiplied by 255; other ``F`` data is stretched likewise.
    * CMYK, YCbCr, L, P and 1 are converted to RGB.
    * Animated or multi-page files give their first frame.

    Raises :class:`ImageError` for a missing, empty, unreadable, truncated or
    corrupt file, for an image whose shorter side is below ``min_side``, and
    for one with more than ``max_pixels`` pixels (checked from the header,
    before any decoding).
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError(path, "the file is empty (0 bytes)", "Replace it with a real image or delete it.")
    except FileNotFoundError:
        raise ImageError(path, "the file does not exist", "Check the path.") from None
    except OSError as exc:
        raise ImageError(path, f"the file cannot be read ({exc.strerror or exc})", "Check its permissions.") from None

    too_big = "Shrink the image (for example to 2000 px on the longer side) and try again."
    bomb = f"too many pixels (over twice the limit of {max_pixels:,}), refused as a possible decompression bomb"
    with warnings.catch_warnings(), _pillow_limit(max_pixels):
        # Pillow warns above the limit and raises above twice it; the size check below words the first case
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError:
            raise ImageError(path, bomb, too_big) from None
        except Image.UnidentifiedImageError:
            raise ImageError(
                path, "not a recognised image file", "Replace it with a JPEG or PNG, or delete it."
            ) from None
        except Exception as exc:  # noqa: BLE001 - any failure here is a bad file
            raise ImageError(path, f"could not be opened ({_describe(exc)})", "Replace it or delete it.") from None

        with im:
            width, height = im.size
            if width * height > max_pixels:
                raise ImageError(
                    path,
                    f"{width}x{height} is {width * height:,} pixels, more than the limit of {max_pixels:,} "
                    "(possible decompression bomb)",
                    too_big,
                )
            if min(width, height) < min_side:
                raise ImageError(
                    path,
                    f"{width}x{height} is too small (shorter side under {min_side} px)",
                    f"Use a photo at least {min_side} px on each side.",
                )
            try:
                im.load()
            except Image.DecompressionBombError:
                raise ImageError(path, bomb, too_big) from None
            except Exception as exc:  # noqa: BLE001 - truncated or corrupt data raises many kinds
                raise ImageError(
                    path, f"the image data is truncated or corrupt ({_describe(exc)})", "Re-export or re-download it."
                ) from None
            try:
                upright = ImageOps.exif_transpose(im)
            except Exception:  # noqa: BLE001 - a broken EXIF block should not cost us the photo
                upright = im.copy()
            return _to_rgb(upright if upright is not None else im, path)


def _to_rgb(im: Image.Image, path: Path) -> Image.Image:
    """Convert any decoded Pillow image to 8-bit RGB (alpha over white)."""
    mode = im.mode
    if mode.startswith("I;16"):
        grey = np.asarray(im, dtype=np.float64) / 257.0
        return Image.fromarray(_to_uint8(grey), mode="L").convert("RGB")
    if mode in {"I", "F"}:
        values = np.nan_to_num(np.asarray(im, dtype=np.float64))
        top = 65535.0 if mode == "I" else 1.0
        lo, hi = float(values.min()), float(values.max())
        if lo >= 0 and hi <= top:
            grey = values * (255.0 / top)
        elif hi > lo:
            grey = (values - lo) * (255.0 / (hi - lo))
        else:
            grey = np.zeros_like(values)
        return Image.fromarray(_to_uint8(grey), mode="L").convert("RGB")
    if mode in _ALPHA_MODES or "transparency" in im.info:
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":
        return im.copy()
    try:
        return im.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageError(
            path,
            f"the colour mode {mode} cannot be converted to RGB ({_describe(exc)})",
            "Save it as an RGB JPEG or PNG.",
        ) from None


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _describe(exc: BaseException) -> str:
    text = _one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- preprocessing


@functools.cache
def preprocessing_params() -> tuple[tuple[float, float, float], tuple[float, float, float], float]:
    """``(mean, std, resize_ratio)`` of the VGG16 ImageNet weights, read from torchvision.

    ``resize_ratio`` is resize size over crop size (256/224). Nothing is downloaded.
    """
    t = _WEIGHTS.transforms()
    mean = tuple(float(v) for v in t.mean)
    std = tuple(float(v) for v in t.std)
    return mean, std, t.resize_size[0] / t.crop_size[0]  # type: ignore[return-value]


def prepare(img: Image.Image, crop_size: int = 224) -> Prepared:
    """Resize the shorter side to ``round(crop_size * 256 / 224)``, centre-crop to
    ``crop_size``, scale to [0, 1] and normalise, as torchvision's preset does.

    ``img`` must be RGB (use :func:`load_rgb`). With ``crop_size=224`` the tensor
    equals ``VGG16_Weights.IMAGENET1K_V1.transforms()(img).unsqueeze(0)``.
    """
    if img.mode != "RGB":
        raise ValueError(f"prepare() needs an RGB image, got mode {img.mode}; load it with load_rgb()")
    if crop_size < 1:
        raise ValueError(f"crop_size must be positive, got {crop_size}")
    mean, std, ratio = preprocessing_params()
    preset = _WEIGHTS.transforms()
    resized = TF.resize(img, [round(crop_size * ratio)], interpolation=preset.interpolation, antialias=preset.antialias)
    cropped = TF.center_crop(resized, [crop_size])
    pixels = TF.convert_image_dtype(TF.pil_to_tensor(cropped), torch.float)
    seen = pixels.permute(1, 2, 0).numpy().copy()
    tensor = TF.normalize(pixels, mean=list(mean), std=list(std)).unsqueeze(0)
    return Prepared(seen=seen, tensor=tensor)
