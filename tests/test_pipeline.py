"""The generator end to end, through its command line: help, bad inputs, incremental
rebuilds, byte-identical reruns and the manifest.  Builds here use the quick profile,
two or three photos and only the cheap techniques, so each takes seconds."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from generator.chapters import registry
from generator.site.pages import TIMED_FRAGMENTS
from tests.conftest import IMAGES, quick_args, run_generator

ONLY = ["predictions", "feature_maps"]


generator = run_generator


def build(images: Path, out: Path, cache: Path, weights: Path, only=ONLY) -> subprocess.CompletedProcess:
    """One quick build through the CLI; ``proc.report`` is its JSON build report (``--report``)."""
    report = out.parent / "report.json"
    report.unlink(missing_ok=True)
    proc = run_generator(
        *quick_args(images, out, cache, weights, "--report", str(report)),
        "--only",
        *only,
    )
    proc.report = json.loads(report.read_text()) if report.is_file() else None
    return proc


def computed(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Technique -> units computed, from the build's JSON report."""
    return {name: t["computed"] for name, t in proc.report["techniques"].items()}


def snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root``: relative path -> (sha256, mtime_ns)."""
    return {
        p.relative_to(root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def small_set(dst: Path, names=("coffee.png", "chelsea.png")) -> Path:
    dst.mkdir(parents=True)
    for n in names:
        shutil.copy(IMAGES / n, dst / n)
    return dst


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("args", [["--help"], ["build", "--help"]])
def test_help(args):
    proc = generator(*args, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage: python -m generator" in proc.stdout
    if "build" in args:
        for option in ("--profile", "--images", "--out", "--weights", "--device", "--only"):
            assert option in proc.stdout


# --------------------------------------------------------------------------- bad inputs


@pytest.fixture(scope="module")
def messy_build(tmp_path_factory, standin_weights):
    root = tmp_path_factory.mktemp("messy")
    images = small_set(root / "images", ("coffee.png",))
    (images / "empty.jpg").write_bytes(b"")
    data = (IMAGES / "chelsea.png").read_bytes()
    (images / "truncated.png").write_bytes(data[: len(data) // 2])
    (images / "notes.jpg").write_text("this is not a photo\n")
    # two inputs with the same stem
    with Image.open(IMAGES / "chelsea.png") as im:
        im.convert("RGB").save(images / "cat.jpg", quality=90)
        im.save(images / "cat.png")
    proc = build(images, root / "out", root / "cache", standin_weights, only=["predictions"])
    return proc, root / "out"


def test_bad_images_are_reported_and_the_build_continues(messy_build):
    proc, out = messy_build
    assert proc.returncode != 0
    err = proc.stderr
    assert "Traceback" not in err
    for name in ("empty.jpg", "truncated.png", "notes.jpg"):
        lines = [line for line in err.splitlines() if name in line]
        assert lines, f"{name} not reported:\n{err}"
        assert all(line.startswith(("error: ", "  - ", "warning: ")) for line in lines), lines
    assert re.search(r"^3 problem\(s\):$", err, re.M), err
    # the summary comes last
    assert err.rstrip().splitlines()[-1].startswith("  - ")
    manifest = json.loads((out / "manifest.json").read_text())
    ids = sorted(i["id"] for i in manifest["images"])
    assert "coffee" in ids and len(ids) == 3  # coffee + the two cats
    for fig in manifest["figures"]:
        assert (out / fig["path"]).is_file()


def test_same_stem_inputs_do_not_overwrite_each_other(messy_build):
    _, out = messy_build
    manifest = json.loads((out / "manifest.json").read_text())
    cats = [i for i in manifest["images"] if i["file"] is None or i["id"].startswith("cat")]
    cat_ids = sorted(i["id"] for i in manifest["images"] if i["id"] != "coffee")
    assert len(cat_ids) == 2 and cat_ids[0] != cat_ids[1], cats
    paths = {i: sorted(f["path"] for f in manifest["figures"] if f["image"] == i) for i in cat_ids}
    assert paths[cat_ids[0]] and not set(paths[cat_ids[0]]) & set(paths[cat_ids[1]])
    seen = [(out / "figures" / "seen" / f"{i}.png").read_bytes() for i in cat_ids]
    assert seen[0] != seen[1]  # the JPEG and the PNG really are two inputs


# --------------------------------------------------------------------------- reruns


@pytest.fixture(scope="module")
def twin_builds(tmp_path_factory, standin_weights):
    """Two cold builds of the same photos into different folders (with their snapshots)."""
    root = tmp_path_factory.mktemp("twins")
    images = small_set(root / "images")
    runs = []
    for name in ("a", "b"):
        proc = build(images, root / name / "out", root / name / "cache", standin_weights)
        assert proc.returncode == 0, proc.stderr
        runs.append((proc, root / name, snapshot(root / name / "out")))
    return images, runs


def test_two_builds_are_byte_identical(twin_builds):
    _, ((_, _, snap_a), (_, _, snap_b)) = twin_builds
    assert snap_a.keys() == snap_b.keys()
    assert any(k.startswith("figures/feature_maps/") for k in snap_a)
    assert any(k.startswith("fragments/predictions") for k in snap_a)
    # fragments/build.md and .state/ record how long each unit took, which differs between two cold builds
    different = [
        k for k in snap_a if snap_a[k][0] != snap_b[k][0] and k not in TIMED_FRAGMENTS and not k.startswith(".state/")
    ]
    assert not different


def test_incremental_rebuilds(twin_builds, standin_weights):
    images, ((first, root, before), _) = twin_builds
    assert computed(first) == {"predictions": 4, "feature_maps": 4}

    # 1. nothing changed: no unit computed, no file rewritten
    proc = build(images, root / "out", root / "cache", standin_weights)
    assert proc.returncode == 0, proc.stderr
    assert computed(proc) == {"predictions": 0, "feature_maps": 0}
    assert snapshot(root / "out") == before

    # 2. one photo changed: only its units are computed again
    cache_before = set((root / "cache").rglob("*.npz"))
    with Image.open(images / "coffee.png") as im:
        im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(images / "coffee.png")
    proc = build(images, root / "out", root / "cache", standin_weights)
    assert proc.returncode == 0, proc.stderr
    assert computed(proc) == {"predictions": 2, "feature_maps": 2}
    assert len(set((root / "cache").rglob("*.npz")) - cache_before) == 4
    after = snapshot(root / "out")
    chelsea = [k for k in before if "/chelsea/" in k]
    coffee = [k for k in before if "/coffee/" in k]
    assert chelsea and coffee
    assert all(after[k] == before[k] for k in chelsea)  # untouched: same bytes, same mtime
    assert any(after[k][0] != before[k][0] for k in coffee)


# --------------------------------------------------------------------------- manifest


def test_manifest_lists_every_figure(quick_build):
    manifest = json.loads((quick_build / "manifest.json").read_text())
    names = set(registry())
    listed = set()
    for fig in manifest["figures"]:
        for key in ("technique", "image", "model", "layer", "kind", "path", "caption"):
            assert key in fig, (key, fig)
        assert fig["technique"] in names
        assert (quick_build / fig["path"]).is_file(), fig["path"]
        assert fig["path"] not in listed, f"listed twice: {fig['path']}"
        listed.add(fig["path"])
        if fig.get("thumb"):  # a photo's wide figure, and its gallery thumbnail
            assert fig["image"] and fig["width"] > fig["thumb"]["width"], fig
            assert (quick_build / fig["thumb"]["path"]).is_file(), fig["thumb"]
            listed.add(fig["thumb"]["path"])
    for path in manifest["data"]:  # the unit explorer's files: listed once, not figures
        assert (quick_build / path).is_file() and path not in listed, path
        listed.add(path)
    assert any(p.endswith("explorer/index.json") for p in manifest["data"])
    on_disk = {
        p.relative_to(quick_build).as_posix()
        for p in (quick_build / "figures").rglob("*")
        if p.is_file() and not p.relative_to(quick_build).as_posix().startswith("figures/seen/")
    }
    assert on_disk == listed
    ids = {i["id"] for i in manifest["images"]}
    assert len(ids) == 7
    assert {f["image"] for f in manifest["figures"]} <= ids | {None}
    techniques = [t["name"] for t in manifest["techniques"]]
    assert {"feature_maps", "predictions", "filters", "architecture"} <= set(techniques)
    layer_figs = [f for f in manifest["figures"] if f["technique"] == "feature_maps" and f["layer"]]
    assert all(f["layer"] in f["path"] and f["model"] in f["path"] for f in layer_figs)


@pytest.mark.parametrize(
    "value,digits,want",
    [
        (-0.001, 2, "0.00"),
        (-0.004999, 2, "0.00"),
        (-0.006, 2, "-0.01"),
        (0.0, 3, "0.000"),
        (-0.0, 1, "0.0"),
        (1.23456, 3, "1.235"),
    ],
)
def test_numbers_never_read_minus_zero(value, digits, want):
    from generator.site.fragments import _fmt, _pct

    assert _fmt(value, digits) == want
    assert _pct(value / 100, digits) == want + " %"


@pytest.mark.parametrize(
    "value,want",
    [
        (0.00612, "6.1 × 10⁻³"),
        (-0.000123, "-1.2 × 10⁻⁴"),
        (0.5, "0.500"),
        (12.345, "12.35"),
        (123456.0, "1.2 × 10⁵"),
        (0.0, "0.000"),
    ],
)
def test_scientific_notation_for_small_and_large_numbers(value, want):
    from generator.site.markup import scientific

    assert scientific(value) == want


def test_a_renderer_leaves_no_stale_files_or_empty_folders(tmp_path):
    """What an earlier renderer made and this one does not (a moved data folder) goes, folders included."""
    from generator.build.output import drop_unlisted

    root = tmp_path / "figures" / "feature_maps"
    (root / "explorer" / "units" / "block1_conv1").mkdir(parents=True)
    (root / "explorer" / "units" / "block1_conv1" / "0.png").write_bytes(b"old")
    (root / "chelsea").mkdir()
    (root / "chelsea" / "keep.png").write_bytes(b"new")
    drop_unlisted(tmp_path, root, {"figures/feature_maps/chelsea/keep.png"})
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "figures",
        "figures/feature_maps",
        "figures/feature_maps/chelsea",
        "figures/feature_maps/chelsea/keep.png",
    ]


def test_a_fragment_no_template_makes_is_removed(quick_build, tmp_path):
    """A chapter part that moved (``feature_maps.explorer.md`` became the explorer's own ``explorer.md``) does
    not linger in ``fragments/`` where a page could still include it; other chapters' fragments stay."""
    from generator.build.state import StateStore
    from generator.config import get_profile
    from generator.site.fragments import SiteContext, write_technique

    out = tmp_path / "out"
    shutil.copytree(quick_build, out)
    (out / "fragments" / "feature_maps.explorer.md").write_text("stale")
    tech = registry()["feature_maps"]
    site = SiteContext.from_build(out, get_profile("quick"), [])
    write_technique(site, tech, StateStore(out).read("feature_maps"))
    assert not (out / "fragments" / "feature_maps.explorer.md").exists()
    kept = sorted(p.name for p in (out / "fragments").glob("feature_maps.*.md"))
    assert kept == sorted(p.name for p in (quick_build / "fragments").glob("feature_maps.*.md")) and kept
    assert (out / "fragments" / "explorer.md").is_file()
