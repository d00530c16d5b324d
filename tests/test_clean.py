"""``generator clean`` deletes only what the generator wrote, and refuses any other folder in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT


def clean(out: Path, cache: Path, home: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home)) if home else None
    return subprocess.run(
        [sys.executable, "-m", "generator", "clean", "--out", str(out), "--cache", str(cache)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip


def files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def a_build(tmp: Path) -> tuple[Path, Path]:
    """An output folder and a cache laid out as a build leaves them."""
    out, cache = tmp / "out", tmp / "cache"
    for rel in (".state/_stamp.json", ".state/saliency.json", "figures/saliency/chelsea/both-saliency.webp",
                "fragments/saliency.all.md", "manifest.json", ".lock"):  # fmt: skip
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text("x")
    written = ["figures/saliency/chelsea/both-saliency.webp", "fragments/saliency.all.md", ".state/saliency.json"]
    (out / ".state" / "_stamp.json").write_text(json.dumps({"outputs": {w: [1, 0] for w in written}}))
    (out / ".state" / "saliency.json").write_text(json.dumps({"files": {written[0]: [1, 0]}}))
    (out / "manifest.json").write_text(
        json.dumps({"figures": [{"path": "figures/a.webp", "thumb": {"path": "figures/a.thumb.webp"}}]})
    )
    for rel in ("figures/a.webp", "figures/a.thumb.webp"):
        (out / rel).write_text("x")
    (cache / "saliency").mkdir(parents=True)
    (cache / "saliency" / f"{'a' * 64}.npz").write_bytes(b"PK")
    (cache / ".lock").write_text("")
    return out, cache


def test_a_folder_of_foreign_files_is_refused_and_kept(tmp_path):
    precious = tmp_path / "precious"
    (precious / "sub").mkdir(parents=True)
    (precious / "thesis.txt").write_text("four years")
    (precious / "sub" / "data.csv").write_text("1,2")
    proc = clean(precious, tmp_path / "empty")
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert str(precious) in line and "nothing was deleted" in line
    assert files(precious) == {"thesis.txt", "sub/data.csv"}


def test_a_foreign_cache_is_refused_before_the_output_is_touched(tmp_path):
    out, cache = a_build(tmp_path)
    (cache / "notes.txt").write_text("mine")
    before = files(out)
    proc = clean(out, cache)
    assert proc.returncode == 2 and "notes.txt is not a technique's folder" in proc.stderr
    assert files(out) == before and (cache / "notes.txt").is_file()


def test_the_repository_root_and_home_are_refused(tmp_path):
    proc = clean(ROOT, tmp_path / "empty")
    assert proc.returncode == 2 and "git checkout" in proc.stderr
    assert (ROOT / "README.md").is_file()
    home = tmp_path / "home"
    (home / ".state").mkdir(parents=True)  # even one that looks like an output folder
    (home / "letter.txt").write_text("dear")
    proc = clean(home, tmp_path / "empty", home=home)
    assert proc.returncode == 2 and "home folder" in proc.stderr
    assert (home / "letter.txt").is_file()


def test_a_build_is_removed_and_a_file_put_there_is_kept(tmp_path):
    out, cache = a_build(tmp_path)
    (out / "figures" / "my-sketch.png").write_text("mine")  # not in the build's records
    proc = clean(out, cache)
    assert proc.returncode == 0, proc.stderr
    assert files(out) == {"figures/my-sketch.png"}  # only the foreign file, in its folder
    assert not cache.exists()
    assert "kept 1 file(s) the generator did not write" in proc.stderr
    proc = clean(tmp_path / "missing-out", tmp_path / "missing-cache")  # nothing there: nothing to do
    assert proc.returncode == 0, proc.stderr


def test_a_file_that_was_there_when_the_build_stamped_the_folder_is_kept(tmp_path):
    """The stamp lists every file it found (to notice any change); a clean still deletes only the build's."""
    out, cache = a_build(tmp_path)
    for rel in ("notes.txt", "figures/my-sketch.png", "fragments/todo.txt"):
        (out / rel).write_text("mine")
    stamp = json.loads((out / ".state" / "_stamp.json").read_text())
    stamp["outputs"].update({rel: [4, 0] for rel in ("notes.txt", "figures/my-sketch.png", "fragments/todo.txt")})
    (out / ".state" / "_stamp.json").write_text(json.dumps(stamp))
    proc = clean(out, cache)
    assert proc.returncode == 0, proc.stderr
    assert files(out) == {"notes.txt", "figures/my-sketch.png", "fragments/todo.txt"}


def test_a_link_out_of_the_output_folder_is_not_followed(tmp_path):
    """A recorded path that runs through a link to another folder deletes nothing there."""
    out, cache = a_build(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.webp").write_text("not the generator's")
    (out / "figures" / "linked").symlink_to(elsewhere)
    stamp = out / ".state" / "_stamp.json"
    outputs = json.loads(stamp.read_text())["outputs"] | {"figures/linked/a.webp": [1, 0]}
    stamp.write_text(json.dumps({"outputs": outputs}))
    proc = clean(out, cache)
    assert proc.returncode == 0, proc.stderr
    assert (elsewhere / "a.webp").read_text() == "not the generator's"
