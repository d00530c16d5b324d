"""Figures are saved in their smallest lossless file: PNG (palette when exact) or lossless WebP."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from generator.render import encode, palette_for

rng = np.random.default_rng(0)


def pixels(data: bytes, mode: str = "RGB") -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert(mode))


def smooth_photo(h=96, w=128) -> Image.Image:
    """Many colours with structure (a photo-like gradient plus noise): no palette fits."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 2, y * 2, (x + y)], axis=-1).astype(np.float64)
    arr = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(arr)


def viridis_indices(h=64, w=64) -> Image.Image:
    im = Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8))
    im.putpalette(palette_for("viridis").reshape(-1).tolist(), rawmode="RGB")
    return im


def few_colours(h=80, w=120) -> Image.Image:
    colours = np.array([[255, 255, 255], [0, 0, 0], [200, 30, 40], [20, 90, 200]], np.uint8)
    return Image.fromarray(colours[rng.integers(0, 4, (h, w))])


CASES = {
    "photo": smooth_photo,
    "palette": viridis_indices,
    "few-colours": few_colours,
    "opaque-rgba": lambda: smooth_photo().convert("RGBA"),
    "grey": lambda: Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_candidate_and_the_choice_are_lossless(case):
    im = CASES[case]()
    want = np.asarray(im.convert("RGB"))
    options = encode.candidates(im)
    assert set(options) == {".png", ".webp"}
    for suffix, data in options.items():
        assert np.array_equal(pixels(data), want), f"{case}: the {suffix} candidate changed pixels"
    data, suffix = encode.smallest(im)
    assert len(data) == min(len(d) for d in options.values())
    assert data == options[suffix]
    assert np.array_equal(pixels(data), want)


def test_transparency_survives():
    arr = np.asarray(smooth_photo().convert("RGBA")).copy()
    arr[:10, :10, 3] = 0
    arr[10:20, :10, 3] = 128
    im = Image.fromarray(arr)
    for data in encode.candidates(im).values():
        assert np.array_equal(pixels(data, "RGBA"), arr)


def test_a_few_colours_become_an_exact_palette_png():
    im = few_colours()
    palette = encode.exact_palette(im)
    assert palette is not None and palette.mode == "P"
    assert np.array_equal(np.asarray(palette.convert("RGB")), np.asarray(im))
    assert encode.exact_palette(smooth_photo()) is None  # thousands of colours: no palette


def test_the_smaller_file_wins_and_png_wins_a_tie(monkeypatch):
    im = few_colours()
    for sizes, want in [((10, 9), ".webp"), ((9, 10), ".png"), ((10, 10), ".png")]:
        monkeypatch.setattr(encode, "candidates", lambda _im, s=sizes: {".png": b"p" * s[0], ".webp": b"w" * s[1]})
        assert encode.smallest(im)[1] == want, sizes


def test_deterministic():
    im = smooth_photo()
    assert encode.smallest(im) == encode.smallest(im.copy())


def test_quick_build_figures_are_lossless_and_no_bigger_than_plain_png(quick_build):
    """Every figure opens at its manifest size; together they weigh less than plain PNGs of the same pixels."""
    manifest = json.loads((quick_build / "manifest.json").read_text(encoding="utf-8"))
    stored = plain = 0
    for fig in manifest["figures"]:
        path = quick_build / fig["path"]
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            assert im.size == (fig["width"], fig["height"]), fig["path"]
            assert im.format == {".png": "PNG", ".webp": "WEBP"}[path.suffix], fig["path"]
            im.load()
            buf = io.BytesIO()
            encode.opaque(im).save(buf, **encode.PNG_OPTIONS)
        stored += len(data)
        plain += len(buf.getvalue())
    assert stored < plain
