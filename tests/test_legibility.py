"""The figures' smallest text: what the render kit records, and how the site check turns it into CSS px.

The browser half (every chapter figure of the quick site at 1280 px) is in test_site_browser.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from generator.config import PROFILES
from generator.render import FULL_WIDTH_IN, MIN_FONT_PT, RenderContext, new_figure, smallest_text_pt
from generator.site.legibility import MIN_CSS_PX, VIEWPORT, text_css_px, too_small


def _drawn(fig):
    import io

    fig.savefig(io.BytesIO(), format="png", dpi=60)
    return fig


def test_the_smallest_drawn_text_counts_and_undrawn_text_does_not():
    fig = new_figure(4, 2)
    left, right = fig.subplots(1, 2)
    left.plot([0, 1], [0, 1])
    left.set_title("left", fontsize=9)
    left.tick_params(labelsize=8)
    right.imshow(np.zeros((4, 4)))
    right.axis("off")  # its tick labels (10 pt by default, and 3 pt here) are not drawn
    right.tick_params(labelsize=3)
    right.set_title("")  # no text
    hidden = fig.text(0.5, 0.5, "hidden", fontsize=4)
    hidden.set_visible(False)
    assert smallest_text_pt(_drawn(fig)) == 8
    left.set_xlabel("x", fontsize=6.5)
    assert smallest_text_pt(_drawn(fig)) == 6.5


def test_ticks_outside_the_view_are_not_counted():
    fig = new_figure(3, 2)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=9)
    ax.set_xlim(0.1, 0.9)  # the locator still makes ticks at 0 and 1, which are not drawn
    assert smallest_text_pt(_drawn(fig)) == 9


def test_a_figure_without_text_has_none():
    fig = new_figure(2, 2)
    ax = fig.subplots()
    ax.imshow(np.zeros((3, 3)))
    ax.axis("off")
    assert smallest_text_pt(_drawn(fig)) is None


def test_the_render_kit_records_the_text_size_with_each_figure(tmp_path):
    rc = RenderContext(technique="t", out_dir=tmp_path, profile=PROFILES["quick"], settings={}, images=[])
    fig = new_figure(3, 2)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=9)
    ax.set_title("title", fontsize=12)
    f = rc.mpl(fig, kind="plot")
    assert f.dpi == PROFILES["quick"].dpi
    assert f.text_px == pytest.approx(9 * f.dpi / 72, abs=0.01)
    plain = rc.png(np.zeros((4, 4), np.uint8), kind="plain")
    assert plain.text_px is None and plain.dpi is None
    drawn = rc.png(np.zeros((4, 4), np.uint8), kind="drawn", text_px=11)
    assert drawn.text_px == 11


def test_css_px_follow_the_column_and_the_resolution():
    # a full-width figure drawn at the quick profile's 60 dpi with MIN_FONT_PT text
    fig = {"width": round(FULL_WIDTH_IN * 60), "text_px": MIN_FONT_PT * 60 / 72, "dpi": 60}
    assert text_css_px(fig, 930) == pytest.approx(MIN_FONT_PT * 60 / 72)  # as built: its own size
    at_100 = text_css_px(fig, 930, 100)  # 920 px wide: shown at its own size
    assert at_100 == pytest.approx(MIN_FONT_PT * 100 / 72, rel=1e-3) and at_100 >= MIN_CSS_PX
    at_120 = text_css_px(fig, 930, 120)  # 1104 px wide: shrunk to the column
    assert at_120 == pytest.approx(MIN_FONT_PT * 120 / 72 * 930 / (FULL_WIDTH_IN * 120), rel=1e-3)
    assert at_120 >= MIN_CSS_PX
    assert text_css_px(fig, 460, 100) == pytest.approx(at_100 / 2, rel=0.01)  # half a column: half the size
    pixels = {"width": 500, "text_px": 14, "dpi": None}  # drawn in pixels: never projected
    assert text_css_px(pixels, 250, 120) == pytest.approx(7)
    assert text_css_px({"width": 100, "text_px": None}, 50) is None


def test_too_small_names_the_page_and_judges_a_thumbnail_by_its_full_figure():
    figures = {
        "figures/a/x.png": {"path": "figures/a/x.png", "width": 1000, "text_px": 14, "dpi": 100},
        "figures/a/y.png": {"path": "figures/a/y.png", "width": 400, "text_px": 9, "dpi": 100},
    }
    measured = [
        {"src": "../generated/figures/a/x.png", "container": 500},  # 7 px: too small
        {"src": "../generated/figures/a/x.thumb.png", "full": "../generated/figures/a/x.png", "container": 200},
        {"src": "../generated/figures/a/y.png", "container": 930},  # 9 px at its own size
        {"src": "../assets/logo.png", "container": 10},  # not a figure
    ]
    bad = too_small(figures, measured, "cam/", dpis=(None,))
    assert [(s.path, s.text_css_px) for s in bad] == [("figures/a/x.png", 7.0), ("figures/a/y.png", 9.0)]
    assert bad[0].line().startswith("cam/: figures/a/x.png (as built): smallest text 7.0 CSS px")
    # the thumbnail's full figure in the lightbox: 14 px * min(1, 1280 / 1000) = 14 px, not judged too small
    assert VIEWPORT[0] >= 1000


def test_the_command_refuses_a_folder_without_a_site_and_a_broken_manifest(tmp_path, capsys):
    from generator.site.legibility import main

    assert main([str(tmp_path)]) == 2
    assert "holds no built site" in capsys.readouterr().err
    (tmp_path / "index.html").write_text("<html></html>")
    bad = tmp_path / "manifest.json"
    bad.write_text("{")
    assert main([str(tmp_path), "--manifest", str(bad)]) == 2
    assert "cannot read the manifest" in capsys.readouterr().err
