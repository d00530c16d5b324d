"""What the site's hooks (docs/_scripts/hooks.py) do so that a page costs less on load: each glossary term
keeps its tooltip at its first use only, and tables arrive already in the theme's scroll box."""

from __future__ import annotations

import sys

import markdown

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "docs" / "_scripts"))
import hooks  # noqa: E402  (the site's hook module)

GLOSSARY = "\n\n*[channel]: One output of a layer.\n*[feature map]: What a channel outputs.\n"


def test_only_the_first_use_of_each_term_keeps_its_tooltip() -> None:
    text = "A channel makes a feature map.\n\nEach channel differs: one channel, one feature map.\n"
    html = hooks.first_abbreviations(markdown.markdown(text + GLOSSARY, extensions=["abbr"]))
    assert html.count('<abbr title="One output of a layer.">channel</abbr>') == 1
    assert html.count('<abbr title="What a channel outputs.">feature map</abbr>') == 1
    assert html.count("<abbr") == 2
    # the later uses keep their words, so the text reads the same
    assert "Each channel differs: one channel, one feature map." in html


def test_a_page_without_terms_is_unchanged() -> None:
    html = "<p>No terms here, and an <abbr>unexplained</abbr> one.</p>"
    assert hooks.first_abbreviations(html) == html


def test_tables_arrive_in_the_theme_s_scroll_box_and_marked() -> None:
    html = markdown.markdown("| a | b |\n|---|---|\n| 1 | 2 |\n\ntext\n", extensions=["tables"])
    wrapped = hooks.with_wrapped_tables(html)
    assert wrapped.startswith(
        '<div class="md-typeset__scrollwrap"><div class="md-typeset__table"><table class="cnn-table">'
    )
    assert "</table></div></div>" in wrapped and "<table>" not in wrapped
    assert wrapped.count("<table") == 1 and wrapped.endswith("<p>text</p>")
    # a table someone gave a class of their own is theirs
    own = '<table class="cnn-x-every"><tr><td>1</td></tr></table>'
    assert hooks.with_wrapped_tables(own) == own


def test_the_theme_s_table_rules_are_rewritten_for_the_marked_tables() -> None:
    theme = (
        ".md-typeset table:not([class]){display:inline-block}.md-typeset code{color:red}"
        "@media print{.md-typeset table:not([class]){display:table}.md-nav{display:none}}"
        ".md-typeset h1,.md-typeset table:not([class]) th{font-weight:700}"
        "@media screen{.md-header{top:0}}"
    )
    assert hooks.tables_css(theme) == (
        ".md-typeset table.cnn-table{display:inline-block}"
        "@media print{.md-typeset table.cnn-table{display:table}}"
        ".md-typeset table.cnn-table th{font-weight:700}"
    )


def test_the_installed_theme_still_has_the_table_rules() -> None:
    """A Material release that renamed its table selector would leave the wrapped tables unstyled."""
    from importlib.resources import files

    theme = next((files("material") / "templates" / "assets" / "stylesheets").glob("main.*.min.css"))
    rules = hooks.tables_css(theme.read_text(encoding="utf-8"))
    assert ".md-typeset table.cnn-table{" in rules and "border" in rules and "not([class])" not in rules
