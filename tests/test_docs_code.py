"""Every code block in the contributor docs runs, so the docs cannot drift from the code.

``docs/contributing.md`` and ``ARCHITECTURE.md`` hold fenced blocks of these kinds:

* ``python`` / ``jinja`` whose first line names a file (``# generator/...`` or ``{# generator/... #}``):
  written into a copy of the package, which then builds the example technique for real;
* other ``python`` blocks: run as scripts against that copy;
* ``markdown``: every fragment a ``--8<--`` line includes must be written by that build;
* ``sh`` / ``bash``: every ``nox -s NAME`` names a session of the noxfile, and the generator options
  after ``nox -s build --`` or ``python -m generator`` parse with the copy's command line;
* ``text``: diagrams, not code.

A block of any other kind fails the test, so a new block cannot escape it.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IMAGES, ROOT

DOCS = [ROOT / "docs" / "contributing.md", ROOT / "ARCHITECTURE.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
FILE_LINE = re.compile(r"^(?:#|\{#)\s*(generator/\S+)\s*(?:#\})?\s*$")
KINDS = {"python", "jinja", "markdown", "sh", "bash", "text"}


def blocks() -> list[tuple[str, str, str]]:
    """(doc name, language, code) of every fenced block."""
    found = []
    for doc in DOCS:
        for lang, code in FENCE.findall(doc.read_text(encoding="utf-8")):
            found.append((doc.name, lang, code))
    return found


def test_every_block_has_a_known_kind():
    unknown = [(doc, lang or "(none)") for doc, lang, _ in blocks() if lang not in KINDS]
    assert not unknown, f"code blocks this test does not run: {unknown}; give them one of {sorted(KINDS)}"


@pytest.fixture(scope="module")
def example(tmp_path_factory, standin_weights) -> dict:
    """A copy of the package with the docs' files written into it, and the quick build of the example."""
    root = tmp_path_factory.mktemp("docs-example")
    shutil.copytree(ROOT / "generator", root / "generator", ignore=shutil.ignore_patterns("__pycache__"))
    written = []
    for _, lang, code in blocks():
        first = code.splitlines()[0] if code.strip() else ""
        m = FILE_LINE.match(first)
        if lang in ("python", "jinja") and m:
            path = root / m.group(1)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(code, encoding="utf-8")
            written.append(m.group(1))
    for folder in {Path(w).parts[2] for w in written if w.startswith("generator/chapters/")}:
        init = root / "generator" / "chapters" / folder / "__init__.py"
        if not init.exists():
            init.write_text('"""The docs\' example chapter."""\n')
    out, cache = root / "out", root / "cache"
    names = sorted({Path(w).parts[2] for w in written if w.startswith("generator/chapters/")})
    proc = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--profile", "quick", "--images", str(IMAGES),
         "--out", str(out), "--cache", str(cache), "--weights", str(standin_weights), "--no-progress",
         "--jobs", "1", "--only", *names],
        cwd=root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return {"root": root, "out": out, "written": written, "names": names, "proc": proc}


def test_the_example_technique_builds(example):
    assert "generator/chapters/mean_activation/spec.py" in example["written"]
    proc = example["proc"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = example["out"]
    fragment = (out / "fragments" / "mean_activation.md").read_text(encoding="utf-8")
    assert "block 5's mean activation is" in fragment and "{{" not in fragment
    assert list((out / "figures" / "mean_activation" / "chelsea").glob("trained-means.*"))
    # the copy's package was the one that ran (not the checkout's)
    assert not (ROOT / "generator" / "chapters" / "mean_activation").exists()


def test_script_blocks_run(example):
    scripts = [code for _, lang, code in blocks() if lang == "python" and not FILE_LINE.match(code.splitlines()[0])]
    assert scripts, "the contributor docs show no runnable snippet"
    for code in scripts:
        proc = subprocess.run([sys.executable, "-c", code], cwd=example["root"], capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert proc.returncode == 0, f"this block fails:\n{code}\n{proc.stderr[-2000:]}"


def test_included_fragments_are_built(example):
    for _, lang, code in blocks():
        if lang != "markdown":
            continue
        for path in re.findall(r'^;?--8<-- "generated/([^"]+)"', code, re.M):
            assert (example["out"] / path).is_file(), f"the docs include generated/{path}, which no build writes"


def _sessions() -> set[str]:
    text = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    return set(re.findall(r"@nox\.session[^\n]*\ndef (\w+)", text))


def test_shell_blocks_name_real_sessions_and_options(example):
    sessions = _sessions()
    assert {"tests", "build", "serve", "same"} <= sessions
    parsed = 0
    for _, lang, code in blocks():
        if lang not in ("sh", "bash"):
            continue
        for line in code.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            words = shlex.split(line)
            if words[0].endswith("nox"):
                assert words[1] == "-s" and words[2] in sessions, f"{line!r}: no such nox session"
                args = words[words.index("--") + 1 :] if "--" in words else []
                if words[2] != "build":
                    continue
            elif words[:3] == ["python", "-m", "generator"]:
                args = words[4:] if words[3] == "build" else None
                if args is None:
                    continue
            else:
                continue
            code_ = f"from generator.cli import _parser; _parser().parse_args(['build', *{args!r}])"
            proc = subprocess.run([sys.executable, "-c", code_], cwd=example["root"], capture_output=True, text=True)
            assert proc.returncode == 0, f"{line!r}: {proc.stderr.strip().splitlines()[-1:]}"
            parsed += 1
    assert parsed >= 2


CHAPTER_EXAMPLES = {
    "saliency.md": {"sal": (64, 64), "sg": (64, 64), "gxi": (3, 64, 64), "ig": (3, 64, 64), "evidence": (64, 64)},
    "backward-rules.md": {"dec": (64, 64), "gb": (3, 64, 64), "relevance": (3, 64, 64), "evidence": (64, 64)},
    "perturbation.md": {"drop": (64, 64), "evidence": (64, 64)},
    "cam.md": {"cam": (64, 64), "raw": (4, 4), "ggc": (64, 64), "cams": (2, 64, 64), "pp": (64, 64),
               "lc": (64, 64), "sc": (64, 64)},
    "trust.md": {"ig": (3, 64, 64)},
    "vgg16.md": {},
    "predictions.md": {"logits": (1000,)},
    "feature-maps.md": {"maps": (256, 16, 16), "top": (16,), "first": (16,)},
    "filters.md": {"w": (64, 3, 3, 3), "shape": (4,)},
    "activation-maximisation.md": {"images": (3, 3, 64, 64), "history": (32, 3), "naive": (1, 3, 64, 64)},
    "class-models.md": {"images": (2, 3, 64, 64), "final": (2,), "rank": (2,)},
    "inversion.md": {"recon": (3, 64, 64), "error": (1,), "both": (2, 3, 64, 64)},
}  # fmt: skip
"""Chapters whose "In your own code" blocks run against a seeded VGG16 (``net``, ``x``, ``target``, and a second
photo ``x2``, ``target2``, are given), with the shapes of the maps each must leave behind. A block whose first
line starts with ``# Setup`` loads a network from the internet, which the tests cannot: it must define the
names the other blocks use, and is not run."""
SETUP = "# Setup"


@pytest.fixture(scope="module")
def seeded_vgg(standin_state_dict):
    import torch
    import torchvision

    from generator import images as imgmod

    net = torchvision.models.vgg16(weights=None, init_weights=False)
    net.load_state_dict(standin_state_dict)
    net.eval()
    xs = [imgmod.prepare(imgmod.load_rgb(IMAGES / f), 64).tensor for f in ("chelsea.png", "coffee.png")]
    with torch.no_grad():
        targets = [int(net(x).argmax()) for x in xs]
    return {"net": net, "x": xs[0], "target": targets[0], "x2": xs[1], "target2": targets[1]}


def test_every_chapter_with_code_is_listed():
    """A chapter with an "In your own code" section must be in CHAPTER_EXAMPLES, so its code runs."""

    def has_python(text: str) -> bool:
        return "## In your own code" in text or any(lang == "python" for lang, _ in FENCE.findall(text))

    has_code = {p.name for p in (ROOT / "docs").glob("*.md") if p.name != "contributing.md"
                and has_python(p.read_text(encoding="utf-8"))}  # fmt: skip
    assert has_code <= set(CHAPTER_EXAMPLES), sorted(has_code - set(CHAPTER_EXAMPLES))


@pytest.mark.parametrize("doc", sorted(CHAPTER_EXAMPLES))
def test_a_chapters_own_code_runs(doc, seeded_vgg):
    import numpy as np

    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    code = [c for lang, c in FENCE.findall(text) if lang == "python"]
    assert code, f"{doc} has no python block"
    namespace = dict(seeded_vgg)
    for block in code:
        if block.startswith(SETUP):
            assigned = set(re.findall(r"^\s*(\w+)\s*=", block, re.M))
            assert {"net", "x", "target"} <= assigned, f"{doc}: the setup block must define net, x and target"
            continue
        exec(compile(block, f"{doc} block", "exec"), namespace)  # noqa: S102 - the docs' own example
    for name, shape in CHAPTER_EXAMPLES[doc].items():
        value = np.asarray(namespace[name])
        assert value.shape == shape, f"{doc}: {name} has shape {value.shape}, not {shape}"
        assert np.isfinite(value).all(), f"{doc}: {name} is not finite"
    if doc == "trust.md":
        assert namespace["curve"].auc >= 0 and len(namespace["curve"].probs) == 17
