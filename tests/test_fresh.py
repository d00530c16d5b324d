"""The no-change fast path (generator.build.fresh): a build with nothing to do answers in well under a
second and never imports torch; anything that changed -- an output file, a photo, the code, the options --
sends the build down the full path, which puts things right."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator.build import fresh

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "images"

# Runs the command line in-process and reports whether torch got imported.
PROBE = """
import json, sys
from generator.cli import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "torch": "torch" in sys.modules}))
"""


def run(*args: str) -> tuple[dict, str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


@pytest.fixture
def small(tmp_path, standin_weights):
    """Two photos, and the arguments of a quick build of the architecture and predictions chapters."""
    images = tmp_path / "images"
    images.mkdir()
    for name in ("chelsea.png", "rocket.jpg"):
        shutil.copy(IMAGES / name, images / name)
    args = [
        "build",
        "--profile",
        "quick",
        "--images",
        str(images),
        "--out",
        str(tmp_path / "out"),
        "--cache",
        str(tmp_path / "cache"),
        "--weights",
        str(standin_weights),
        "--no-progress",
        "--jobs",
        "1",
        "--only",
        "architecture",
        "predictions",
    ]
    return tmp_path, images, args


def test_a_build_with_nothing_to_do_skips_torch(small):
    tmp, _images, args = small
    first, err = run(*args, "--report", str(tmp / "r1.json"))
    assert first == {"rc": 0, "torch": True}, err
    assert (tmp / "out" / fresh.STAMP).is_file()
    again, err = run(*args, "--report", str(tmp / "r2.json"))
    assert again == {"rc": 0, "torch": False}, err
    assert "nothing changed since the last build" in err
    r1, r2 = (json.loads((tmp / n).read_text()) for n in ("r1.json", "r2.json"))
    assert r2["ok"] and r2["profile"] == "quick" and r2["images"] == 2
    # the same units, now all cached
    assert {k: v["computed"] + v["cached"] for k, v in r1["techniques"].items()} == {
        k: v["cached"] for k, v in r2["techniques"].items()
    }
    assert all(v["computed"] == 0 for v in r2["techniques"].values())


def test_a_changed_output_file_is_rebuilt(small):
    tmp, _images, args = small
    assert run(*args)[0]["rc"] == 0
    page = tmp / "out" / "fragments" / "predictions.tables.md"
    good = page.read_bytes()
    page.write_text("edited by hand\n")
    out, err = run(*args)
    assert out == {"rc": 0, "torch": True} and "nothing changed" not in err
    assert page.read_bytes() == good
    figure = next((tmp / "out" / "figures" / "predictions").rglob("*.webp"))
    good = figure.read_bytes()
    figure.unlink()
    assert run(*args)[0]["torch"] and figure.read_bytes() == good
    figure.write_bytes(b"garbage!")  # overwritten by hand: the render step must not keep it
    out, err = run(*args)
    assert out["torch"] and figure.read_bytes() == good, err
    again, err = run(*args)
    assert not again["torch"] and "nothing changed" in err, err


def test_a_new_photo_or_other_options_go_the_full_way(small):
    tmp, images, args = small
    assert run(*args)[0]["rc"] == 0
    shutil.copy(IMAGES / "coffee.png", images / "coffee.png")
    out, err = run(*args)
    assert out["torch"] and "nothing changed" not in err
    manifest = json.loads((tmp / "out" / "manifest.json").read_text())
    assert [i["id"] for i in manifest["images"]] == ["chelsea", "coffee", "rocket"]
    assert not run(*args)[0]["torch"]
    # --only is part of what was built
    assert run(*args[:-1])[0]["torch"]


def test_a_failed_build_leaves_no_stamp(small, tmp_path):
    tmp, images, args = small
    assert run(*args)[0]["rc"] == 0
    (images / "broken.jpg").write_bytes(b"not a jpeg")
    out, err = run(*args)
    assert out["rc"] == 1 and "broken.jpg" in err
    assert not (tmp / "out" / fresh.STAMP).exists()
    out, err = run(*args)  # still broken: the full path again, the same one-line problem
    assert out == {"rc": 1, "torch": True} and "broken.jpg" in err


def test_the_fingerprint_follows_code_photos_and_weights(tmp_path, standin_weights, monkeypatch):
    pkg = tmp_path / "pkg"
    shutil.copytree(ROOT / "generator", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    images = tmp_path / "images"
    shutil.copytree(IMAGES, images)
    monkeypatch.setattr(fresh, "PACKAGE_DIR", pkg)

    def fp(**more):
        kw = (
            dict(
                profile="quick",
                images=images,
                out=tmp_path / "o",
                cache=tmp_path / "c",
                weights=standin_weights,
                device="cpu",
                only=None,
            )
            | more
        )
        return fresh.fingerprint(**kw)

    base = fp()
    assert fp() == base
    (pkg / "chapters" / "predictions" / "templates" / "predictions.tables.md.j2").write_text("changed\n")
    assert fp()["code"] != base["code"]
    base = fp()
    (pkg / "render" / "__pycache__").mkdir(exist_ok=True)
    (pkg / "render" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"bytecode")
    assert fp() == base  # bytecode is not source
    (images / "CREDITS.toml").write_text((images / "CREDITS.toml").read_text() + "\n# a comment\n")
    assert fp()["images"] != base["images"]
    other = tmp_path / "w.pth"
    other.write_bytes(standin_weights.read_bytes() + b"another file")
    assert fp(weights=other)["weights"] != base["weights"]
    assert fp(device="auto")["cuda"] in (True, False) and fp()["cuda"] is None
    assert fp(profile="default") != fp()


def test_no_cuda_probe_without_a_device(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert fresh.cuda_visible() is False


def test_technique_names_without_importing_them():
    from generator.chapters import registry
    from generator.cli import technique_names

    assert technique_names() == list(registry())


def test_checkpoint_paths_match_torch(tmp_path, monkeypatch):
    import torch
    import torchvision

    from generator import checkpoint

    assert checkpoint.WEIGHTS_URL == torchvision.models.VGG16_Weights.IMAGENET1K_V1.url
    for env in ({"TORCH_HOME": str(tmp_path / "th")}, {"XDG_CACHE_HOME": str(tmp_path / "xdg")}, {}):
        for k in ("TORCH_HOME", "XDG_CACHE_HOME"):
            monkeypatch.delenv(k, raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        assert checkpoint.hub_dir() == Path(torch.hub.get_dir())
