"""What the trained network shows is either measured by this build or boxed as the literature's.

The rule (contributing guide, "Claims about the trained network"): a sentence that describes what a trained
network shows is either

* chosen by this build's numbers, in a fragment template with a branch test (``tests/test_claims.py``), or
* what published work reports with ImageNet weights, inside a ``!!! reported "Author (year)"`` box, which
  the site's hook titles "Reported in the literature" and, in a stand-in build, marks as not an
  observation of this build.

The chapters' hand-written prose (``docs/*.md``) is read sentence by sentence: one that cites ImageNet-trained
results, or says what a trained network, model, kernel or map looks like, has to be in such a box, or be
one of the reviewed sentences below that define a term or describe the method rather than report a result.
"""

from __future__ import annotations

import json
import re
import sys

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs"
sys.path.insert(0, str(DOCS / "_scripts"))
import hooks  # noqa: E402  (the site's hook module, docs/_scripts/hooks.py)

LITERATURE = re.compile(
    r"with (?:the )?ImageNet weights|ImageNet networks|ImageNet-trained|trained ImageNet models"
    r"|the literature (?:finds|reports|shows)|in the paper\b|\(\w[\w &.]*?,? \d{4}\) (?:reports?|finds?|shows?)"
    r"|networks? (?:that (?:has|have) )?learned the class"
    r"|\b[A-Z]\w+(?: et al\.| and [A-Z]\w+)? \(\d{4}\) (?:found|finds?|report(?:s|ed)?|show(?:s|ed)?)\b",
    re.IGNORECASE,
)
"""A sentence that passes on a published result."""
OBSERVATION = re.compile(
    r"(?<!un)trained (?:network|model|net|kernel|filter|map|one|column|side|feature|layer|unit|channel)s?(?:'s?)?"
    r"\b[^.;:]*?\b(?:looks?|shows?|tends?|picks?|responds?|fires?|stays?|becomes?|keeps?|has|have|is|are|gives?"
    r"|finds?|answers?|sees?|detects?|learns?|learned|learnt)\b",
    re.IGNORECASE,
)
"""A sentence that says what the trained network does."""

REVIEWED = {
    # Each one defines what a figure shows or how a method works; none reports what training produced.
    "activation-maximisation.md": ["Compare the two grids to see what the trained network's images have"],
    "class-models.md": ["**Which classes?** Those the trained network gives as its top answer"],
    "credits.md": ["The *expected ImageNet class* is our own choice"],
    "filters.md": [
        "Whether this build's trained kernels have such structure is a number",
        "He et al. (2015) showed that a layer followed by a ReLU keeps the size of its signal",  # a derivation
    ],
    "follow-one-photo.md": [
        "The trained network's top-1 is the class every explanation below explains.",
        "An explanation of a trained network should change when its weights are destroyed.",
    ],
    "inversion.md": [
        "An all-zero input (mean grey, in the network's normalised input space) gets exactly 1",
        "He et al.'s finding says that by pixel similarity an untrained network's reconstructions",
    ],
    "saliency.md": ["Every map on this page explains the **trained model's top-1 class**"],
    "sanity-checks.md": [
        "This chapter puts numbers on how much each map changes between them, and then destroys",
        "For each photo and method, the trained model's map is compared with the untrained model's map",
    ],
    "trust.md": [
        "Both tests have blind spots, and the project's slow tests on a real ImageNet-trained network",
        "Nie et al. (2018) showed that such rules mostly reconstruct the image",  # a proof about the method
    ],
}
SKIPPED_PAGES = {"contributing.md"}  # the guide for contributors, which quotes the rule itself
SKIPPED_SECTIONS = {"References", "Further reading"}  # paper titles, not claims


def prose(markdown: str) -> list[str]:
    """The sentences of a page's own prose: without code, headings, snippet includes, reference lists and
    the contents of ``!!! reported`` boxes."""
    kept, fence, box, section = [], False, False, ""
    for line in markdown.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
            line = ""
        elif fence:
            line = ""
        elif line.startswith("#"):
            section, line = line.lstrip("#").strip(), ""
        elif re.match(r"^\s*!!! reported\b", line):
            box, line = True, ""
        elif box and (line.startswith("    ") or not line.strip()):
            line = ""
        else:
            box = False
        if section in SKIPPED_SECTIONS or line.startswith("--8<--"):
            line = ""
        kept.append(line)
    sentences = []
    for paragraph in re.split(r"\n\s*\n", "\n".join(kept)):
        text = " ".join(paragraph.split())
        sentences += [s for s in re.split(r"(?<!al\.)(?<!e\.g\.)(?<!i\.e\.)(?<=[.!?])\s+(?=[A-Z*\"(])", text) if s]
    return sentences


def test_the_lint_finds_what_it_is_meant_to_find():
    page = (
        "# Page\n\nIn the first block the trained network's maps still look like the photo.\n\n"
        "With ImageNet weights the literature finds patterns.\n\n"
        '!!! reported "Zeiler and Fergus (2014)"\n\n    With ImageNet weights the first layers detect edges.\n\n'
        "The untrained network's maps are copies of the photo.\n\n```python\n# trained model is ...\n```\n"
    )
    found = [s for s in prose(page) if LITERATURE.search(s) or OBSERVATION.search(s)]
    assert found == [
        "In the first block the trained network's maps still look like the photo.",
        "With ImageNet weights the literature finds patterns.",
    ]


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md") if p.name not in SKIPPED_PAGES))
def test_hand_written_prose_reports_no_trained_result_outside_a_literature_box(page):
    reviewed = REVIEWED.get(page, [])
    found = [
        s
        for s in prose((DOCS / page).read_text(encoding="utf-8"))
        if (LITERATURE.search(s) or OBSERVATION.search(s)) and not any(s.startswith(r) for r in reviewed)
    ]
    assert found == [], (
        f"docs/{page}: these sentences say what a trained network shows. Put a published result in a "
        '`!!! reported "Author (year)"` box, let a fragment choose an observation by the numbers, or (for a '
        "sentence that only defines a term) add its start to REVIEWED in tests/test_honesty.py"
    )


def test_every_reviewed_sentence_is_still_there():
    """A reviewed sentence that was rewritten must be reviewed again."""
    for page, starts in REVIEWED.items():
        sentences = prose((DOCS / page).read_text(encoding="utf-8"))
        for start in starts:
            assert any(s.startswith(start) for s in sentences), f"docs/{page}: {start!r}"


def test_every_literature_box_names_its_source():
    sources = sorted(DOCS.glob("*.md")) + sorted((ROOT / "generator").rglob("templates/*.md.j2"))
    boxes = [
        (page.relative_to(ROOT), m.group(1))
        for page in sources
        for m in re.finditer(r'^\s*!!! reported "([^"]*)"', page.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert len(boxes) >= 10
    for page, title in boxes:
        assert re.search(r"\(\d{4}\)", title), f"{page}: the box {title!r} names no year"


# --------------------------------------------------------------------------- the hook


BOX = '<div class="admonition reported">\n<p class="admonition-title">Zhou et al. (2016)</p>\n<p>Body.</p>\n</div>'


@pytest.mark.parametrize(
    "official,says",
    [
        (False, "not an observation of this build"),
        (True, "torchvision's ImageNet weights, so its figures can be compared"),
        (None, "not measured by this build"),
    ],
)
def test_a_literature_box_says_whether_this_build_can_show_it(official, says):
    html = hooks.with_reported_scope(BOX, official)
    assert '<p class="admonition-title">Reported in the literature: Zhou et al. (2016)</p>' in html
    assert html.count('class="cnn-reported-scope"') == 1 and says in html
    assert html.index("cnn-reported-scope") < html.index("<p>Body.</p>")  # before the claim, not after it


def test_a_stand_in_build_puts_one_box_under_the_title_of_every_chapter_with_results():
    chapter = '# Saliency\n\nIntro.\n\n--8<-- "generated/fragments/saliency.grid.md"\n'
    out = hooks.with_stand_in_box(chapter, {"official": False, "sha256": "ab" * 32})
    assert out.startswith('# Saliency\n\n!!! warning "Stand-in weights')
    assert "sha256 `abababababababab…`" in out and out.count("Stand-in weights") == 1
    architecture = '# VGG16\n\n--8<-- "generated/fragments/architecture.table.md"\n'
    assert hooks.with_stand_in_box(architecture, {"official": False}) == architecture  # no weights shown
    assert hooks.with_stand_in_box(chapter, {"official": True}) == chapter
    assert hooks.with_stand_in_box(chapter, {}) == chapter  # no manifest: nothing to say


def test_a_random_stand_in_gets_the_box_that_says_so():
    chapter = '# Saliency\n\nIntro.\n\n--8<-- "generated/fragments/saliency.grid.md"\n'
    out = hooks.with_stand_in_box(chapter, {"official": False, "sha256": "ab" * 32, "random_like": True})
    assert "the \u201ctrained\u201d network is a random one" in out and "Every bias in" in out
    other = hooks.with_stand_in_box(chapter, {"official": False, "sha256": "ab" * 32, "random_like": False})
    assert "is a random one" not in other and "not ImageNet's" in other


def test_zero_biases_tells_a_random_checkpoint_from_a_trained_like_one(tmp_path, standin_state_dict):
    import torch

    from generator.weights import WeightsSource

    random_path, fitted_path = tmp_path / "random.pth", tmp_path / "fitted.pth"
    torch.save(standin_state_dict, random_path)
    fitted = {k: (v + 0.01 if k.endswith(".bias") else v) for k, v in standin_state_dict.items()}
    torch.save(fitted, fitted_path)
    assert WeightsSource(random_path, explicit=True).zero_biases() is True
    assert WeightsSource(fitted_path, explicit=True).zero_biases() is False
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert WeightsSource(tmp_path / "junk.pth", explicit=True).zero_biases() is None


def test_the_quick_build_knows_its_stand_in_is_random(quick_build):
    weights = json.loads((quick_build / "manifest.json").read_text(encoding="utf-8"))["weights"]
    assert weights["official"] is False and weights["random_like"] is True


def test_prose_for_one_kind_of_weights_appears_only_in_such_a_build():
    page = (
        "Before.\n\n<!-- if stand-in -->\nBoth networks are random here.\n<!-- else -->\nThe trained one learned.\n"
        "<!-- end if -->\n\nMiddle.\n\n<!-- if stand-in -->\nOnly for a stand-in.\n<!-- end if -->\nAfter.\n"
    )
    stand_in = hooks.with_weights_branches(page, {"official": False})
    official = hooks.with_weights_branches(page, {"official": True})
    unbuilt = hooks.with_weights_branches(page, {})  # no manifest: the published network's text
    assert stand_in == "Before.\n\nBoth networks are random here.\n\nMiddle.\n\nOnly for a stand-in.\nAfter.\n"
    assert official == "Before.\n\nThe trained one learned.\n\nMiddle.\n\nAfter.\n"
    assert unbuilt == official
    assert "<!--" not in stand_in + official
    shown = "Text.\n\n```markdown\n<!-- if stand-in -->\nA.\n<!-- end if -->\n```\n"
    assert hooks.with_weights_branches(shown, {"official": False}) == shown  # the syntax, shown in a code block
