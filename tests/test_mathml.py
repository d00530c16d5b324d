"""Formulas become MathML when the site is built (docs/_scripts/hooks.py), so that no page runs MathJax.

Every formula the chapters write converts, the MathML uses only what MathML Core (what browsers draw) has,
and a formula that cannot be converted is named in a warning instead of reaching a page as raw TeX.
"""

from __future__ import annotations

import html
import logging
import re
import sys

import markdown
import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_scripts"))
import hooks  # noqa: E402  (the site's hook module)

CHAPTERS = sorted(DOCS.glob("*.md"))


def chapter_html(path) -> str:
    """A chapter through the extensions that decide what is a formula (fragments are not included)."""
    return markdown.markdown(
        path.read_text(encoding="utf-8"),
        extensions=["pymdownx.arithmatex", "pymdownx.superfences", "md_in_html", "admonition", "attr_list"],
        extension_configs={"pymdownx.arithmatex": {"generic": True}},
    )


def test_the_chapters_have_formulas() -> None:
    formulas = sum(chapter_html(path).count('class="arithmatex"') for path in CHAPTERS)
    assert formulas >= 100, formulas  # 126 when this was written


@pytest.mark.parametrize("path", [p for p in CHAPTERS if 'class="arithmatex"' in chapter_html(p)], ids=lambda p: p.name)
def test_every_formula_of_a_chapter_converts_to_mathml_core(path, caplog) -> None:
    html = chapter_html(path)
    count = html.count('class="arithmatex"')
    with caplog.at_level(logging.WARNING):
        out = hooks.with_mathml(html, where=path.name)
    assert caplog.records == [], [r.getMessage() for r in caplog.records]
    assert out.count("<math ") == count
    assert not re.search(r'class="arithmatex">\s*\\[(\[]', out), "a formula left as TeX"
    # What browsers ignore or draw wrongly: named spaces, styled letters, an unknown command as text.
    assert "mathspace" not in out
    assert not re.search(r'mathvariant="(?!normal")', out)
    assert not re.search(r">\\[A-Za-z]+<", out)
    assert 'alttext="' in out


def test_styled_letters_become_unicode_mathematical_alphanumerics() -> None:
    mathml = html.unescape(hooks.tex_to_mathml(r"\mathbb 1[z > 0] + \mathcal N + \mathbb R + \mathbf{x}", False))
    assert "\U0001d7d9" in mathml  # 𝟙, double-struck one
    assert "\U0001d4a9" in mathml  # 𝒩, script N
    assert "\u211d" in mathml  # ℝ, in Letterlike Symbols, not U+1D549 (unassigned)
    assert "\U0001d431" in mathml  # 𝐱, bold small x
    assert 'mathvariant="double-struck"' not in mathml and 'mathvariant="script"' not in mathml


def test_spaces_limits_and_sizes_are_what_mathml_core_draws() -> None:
    mathml = hooks.tex_to_mathml(r"a\!b \; \min_{x_0} f + \ln p + \bigl( q \bigr)", display=True)
    assert 'width="-0.1667em"' in mathml  # \! was "negativethinmathspace"
    # The limit goes under min (in a display), and the subscript inside the limit stays whole.
    assert (
        '<munder><mo movablelimits="true" lspace="0.1667em" rspace="0.1667em">min</mo>'
        "<mrow><msub><mi>x</mi><mn>0</mn></msub></mrow></munder>"
    ) in mathml
    assert '<mi>ln</mi><mspace width="0.1667em" />' in mathml
    assert re.search(r'<mo stretchy="true" [^>]*minsize="1.2em"', mathml)
    assert mathml.startswith('<math alttext="a\\!b \\; \\min_{x_0} f + \\ln p + \\bigl( q \\bigr)" ')
    assert 'display="block"' in mathml


def test_a_named_operator_is_spaced_as_in_tex() -> None:
    relu = hooks.tex_to_mathml(r"\operatorname{ReLU}(z) = \max (0, z)", display=False)
    assert '<mo lspace="0.1667em" rspace="0">ReLU</mo><mo stretchy="false">&#x00028;</mo>' in relu
    assert '<mo lspace="0.1667em" rspace="0">max</mo>' in relu
    assert '<mo lspace="0.1667em" rspace="0.1667em">arg</mo>' in hooks.tex_to_mathml(r"\arg\max_x f", True)


def test_the_tex_is_kept_escaped_in_alttext() -> None:
    mathml = hooks.tex_to_mathml(r'x < "y"  \qquad  z', display=False)
    assert 'alttext="x &lt; &quot;y&quot; \\qquad z"' in mathml  # one line, quotes and < escaped


@pytest.mark.parametrize(
    "tex, reason",
    [
        (r"\foo x", "does not know \\foo"),
        (r"\begin{aligned} a &= b \end{aligned}", "bare '&'"),
        (r"\mathfrak{3}", "no fraktur form"),
        (r"x^", "latex2mathml could not read it"),
    ],
)
def test_tex_that_cannot_be_shown_is_refused_with_the_reason(tex, reason) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        hooks.tex_to_mathml(tex, display=True)


def test_a_formula_that_does_not_convert_stays_tex_and_is_named_in_a_warning(caplog) -> None:
    html = '<p>Good <span class="arithmatex">\\(x^2\\)</span>, bad <span class="arithmatex">\\(\\foo y\\)</span>.</p>'
    with caplog.at_level(logging.WARNING, logger="mkdocs.plugins.cnn_sees.hooks"):
        out = hooks.with_mathml(html, where="saliency.md")
    assert out.count("<math ") == 1
    assert '<span class="arithmatex">\\(\\foo y\\)</span>' in out
    (record,) = caplog.records
    assert record.getMessage().startswith("saliency.md: formula $\\foo y$ does not convert to MathML")


def test_block_and_escaped_formulas_as_arithmatex_writes_them() -> None:
    html = '<div class="arithmatex">\\[\na &lt; b \\quad c &amp; d\n\\]</div>'
    out = hooks.with_mathml(html.replace(" c &amp; d", ""), where="x.md")
    assert out.startswith('<div class="arithmatex"><math alttext="a &lt; b \\quad"')
    assert 'display="block"' in out and "<mo>&#x0003C;</mo>" in out
