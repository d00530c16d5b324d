"""The input photos: finding them, reading them safely, and preparing them for VGG16.

Three layers, each usable on its own:

* :func:`discover` lists the photos in a folder, gives each a stable id and
  attaches its entry from ``CREDITS.toml`` (read by :func:`load_credits`).
* :func:`load_rgb` turns one file into a plain 8-bit RGB :class:`PIL.Image.Image`,
  or raises :class:`ImageError` with a one-line message saying what is wrong
  and what to do about it. Any bad file ends there, never as a traceback.
* :func:`prepare` applies exactly the preprocessing of torchvision's
  ``VGG16_Weights.IMAGENET1K_V1`` and also keeps the pixels the network sees.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.models import VGG16_Weights
from torchvision.transforms import functional as TF

from generator.credits import CREDITS_FILE, Credit, load_credits  # noqa: F401  (part of this module's API)
from generator.errors import ImageError
from generator.errors import one_line as _one_line
from generator.photo_ids import MAX_ID, slug, unique_ids  # noqa: F401  (part of this module's API)

MIN_SIDE = 32
"""Shorter side, in pixels, below which an image is refused."""

MAX_PIXELS = 180_000_000
"""Images with more pixels than this are refused as possible decompression bombs: above any camera's sensor
(phones reach 48 to 200 megapixels in binned modes, but save 12 to 50), far below what fills memory."""

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
"""File name endings (lower case) that :func:`discover` treats as images."""


_WEIGHTS = VGG16_Weights.IMAGENET1K_V1
_IGNORED_PREFIXES = ("credits.", "readme", "license", "licence")
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


@dataclass(frozen=True)
class SourceImage:
    """A photo found by :func:`discover`.

    ``id`` is a URL-safe slug made from the file name; it is unique within the
    folder and the same on every run, so it can name output files and pages.
    """

    id: str
    path: Path
    sha256: str
    credit: Credit | None


@dataclass(frozen=True, eq=False)
class Prepared:
    """An image ready for VGG16.

    ``seen`` is the resized, centre-cropped image as HxWx3 float32 in [0, 1]:
    exactly what the model looks at, before normalisation. ``tensor`` is the
    same pixels normalised with the weights' mean and std, shaped 1x3xHxW.
    """

    seen: np.ndarray
    tensor: torch.Tensor


# --------------------------------------------------------------------------- discovery


def discover(images_dir: Path) -> tuple[list[SourceImage], list[str]]:
    """List the photos in ``images_dir`` (not its subfolders), sorted by file name.

    Returns the images and a list of one-line problem messages about files that
    were skipped. Hidden files and ``CREDITS.*``, ``README*`` and ``LICENSE*``
    are ignored without comment. Raises :class:`ImageError` when the folder is
    missing, is not a folder, or holds no usable image.
    """
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        what = "is not a folder" if images_dir.exists() else "does not exist"
        raise ImageError(images_dir, f"the image folder {what}", "Create it and put some photos in it.")

    credits = load_credits(images_dir)
    problems: list[str] = []
    files: list[Path] = []
    hashes: dict[Path, str] = {}
    for path in sorted(images_dir.iterdir(), key=lambda p: p.name):
        name = path.name
        if name.startswith(".") or name.lower().startswith(_IGNORED_PREFIXES):
            continue
        if path.is_dir():
            problems.append(f"{path}: is a folder, which is not searched. Move its photos up one level to use them.")
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            kind = f"'{path.suffix}'" if path.suffix else "(no suffix)"
            problems.append(
                f"{path}: unsupported file type {kind}, skipped. "
                f"Convert it to one of {', '.join(sorted(IMAGE_SUFFIXES))}, or move it elsewhere."
            )
        else:
            digest, problem = _readable(path, images_dir)
            if digest is None:
                problems.append(problem)
                continue
            files.append(path)
            hashes[path] = digest
            if problem:
                problems.append(problem)

    if not files:
        raise ImageError(
            images_dir,
            "the image folder holds no photos",
            f"Add files ending in {', '.join(sorted(IMAGE_SUFFIXES))}.",
        )

    found = {p.name for p in files}
    for name in sorted(set(credits) - found):
        problems.append(
            f"{images_dir / CREDITS_FILE}: lists {name!r}, which is not in the folder. "
            "Remove the entry or restore the file."
        )

    ids = unique_ids(files)
    images = [SourceImage(id=ids[p], path=p, sha256=hashes[p], credit=credits.get(p.name)) for p in files]
    return images, problems


def _readable(path: Path, images_dir: Path) -> tuple[str | None, str]:
    """(the photo's sha256, a note) for a file that can be read; (None, the one-line problem with its fix) for
    a dangling link, a link loop or a file that cannot be read, which is then skipped."""
    note = ""
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            return None, (
                f"{path}: is a link to {os.readlink(path)}, which does not exist; skipped. "
                "Point the link at a photo, or remove it."
            )
        except (RuntimeError, OSError):  # RuntimeError: a loop (Python 3.11); OSError ELOOP on newer ones
            return None, f"{path}: is a link that leads back to itself (a link loop); skipped. Remove the link."
        if images_dir.resolve() not in target.parents:
            note = (
                f"{path}: is a link to {target}, outside the image folder; "
                f"it is used as a photo. Copy the file in instead to keep the folder self-contained."
            )
    try:
        return _sha256(path), note
    except PermissionError:
        return None, (
            f"{path}: cannot be read (permission denied); skipped. Make it readable (chmod a+r '{path}') or move it "
            "out of the folder."
        )
    except OSError as exc:
        return None, f"{path}: cannot be read ({exc.strerror or exc}); skipped. Check the file, or move it elsewhere."


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- loading


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
