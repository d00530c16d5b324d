"""Which weights built the site: a stand-in is never labelled ImageNet, and every page says so."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from generator.models import OFFICIAL_PREFIX, WeightsIdentity, model_table
from tests.conftest import IMAGES, ROOT

BANNER = 'class="cnn-weights-banner"'


def _hooks():
    spec = importlib.util.spec_from_file_location("site_hooks", ROOT / "docs" / "_scripts" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_identity_is_official_only_for_torchvisions_file():
    assert OFFICIAL_PREFIX == "397923af"
    assert WeightsIdentity.of("397923af" + "0" * 56).official
    assert not WeightsIdentity.of("0cb9cb60" + "0" * 56).official
    assert WeightsIdentity.of("torchvision:https://download.pytorch.org/models/vgg16-397923af.pth").official
    stand_in = model_table(WeightsIdentity("0cb9cb605ef1" + "0" * 52, False))
    assert stand_in["trained"].label == "trained (stand-in weights)"
    assert "ImageNet" not in stand_in["trained"].label and "0cb9cb605ef1" in stand_in["trained"].description
    assert model_table(WeightsIdentity("397923af" + "0" * 56, True))["trained"].label == "trained (ImageNet)"


@pytest.fixture(scope="module")
def stand_in_site(tmp_path_factory, quick_build) -> Path:
    """The site built strictly from the suite's quick build (seeded stand-in weights)."""
    work = tmp_path_factory.mktemp("weights-site")
    shutil.copy2(ROOT / "mkdocs.yml", work / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", work / "docs", ignore=shutil.ignore_patterns("generated", "__pycache__"))
    shutil.copytree(quick_build, work / "docs" / "generated")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "properdocs",
            "build",
            "--strict",
            "-f",
            str(work / "mkdocs.yml"),
            "-d",
            str(work / "site"),
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work


def test_a_stand_in_build_says_so_on_every_page_and_never_says_imagenet(stand_in_site, quick_build):
    manifest = json.loads((quick_build / "manifest.json").read_text())
    assert manifest["weights"]["official"] is False
    sha = manifest["weights"]["sha256"]
    pages = sorted((stand_in_site / "site").rglob("index.html"))
    assert len(pages) > 10
    for page in pages:
        html = page.read_text()
        assert BANNER in html and f"stand-in weights (sha256 {sha[:12]}" in html, page
        assert "trained (ImageNet)" not in html, page
    captions = [f["caption"] for f in manifest["figures"]]
    assert not [c for c in captions if "trained (ImageNet)" in c]
    assert any("trained (stand-in weights)" in c for c in captions)
    fragments = "".join(p.read_text() for p in (quick_build / "fragments").glob("*.md"))
    assert "trained (ImageNet)" not in fragments
    home = (stand_in_site / "site" / "index.html").read_text()  # the home page's "Two networks" says it too
    assert "This build used stand-in weights" in home and f"sha256 <code>{sha[:16]}…</code>" in home
    assert "in this build, VGG16 with <strong>stand-in weights</strong>" in home
    assert "the ImageNet weights that torchvision distributes" not in home
    credits = (stand_in_site / "site" / "credits" / "index.html").read_text()
    assert 'this build\'s "trained" network has <strong>stand-in weights</strong>' in credits.replace("&quot;", '"')


def test_a_stand_in_build_marks_every_literature_box_and_every_chapter(stand_in_site):
    """The honesty rule on the built site: each "Reported in the literature" box says this build cannot show
    it, and every chapter that shows the networks' results starts with the same stand-in box."""
    boxes = chapters = 0
    for page in sorted((stand_in_site / "site").rglob("index.html")):
        html = page.read_text()
        for box in re.findall(r'<div class="admonition reported">(.*?)</div>', html, re.DOTALL):
            boxes += 1
            assert "Reported in the literature: " in box and "not an observation of this build" in box, page
        if re.search(r"generated/figures/(?!architecture/|seen/)[a-z_]+/", html) or 'id="cnn-explorer"' in html:
            chapters += 1
            # the stand-in here is a random initialisation (all biases zero), and the box says so
            assert html.count("Stand-in weights: the “trained” network is a random one") == 1, page
    assert boxes >= 10 and chapters >= 12


def test_official_weights_keep_the_labels_and_show_no_banner(tmp_path, standin_weights, monkeypatch):
    """The checkpoint's hash is faked through the one seam that computes it (generator.weights.file_sha256)."""
    from generator import weights
    from generator.build import Build, BuildOptions
    from generator.config import get_profile

    monkeypatch.setattr(weights, "file_sha256", lambda path: OFFICIAL_PREFIX + "0" * 56)
    images = tmp_path / "photo"
    images.mkdir()
    shutil.copy(IMAGES / "chelsea.png", images / "chelsea.png")
    opts = BuildOptions(
        profile=get_profile("quick"),
        images_dir=images,
        out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        weights=weights.WeightsSource(standin_weights, explicit=True),
        device=torch.device("cpu"),
        only=["predictions"],
        progress=False,
        jobs=1,  # render in this process: a worker costs seconds to start (the worker tests ask for them)
    )
    assert Build(opts).run().ok
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["weights"] == {
        "sha256": OFFICIAL_PREFIX + "0" * 56,
        "official": True,
        "expected_prefix": OFFICIAL_PREFIX,
        "random_like": False,  # official weights are never read for it
        "available": True,
    }
    assert manifest["models"][0]["label"] == "trained (ImageNet)"
    assert any("trained (ImageNet)" in f["caption"] for f in manifest["figures"])
    hooks = _hooks()
    networks = (tmp_path / "out" / "fragments" / "networks.md").read_text()
    assert f"(`IMAGENET1K_V1`, sha256 `{OFFICIAL_PREFIX}00000000…`)" in networks and "stand-in" not in networks
    assert "trained on the ImageNet-1k dataset" in (tmp_path / "out" / "fragments" / "weights.md").read_text()
    assert hooks.banner_text(manifest["weights"]) is None
    config = {"docs_dir": str(tmp_path / "docs"), "extra": {"weights_banner": "left over"}}
    (tmp_path / "docs" / "generated").mkdir(parents=True)
    shutil.copy(tmp_path / "out" / "manifest.json", tmp_path / "docs" / "generated" / "manifest.json")
    assert "weights_banner" not in hooks.on_config(config)["extra"]


def test_the_build_page_states_provenance(quick_build, stand_in_site):
    text = (quick_build / "fragments" / "build.md").read_text()
    manifest = json.loads((quick_build / "manifest.json").read_text())
    assert "| Profile | `quick` |" in text and "| Device | `cpu` |" in text
    assert f"sha256 `{manifest['weights']['sha256'][:16]}" in text and "**stand-in weights**" in text
    for name in ("Python", "torch", "torchvision", "numpy", "matplotlib", "properdocs", "mkdocs-material"):
        assert f"| {name} | " in text
    assert "| Source commit | `" in text or "unknown (not built from a git checkout)" in text
    rows = [line for line in text.splitlines() if line.startswith("| [")]
    assert len(rows) == len(manifest["techniques"])
    assert "How this site was built" in (stand_in_site / "site" / "build" / "index.html").read_text()
