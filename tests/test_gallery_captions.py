"""The gallery's page markup (docs/_scripts/gallery.py): shared settings stated once, images that state their size."""

from __future__ import annotations

import sys

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "docs" / "_scripts"))
import gallery  # noqa: E402  (the gallery's gen-files script)

RECIPE = (
    "4 steps of Adam at lr 0.05, 32×32 px, Fourier parameterisation (1/f, init sd 0.01) with decorrelated "
    "colour, transformations pad 12 → jitter 8 → scale 0.9–1.1 → rotate ±10° → jitter 4."
)


def test_a_long_closing_sentence_of_several_captions_is_taken_out_once() -> None:
    figures = [
        {"path": "a.webp", "caption": f"`block1_conv2`, trained: filters 28, 45. {RECIPE}"},
        {"path": "b.webp", "caption": f"`block2_conv2`, untrained (random init): filters 3, 4. {RECIPE}"},
        # The recipe inside a caption that compares two recipes stays where it is.
        {"path": "c.webp", "caption": f"*Naive*: plain ascent. *Ours*: {RECIPE} Side by side."},
        {"path": "d.webp", "caption": "The objective at every step."},
    ]
    out, ending = gallery.without_shared_ending(figures)
    assert ending == RECIPE
    assert [f["caption"] for f in out] == [
        "`block1_conv2`, trained: filters 28, 45.",
        "`block2_conv2`, untrained (random init): filters 3, 4.",
        figures[2]["caption"],
        "The objective at every step.",
    ]
    assert figures[0]["caption"].endswith(RECIPE)  # the manifest's figures are not changed


def test_short_or_unshared_endings_stay() -> None:
    assert gallery.shared_ending(["Trained. Same scale.", "Untrained. Same scale."]) == ""  # short
    assert gallery.shared_ending([f"One. {RECIPE}", "Two. Something else entirely, long enough to count here."]) == ""
    assert gallery.shared_ending([RECIPE, RECIPE]) == ""  # a caption that is only the sentence is not split


def test_the_section_says_the_settings_once() -> None:
    figures = [
        {"path": f"figures/activation_max/_all/{m}-block1_conv2-filters.webp", "model": m, "layer": "block1_conv2",
         "kind": "filters", "caption": f"`block1_conv2`, {m}: two filters. {RECIPE}"}
        for m in ("trained", "untrained")
    ]  # fmt: skip
    manifest = {"models": [{"name": "trained", "title": "Trained"}, {"name": "untrained", "title": "Untrained"}]}
    lines = gallery.technique_section(
        {"name": "activation_max", "title": "Activation maximisation"}, figures, gallery.Models(manifest)
    )
    page = "\n".join(lines)
    assert page.count(RECIPE) == 1
    assert f"made with these settings: {RECIPE}" in page


def test_the_photo_states_its_size_from_the_png_header(tmp_path) -> None:
    from PIL import Image

    Image.new("RGB", (224, 150)).save(tmp_path / "seen.png")
    assert gallery.png_size(tmp_path / "seen.png") == (224, 150)
    (tmp_path / "not.png").write_bytes(b"GIF89a" + bytes(30))
    assert gallery.png_size(tmp_path / "not.png") == (None, None)
    assert gallery.png_size(tmp_path / "missing.png") == (None, None)
