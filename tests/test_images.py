"""Tests for generator.images: every bad file is made here, at test time."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.models import VGG16_Weights

from generator import images as gi
from generator.images import ImageError, discover, load_credits, load_rgb, prepare, preprocessing_params

REPO = Path(__file__).resolve().parents[1]
IMAGES_DIR = REPO / "images"
CATEGORIES = VGG16_Weights.IMAGENET1K_V1.meta["categories"]


def assert_clear_error(exc: ImageError, path: Path) -> str:
    """The message is one line, names the file, and says what to do."""
    message = str(exc)
    assert "\n" not in message and "\r" not in message
    assert path.name in message
    assert exc.path == path
    assert message.startswith(f"{path}: ")
    return message


def photo(width: int = 64, height: int = 48) -> Image.Image:
    """A small RGB test card with distinct colours in each quadrant."""
    arr = np.zeros((height, width, 3), np.uint8)
    arr[: height // 2, : width // 2] = (255, 0, 0)
    arr[: height // 2, width // 2 :] = (0, 255, 0)
    arr[height // 2 :, : width // 2] = (0, 0, 255)
    arr[height // 2 :, width // 2 :] = (255, 255, 0)
    return Image.fromarray(arr, "RGB")


# --------------------------------------------------------------------------- refused files


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError) as info:
        load_rgb(path)
    assert "empty" in assert_clear_error(info.value, path)


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.png"
    with pytest.raises(ImageError) as info:
        load_rgb(path)
    assert_clear_error(info.value, path)


def test_text_with_png_suffix(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\nsecond line\n")
    with pytest.raises(ImageError) as info:
        load_rgb(path)
    assert "not a recognised image" in assert_clear_error(info.value, path)


def test_folder_named_like_an_image(tmp_path):
    path = tmp_path / "folder.png"
    path.mkdir()
    with pytest.raises(ImageError) as info:
        load_rgb(path)
    assert_clear_error(info.value, path)


@pytest.mark.parametrize("fmt,suffix", [("JPEG", ".jpg"), ("PNG", ".png")])
def test_truncated(tmp_path, fmt, suffix):
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8), "RGB")
    buf = io.BytesIO()
    noisy.save(buf, fmt)
    data = buf.getvalue()
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError) as info:
        load_rgb(path)
    assert "truncated or corrupt" in assert_clear_error(info.value, path)


def test_too_small(tmp_path):
    path = tmp_path / "tiny.png"
    photo(16, 16).save(path)
    with pytest.raises(ImageError) as info:
        load_rgb(path)
    assert "too small" in assert_clear_error(info.value, path)
    # The limit is a parameter.
    assert load_rgb(path, min_side=16).size == (16, 16)


def test_more_pixels_than_allowed(tmp_path):
    path = tmp_path / "moderate.png"
    photo(100, 100).save(path)
    with pytest.raises(ImageError) as info:
        load_rgb(path, max_pixels=9_999)
    assert "decompression bomb" in assert_clear_error(info.value, path)
    assert load_rgb(path, max_pixels=10_000).size == (100, 100)


def test_bomb_refused_from_header(tmp_path, monkeypatch):
    """A small file whose header claims 196 megapixels is refused before decoding (over the 180 M limit, under
    twice it, so this is the loader's own header check at work, not Pillow's)."""
    path = tmp_path / "bomb.png"
    Image.new("1", (14_000, 14_000), 0).save(path, optimize=True)
    assert path.stat().st_size < 200_000

    def no_decoding(self, *args, **kwargs):  # pragma: no cover - must never run
        raise AssertionError("load() was called on a bomb")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    with pytest.raises(ImageError) as info:
        load_rgb(path)
    message = assert_clear_error(info.value, path)
    assert "196,000,000 pixels" in message and "180,000,000" in message


def test_a_48_megapixel_phone_photo_is_accepted(tmp_path):
    """8000 x 6000, as phones save them: over Pillow's default bomb threshold's warning, under this limit."""
    path = tmp_path / "phone.png"
    Image.new("1", (8_000, 6_000), 1).save(path, optimize=True)
    assert load_rgb(path).size == (8_000, 6_000)


@pytest.mark.parametrize("limit", [1_000, 3_000], ids=["pil-error", "pil-warning"])
def test_pillow_bomb_checks_become_image_errors(tmp_path, limit):
    """Over twice the limit Pillow's own DecompressionBombError stops the file while opening; over the limit
    the loader's size check does. Both become one-line ImageErrors, and Pillow's global limit is restored."""
    path = tmp_path / "pilbomb.png"
    photo(64, 64).save(path)  # 4096 pixels
    before = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError) as info:
        load_rgb(path, max_pixels=limit)
    assert "decompression bomb" in assert_clear_error(info.value, path)
    assert Image.MAX_IMAGE_PIXELS == before


# --------------------------------------------------------------------------- conversions


def test_plain_rgb_roundtrip(tmp_path):
    path = tmp_path / "card.png"
    card = photo()
    card.save(path)
    out = load_rgb(path)
    assert out.mode == "RGB"
    assert np.array_equal(np.asarray(out), np.asarray(card))


def test_exif_orientation_is_applied(tmp_path):
    tall = photo(40, 80)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "phone.jpg"
    tall.save(path, quality=95, exif=exif)

    out = load_rgb(path)
    assert out.size == (80, 40)
    expected = np.asarray(tall.transpose(Image.Transpose.ROTATE_270), dtype=int)
    assert np.abs(np.asarray(out, dtype=int) - expected).mean() < 8
    # The red top-left quadrant of the stored image ends up top-right.
    r, g, b = out.getpixel((70, 5))
    assert r > 200 and g < 60 and b < 60


def test_rgba_composited_over_white(tmp_path):
    arr = np.zeros((40, 40, 4), np.uint8)
    arr[:, :20] = (255, 0, 0, 255)  # opaque red
    arr[:, 20:30] = (0, 0, 0, 0)  # fully transparent (hidden black)
    arr[:, 30:] = (0, 0, 0, 128)  # half-transparent black
    path = tmp_path / "alpha.png"
    Image.fromarray(arr, "RGBA").save(path)
    out = np.asarray(load_rgb(path))
    assert out.shape == (40, 40, 3)
    assert (out[:, :20] == (255, 0, 0)).all()
    assert (out[:, 20:30] == 255).all()
    assert np.abs(out[:, 30:].astype(int) - 127).max() <= 1


def test_la_composited_over_white(tmp_path):
    arr = np.zeros((40, 40, 2), np.uint8)
    arr[:, :20] = (0, 255)
    arr[:, 20:] = (0, 0)
    path = tmp_path / "greyalpha.png"
    Image.fromarray(arr, "LA").save(path)
    out = np.asarray(load_rgb(path))
    assert (out[:, :20] == 0).all()
    assert (out[:, 20:] == 255).all()


def test_palette_with_transparency(tmp_path):
    im = Image.new("P", (40, 40), 0)
    im.putpalette([0, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    im.paste(1, (0, 0, 20, 40))  # left half blue, right half index 0 (transparent black)
    path = tmp_path / "palette.png"
    im.save(path, transparency=0)
    out = np.asarray(load_rgb(path))
    assert (out[:, :20] == (0, 0, 255)).all()
    assert (out[:, 20:] == 255).all()


def test_gif_with_transparency(tmp_path):
    im = Image.new("P", (40, 40), 0)
    im.putpalette([0, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))
    im.paste(1, (0, 0, 20, 40))
    path = tmp_path / "anim.gif"
    im.save(path, transparency=0)
    out = np.asarray(load_rgb(path))
    assert (out[:, :20] == (0, 255, 0)).all()
    assert (out[:, 20:] == 255).all()


def test_16_bit_grey_uses_full_8_bit_range(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).round().astype(np.uint16), (40, 1))
    path = tmp_path / "deep.png"
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode in {"I;16", "I"}
    out = np.asarray(load_rgb(path))
    assert out.dtype == np.uint8 and out.shape == (40, 64, 3)
    assert out.min() == 0 and out.max() == 255
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()
    assert np.array_equal(out[0, :, 0], np.rint(ramp[0] / 257).astype(np.uint8))


def test_16_bit_dark_image_stays_dark(tmp_path):
    dark = np.full((40, 40), 2570, np.uint16)  # 10/255 of full scale
    path = tmp_path / "dark.png"
    im = Image.fromarray(dark)
    assert im.mode == "I;16"
    im.save(path)
    assert (np.asarray(load_rgb(path)) == 10).all()


def test_32_bit_integer_holding_16_bit_data(tmp_path):
    values = np.tile(np.linspace(0, 65535, 64).round().astype(np.int32), (40, 1))
    values[:, 0] = 257 * 3
    path = tmp_path / "sixteen.tif"
    Image.fromarray(values).save(path)
    assert Image.open(path).mode == "I"
    out = np.asarray(load_rgb(path))
    assert out[0, 0, 0] == 3 and out.max() == 255


def test_32_bit_integer_out_of_16_bit_range_is_stretched(tmp_path):
    values = np.tile(np.linspace(-1000, 100_000, 64).astype(np.int32), (40, 1))
    path = tmp_path / "wide.tif"
    Image.fromarray(values).save(path)
    out = np.asarray(load_rgb(path))
    assert out.min() == 0 and out.max() == 255
    assert (np.diff(out[0, :, 0].astype(int)) >= 0).all()


@pytest.mark.parametrize("top,expected_max", [(1.0, 255), (500.0, 255)])
def test_float_grey(tmp_path, top, expected_max):
    values = np.tile(np.linspace(0, top, 64, dtype=np.float32), (40, 1))
    path = tmp_path / "float.tif"
    Image.fromarray(values).save(path)
    out = np.asarray(load_rgb(path))
    assert out.min() == 0 and out.max() == expected_max


def test_cmyk_converted(tmp_path):
    path = tmp_path / "print.jpg"
    Image.new("CMYK", (40, 40), (255, 0, 0, 0)).save(path, quality=95)  # pure cyan
    out = load_rgb(path)
    assert out.mode == "RGB"
    r, g, b = out.getpixel((20, 20))
    assert r < 40 and g > 215 and b > 215


@pytest.mark.parametrize("mode", ["L", "1"])
def test_grey_and_bilevel_converted(tmp_path, mode):
    path = tmp_path / f"mono-{mode}.png"
    photo().convert(mode).save(path)
    out = load_rgb(path)
    assert out.mode == "RGB" and out.size == (64, 48)


# --------------------------------------------------------------------------- discovery


def test_same_stem_files_get_distinct_ids(tmp_path):
    for name in ["cat.png", "cat.jpg", "dog.png", "Big Dog!.png"]:
        photo().save(tmp_path / name)
    found, problems = discover(tmp_path)
    assert problems == []
    ids = {img.path.name: img.id for img in found}
    assert ids == {"Big Dog!.png": "big-dog", "cat.jpg": "cat-jpg", "cat.png": "cat-png", "dog.png": "dog"}
    assert [img.path.name for img in found] == sorted(ids)
    assert discover(tmp_path)[0] == found  # deterministic


def test_slug_clashes_beyond_the_suffix_stay_unique(tmp_path):
    for name in ["a b.png", "a-b.png", "a_b.png"]:
        photo().save(tmp_path / name)
    found, _ = discover(tmp_path)
    ids = [img.id for img in found]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in ids)


def test_unsupported_suffix_is_reported_not_fatal(tmp_path):
    photo().save(tmp_path / "ok.png")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "raw.cr2").write_bytes(b"\0" * 10)
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "README.md").write_text("about")
    (tmp_path / "LICENSE").write_text("licence")
    found, problems = discover(tmp_path)
    assert [img.id for img in found] == ["ok"]
    assert len(problems) == 2
    for problem, name in zip(problems, ["notes.txt", "raw.cr2"]):
        assert "\n" not in problem and name in problem and "unsupported" in problem


def test_source_image_fields(tmp_path):
    path = tmp_path / "card.png"
    photo().save(path)
    (found,), _ = discover(tmp_path)
    import hashlib

    assert found.path == path
    assert found.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert found.credit is None


def test_missing_folder(tmp_path):
    path = tmp_path / "absent"
    with pytest.raises(ImageError) as info:
        discover(path)
    assert_clear_error(info.value, path)


def test_empty_folder(tmp_path):
    path = tmp_path / "nothing"
    path.mkdir()
    (path / "README.md").write_text("nothing here")
    with pytest.raises(ImageError) as info:
        discover(path)
    assert_clear_error(info.value, path)


# --------------------------------------------------------------------------- credits


GOOD_ENTRY = """
[[image]]
file = "cat.png"
title = "A cat"
source = "made in a test"
author = "pytest"
licence = "CC0 1.0"
link = "https://creativecommons.org/publicdomain/zero/1.0/"
label = "tabby"
label_index = 281
"""


def test_credits_missing_file_gives_empty_dict(tmp_path):
    assert load_credits(tmp_path) == {}


def test_credits_attached_and_stale_entry_reported(tmp_path):
    photo().save(tmp_path / "cat.png")
    (tmp_path / "CREDITS.toml").write_text(GOOD_ENTRY + GOOD_ENTRY.replace("cat.png", "gone.png"))
    found, problems = discover(tmp_path)
    assert found[0].credit == gi.Credit(
        file="cat.png",
        title="A cat",
        source="made in a test",
        author="pytest",
        licence="CC0 1.0",
        link="https://creativecommons.org/publicdomain/zero/1.0/",
        label="tabby",
        label_index=281,
    )
    assert len(problems) == 1 and "gone.png" in problems[0] and "\n" not in problems[0]


@pytest.mark.parametrize(
    "text,words",
    [
        ("[[image]\nfile = 1", "not valid TOML"),
        (GOOD_ENTRY.replace('author = "pytest"\n', ""), "lacks author"),
        (GOOD_ENTRY.replace("licence =", "license ="), "unknown key(s) license"),
        (GOOD_ENTRY.replace("label_index = 281", 'label_index = "281"'), "label_index should be an integer"),
        (GOOD_ENTRY.replace("label_index = 281", "label_index = 282"), "does not match label_index 282"),
        (GOOD_ENTRY.replace('"tabby"', '"kitten"'), "'kitten' does not match"),
        (GOOD_ENTRY + GOOD_ENTRY, "repeats an earlier entry"),
        ("image = 3", "not a list of tables"),
        ('title = "x"', "unexpected top-level key"),
    ],
)
def test_malformed_credits(tmp_path, text, words):
    path = tmp_path / "CREDITS.toml"
    path.write_text(text)
    with pytest.raises(ImageError) as info:
        load_credits(tmp_path)
    assert words in assert_clear_error(info.value, path)


# --------------------------------------------------------------------------- the real photo set


def test_real_image_set():
    found, problems = discover(IMAGES_DIR)
    assert problems == []
    assert 6 <= len(found) <= 8
    assert len({img.id for img in found}) == len(found)
    for img in found:
        assert img.credit is not None, f"{img.path.name} has no CREDITS.toml entry"
        credit = img.credit
        assert credit.file == img.path.name
        assert CATEGORIES[credit.label_index] == credit.label
        for field in ("title", "source", "author", "licence", "link"):
            assert getattr(credit, field).strip(), f"{img.path.name}: empty {field}"
        assert credit.link.startswith(("http://", "https://"))
        rgb = load_rgb(img.path)
        assert rgb.mode == "RGB" and min(rgb.size) >= 224
        assert img.path.stat().st_size < 1_000_000


# --------------------------------------------------------------------------- preprocessing


def test_preprocessing_params():
    mean, std, ratio = preprocessing_params()
    assert mean == pytest.approx((0.485, 0.456, 0.406))
    assert std == pytest.approx((0.229, 0.224, 0.225))
    assert ratio == pytest.approx(256 / 224)


@pytest.mark.parametrize("source", ["chelsea.png", "grace_hopper.jpg", "synthetic"])
def test_prepare_matches_torchvision(source):
    img = photo(301, 173) if source == "synthetic" else load_rgb(IMAGES_DIR / source)
    prepared = prepare(img, 224)
    expected = VGG16_Weights.IMAGENET1K_V1.transforms()(img).unsqueeze(0)
    assert prepared.tensor.shape == (1, 3, 224, 224)
    assert prepared.tensor.dtype == torch.float32
    torch.testing.assert_close(prepared.tensor, expected, atol=1e-6, rtol=0)

    seen = prepared.seen
    assert seen.shape == (224, 224, 3) and seen.dtype == np.float32
    assert seen.min() >= 0.0 and seen.max() <= 1.0
    mean, std, _ = preprocessing_params()
    renormalised = (torch.from_numpy(seen).permute(2, 0, 1) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[
        :, None, None
    ]
    torch.testing.assert_close(renormalised.unsqueeze(0), prepared.tensor, atol=1e-5, rtol=0)


def test_prepare_other_sizes():
    img = photo(300, 200)
    prepared = prepare(img, 128)
    assert prepared.seen.shape == (128, 128, 3)
    assert prepared.tensor.shape == (1, 3, 128, 128)


def test_prepare_refuses_non_rgb():
    with pytest.raises(ValueError, match="load_rgb"):
        prepare(photo().convert("RGBA"))


def _two_good_photos(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    for name in ("a.png", "b.png"):
        Image.new("RGB", (40, 30), (120, 60, 30)).save(folder / name)


@pytest.mark.parametrize("kind", ["dangling link", "link loop", "unreadable"])
def test_an_unreadable_photo_is_skipped_with_its_fix_and_the_others_go_on(tmp_path, monkeypatch, kind):
    """A dangling link, a link loop and a file without read permission each cost one line, not the build."""
    _two_good_photos(tmp_path)
    bad = tmp_path / "gone.jpg"
    if kind == "dangling link":
        bad.symlink_to(tmp_path / "nowhere.jpg")
    elif kind == "link loop":
        bad.symlink_to(bad)
    else:  # root reads any file, so the refusal the kernel would give is simulated
        Image.new("RGB", (40, 30)).save(bad, format="JPEG")
        from generator import discovery

        real = discovery._sha256

        def no_read(path):
            if path == bad:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path)

        monkeypatch.setattr(discovery, "_sha256", no_read)
    found, problems = discover(tmp_path)
    assert [i.path.name for i in found] == ["a.png", "b.png"]
    (line,) = [p for p in problems if "gone.jpg" in p]
    assert "\n" not in line and line.startswith(f"{bad}: ") and "skipped" in line
    want = {"dangling link": "Point the link at a photo, or remove it", "link loop": "Remove the link",
            "unreadable": "chmod a+r"}[kind]  # fmt: skip
    assert want in line, line


def test_the_no_change_check_hashes_a_folder_with_broken_links(tmp_path):
    """The fast path fingerprints the photo folder before any photo is loaded; a broken link must not stop it."""
    from generator.build.fresh import tree_hash

    _two_good_photos(tmp_path)
    before = tree_hash(tmp_path)
    (tmp_path / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    after = tree_hash(tmp_path)
    assert after != before and tree_hash(tmp_path) == after
