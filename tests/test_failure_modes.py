"""Faults a hostile but fair user meets (reliability issue, parts 3-6): each is one line, never a traceback.

Builds here run `--only predictions` on one or two photos (the cheapest technique that touches a model).
"""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import IMAGES, quick_args, run_generator

generator = run_generator


def quick(images: Path, out: Path, cache: Path, weights: Path, *more: str) -> subprocess.CompletedProcess:
    return run_generator(*quick_args(images, out, cache, weights, "--only", "predictions", *more))


def one_photo(folder: Path, name: str = "chelsea.png") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(IMAGES / "chelsea.png", folder / name)
    return folder


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("error: ")]


# --------------------------------------------------------------------------- 3. disk full


def test_a_full_disk_stops_the_build_in_one_line_and_marks_the_output_incomplete(
    tmp_path, standin_weights, monkeypatch
):
    """In-process, with the write seam running out of space after a few files."""
    import torch

    from generator import atomic
    from generator.build import Build, BuildOptions
    from generator.config import get_profile
    from generator.models import WeightsSource

    images = one_photo(tmp_path / "photo")
    real_write, writes = atomic._write, []

    def filling_up(fd, data):
        writes.append(len(data))
        if len(writes) > 4:
            import os

            os.close(fd)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(fd, data)

    monkeypatch.setattr(atomic, "_write", filling_up)
    opts = BuildOptions(
        profile=get_profile("quick"),
        images_dir=images,
        out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        weights=WeightsSource(standin_weights, explicit=True),
        device=torch.device("cpu"),
        only=["predictions"],
        progress=False,
    )
    report = Build(opts).run()
    assert len(report.failures) == 1, report.failures
    message = report.failures[0].message
    assert message.startswith("no space left on /") and "while writing" in message
    assert message.endswith("free some space and rerun") and "\n" not in message
    assert (tmp_path / "out" / ".incomplete").is_file()
    assert not (tmp_path / "out" / "manifest.json").exists()
    assert not list((tmp_path / "out").rglob("*.tmp"))  # no temporary files left behind

    monkeypatch.setattr(atomic, "_write", real_write)  # space again: the rerun completes the folder
    assert Build(opts).run().ok
    assert not (tmp_path / "out" / ".incomplete").exists()
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_a_real_small_filesystem(tmp_path, standin_weights):
    """The same on a 1 MB tmpfs (the feature maps of 7 photos need about 3 MB), through the command line
    (skipped where mounting is not allowed)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        proc = generator(
            "build",
            "--profile",
            "quick",
            "--images",
            str(IMAGES),
            "--out",
            str(mnt / "out"),
            "--cache",
            str(tmp_path / "cache"),
            "--weights",
            str(standin_weights),
            "--no-progress",
            "--only",
            "feature_maps",
        )
        assert proc.returncode == 1
        assert "Traceback" not in proc.stderr
        lines = error_lines(proc)
        assert len(lines) == 1 and "no space left on " + str(mnt) in lines[0], proc.stderr
        assert (mnt / "out" / ".incomplete").is_file()
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


# --------------------------------------------------------------------------- 4. output paths


def test_output_paths_that_cannot_work_are_refused_before_any_model_work(tmp_path, standin_weights):
    images = one_photo(tmp_path / "photo")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    for out, expect in ((a_file, "is a file, not a folder"), (a_file / "sub", "is a file, so no folder can be made")):
        t0 = time.monotonic()
        proc = quick(images, out, tmp_path / "cache", standin_weights)
        assert proc.returncode == 2, proc.stderr
        (line,) = error_lines(proc)
        assert line.startswith("error: --out ") and expect in line, proc.stderr
        assert "Traceback" not in proc.stderr and "building profile" not in proc.stderr
        assert time.monotonic() - t0 < 60
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").rglob("*.npz"))


@pytest.mark.parametrize("code, words", [(errno.EACCES, "permission denied"), (errno.EROFS, "read-only filesystem")])
def test_unwritable_output_folders_are_one_line(tmp_path, monkeypatch, capsys, code, words):
    """Root may write anywhere, so the refusal is simulated at the one place the check writes."""
    import tempfile

    from generator import cli

    def refuse(*args, **kwargs):
        raise OSError(code, "refused")

    images = one_photo(tmp_path / "photo")
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    rc = cli.main(
        [
            "build",
            "--profile",
            "quick",
            "--images",
            str(images),
            "--out",
            str(tmp_path / "out"),
            "--cache",
            str(tmp_path / "cache"),
        ]
    )
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"error: --out {tmp_path / 'out'}: cannot write there ({words}). Pass a folder you can write to"


# --------------------------------------------------------------------------- 5. long names


def test_a_very_long_photo_name_gets_a_short_stable_id(tmp_path, standin_weights):
    name = "a" * 120 + " photo " + "b" * 117 + ".png"  # 250 characters
    images = one_photo(tmp_path / "photo", name)
    proc = quick(images, tmp_path / "out", tmp_path / "cache", standin_weights)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    (image,) = manifest["images"]
    assert len(image["id"]) <= 80 and image["id"].startswith("aaaa")
    assert image["title"] == Path(name).stem
    assert (tmp_path / "out" / image["seen"]).is_file()
    again = quick(images, tmp_path / "out2", tmp_path / "cache", standin_weights)
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "out2" / "manifest.json").read_text())["images"][0]["id"] == image["id"]


# --------------------------------------------------------------------------- 6. smaller things


def test_a_rebuild_with_fewer_photos_leaves_nothing_of_the_photo_that_went(tmp_path, standin_weights):
    """No figure, copy or empty folder of a photo taken out of the image folder stays in ``--out``."""
    images = one_photo(tmp_path / "photos")
    shutil.copy(IMAGES / "coffee.png", images / "coffee.png")
    out, cache = tmp_path / "out", tmp_path / "cache"
    only = ("--only", "predictions", "feature_maps")
    first = run_generator(*quick_args(images, out, cache, standin_weights, *only))
    assert first.returncode == 0, first.stderr
    assert any("coffee" in p.name for p in out.rglob("*"))  # the photo's figures and folders were there
    (images / "coffee.png").unlink()
    again = run_generator(*quick_args(images, out, cache, standin_weights, *only))
    assert again.returncode == 0, again.stderr
    assert [p for p in out.rglob("*") if "coffee" in p.name] == []
    assert [d for d in out.rglob("*") if d.is_dir() and not any(d.iterdir())] == []


def test_weights_folder_is_named_as_a_folder(tmp_path):
    images = one_photo(tmp_path / "photo")
    proc = generator(
        "build",
        "--profile",
        "quick",
        "--images",
        str(images),
        "--out",
        str(tmp_path / "out"),
        "--weights",
        str(tmp_path),
    )
    assert proc.returncode == 2
    (line,) = error_lines(proc)
    assert "is a folder, not a checkpoint file" in line and "vgg16-397923af.pth" in line


def test_a_bad_weights_file_the_user_passed_is_not_to_be_deleted(tmp_path):
    import torch

    from generator.models import WeightsError, load_state_dict

    bad = tmp_path / "mine.pth"
    torch.save({"not_vgg.weight": torch.zeros(1)}, bad)  # loads, but is not a VGG16
    with pytest.raises(WeightsError) as err:
        load_state_dict(bad, explicit=True)
    assert "not a torchvision VGG16 state dict" in str(err.value)
    assert "delete" not in str(err.value) and "--weights" in str(err.value)
    with pytest.raises(WeightsError) as err:
        load_state_dict(bad, explicit=False)
    assert f"delete {bad}" in str(err.value)


def test_an_empty_image_folder_is_one_plain_line(tmp_path, standin_weights):
    (tmp_path / "empty").mkdir()
    proc = quick(tmp_path / "empty", tmp_path / "out", tmp_path / "cache", standin_weights)
    assert proc.returncode == 1
    lines = error_lines(proc)
    assert lines and all("ImageError" not in line for line in lines + proc.stderr.splitlines()), proc.stderr
    assert any("holds no photos" in line for line in lines)


def test_unicode_names_keep_their_title_and_transliterate_the_id(tmp_path, standin_weights):
    images = one_photo(tmp_path / "photo", "ünïcødé name.png")
    proc = quick(images, tmp_path / "out", tmp_path / "cache", standin_weights)
    assert proc.returncode == 0, proc.stderr
    (image,) = json.loads((tmp_path / "out" / "manifest.json").read_text())["images"]
    assert image["id"] == "unicode-name"
    assert image["title"] == "ünïcødé name"


def test_a_link_out_of_the_image_folder_is_named(tmp_path):
    from generator.images import discover

    outside = tmp_path / "elsewhere.png"
    shutil.copy(IMAGES / "coffee.png", outside)
    images = one_photo(tmp_path / "photo")
    (images / "linked.png").symlink_to(outside)
    found, problems = discover(images)
    assert {i.id for i in found} == {"chelsea", "linked"}
    (note,) = [p for p in problems if "linked.png" in p]
    assert str(outside) in note and "outside the image folder" in note and "\n" not in note


def test_library_warnings_become_one_line(tmp_path, capsys):
    import warnings

    from generator import cli

    cli.main(["list"])  # installs the warning hook
    warnings.warn_explicit("constrained_layout not applied because\naxes sizes collapsed", UserWarning, "x.py", 1)
    err = capsys.readouterr().err
    assert "warning: UserWarning: constrained_layout not applied because axes sizes collapsed" in err


def test_two_builds_into_one_folder_take_turns(tmp_path, standin_weights):
    """The second build waits for the first (one line), then finds its work in the cache."""
    images = one_photo(tmp_path / "photo")
    out, cache = tmp_path / "out", tmp_path / "cache"
    out.mkdir()
    from generator.build.paths import FolderLock

    with FolderLock(out):
        refused = quick(images, out, cache, standin_weights, "--no-wait")
        assert refused.returncode != 0
        assert "another build is writing" in refused.stderr and "Traceback" not in refused.stderr
        result: dict = {}
        waiter = threading.Thread(target=lambda: result.setdefault("proc", quick(images, out, cache, standin_weights)))
        waiter.start()
        time.sleep(8)
        assert waiter.is_alive()  # waiting for the lock we hold
    waiter.join(timeout=600)
    proc = result["proc"]
    assert proc.returncode == 0, proc.stderr
    assert f"waiting for another build that is writing {out}" in proc.stderr


def test_offline_without_weights_builds_the_untrained_half_and_says_what_is_missing(tmp_path, monkeypatch):
    import torch

    from generator import models
    from generator.build import Build, BuildOptions
    from generator.chapters import registry
    from generator.config import get_profile

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # nothing cached there

    def offline(progress: bool = True):
        raise models.WeightsError(
            f"{models.default_checkpoint_path()}: ImageNet weights are not cached and could "
            f"not be downloaded (no network). Fix: put torchvision's vgg16-397923af.pth at "
            f"exactly that path, or pass --weights PATH"
        )

    from generator import weights

    monkeypatch.setattr(weights, "fetch_checkpoint", offline)
    techniques = registry()  # every chapter, so that the site can be built from what comes out
    opts = BuildOptions(
        profile=get_profile("quick"),
        images_dir=one_photo(tmp_path / "photo"),
        out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        weights=models.WeightsSource(None, explicit=False),
        device=torch.device("cpu"),
        progress=False,
        jobs=1,
    )
    report = Build(opts, techniques).run()
    assert not report.ok
    (failure,) = report.failures  # one line, once, naming the fix
    assert failure.where == "trained VGG16" and "pass --weights PATH" in failure.message
    out = tmp_path / "out"
    assert (out / "manifest.json").is_file() and not (out / ".incomplete").exists()
    assert (out / "fragments" / "architecture.table.md").is_file()  # untrained only: fully built
    for name in ("feature_maps", "filters", "predictions", "saliency"):
        fragments = sorted((out / "fragments").glob(f"{name}.*md"))
        assert fragments, name
        for f in fragments:
            assert f.read_text().startswith('!!! warning "Not built: this part needs the trained VGG16"'), f
    # what the untrained model needs was computed and cached, so a rerun with weights only adds the rest
    cached = {p.parent.name for p in (tmp_path / "cache").rglob("*.npz")}
    assert {"feature_maps", "filters", "predictions", "architecture"} <= cached
    manifest = json.loads((out / "manifest.json").read_text())
    assert [t["name"] for t in manifest["techniques"]] == ["architecture"]
    assert manifest["weights"]["available"] is False
    page = (out / "fragments" / "build.md").read_text()  # the build page does not claim ImageNet weights
    assert "**not available** when this site was built" in page and "torchvision's ImageNet file |" not in page
    assert "| [Saliency maps](saliency.md) | not built |" in page
    home = (out / "fragments" / "networks.md").read_text()  # nor does the home page
    assert '!!! warning "This build had no trained weights"' in home and "which this build **could not load**" in home
    assert "IMAGENET1K_V1`)" in home and "stand-in" not in home
    # ... and the site builds, strictly, with a "Not built" notice where each chapter's figures would be
    from tests.test_site_browser import _copy_sources, _run

    work = tmp_path / "site-work"
    work.mkdir()
    _copy_sources(work)
    shutil.copytree(out, work / "docs" / "generated")
    _run([sys.executable, "-m", "properdocs", "build", "--strict", "-f", str(work / "mkdocs.yml"), "-d",
          str(work / "site")], cwd=work, timeout=600, what="The strict site build without trained weights")  # fmt: skip
    site = work / "site"
    for page in ("feature-maps", "saliency", "trust", "activation-maximisation", "conclusions"):
        html = (site / page / "index.html").read_text(encoding="utf-8")
        assert "Not built: this part needs the trained VGG16" in html or page == "conclusions", page
    assert "architecture/_all" in (site / "vgg16" / "index.html").read_text(encoding="utf-8")  # needs no weights
    assert "This build had no trained weights" in (site / "index.html").read_text(encoding="utf-8")


def test_device_cuda_without_cuda_is_refused_before_any_folder_is_made(tmp_path, standin_weights):
    out, cache = tmp_path / "out", tmp_path / "cache"
    proc = run_generator(*quick_args(IMAGES, out, cache, standin_weights, "--device", "cuda"),
                         env_extra={"CUDA_VISIBLE_DEVICES": ""})  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: --device cuda: no CUDA device is visible") and "--device cpu" in line
    assert not out.exists() and not cache.exists()


def _descendants(pid: int) -> dict[int, str]:
    """Every live (not zombie) descendant of ``pid``: pid -> command line, read from /proc."""
    children: dict[int, list[int]] = {}
    lines: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != "Z":
            children.setdefault(int(ppid), []).append(int(entry.name))
            lines[int(entry.name)] = cmd
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = lines[child]
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGINT"])
def test_a_build_stopped_while_rendering_leaves_no_process_behind(tmp_path, standin_weights, sig):
    """kill -9 gives the build no chance to clean up: its render workers notice and exit. Ctrl-C stops them
    at once instead of letting them finish their figures."""
    import signal
    import sys

    from tests.conftest import ROOT

    args = quick_args(IMAGES, tmp_path / "out", tmp_path / "cache", standin_weights,
                      "--only", "architecture", "predictions", "feature_maps", "filters", "--jobs", "2")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "generator", *args], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 300
        workers: dict[int, str] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            found = _descendants(proc.pid)
            forkservers = [p for p, cmd in found.items() if "forkserver" in cmd]
            if forkservers and any(p != f for p in found for f in forkservers if p in _descendants(f)):
                workers = found  # a render worker exists: the build is rendering
                break
            time.sleep(0.05)
        assert workers, "the build never reached its render workers"
        proc.send_signal(getattr(signal, sig))
        rc = proc.wait(timeout=60)
        # Ctrl-C while the workers run gives 130; one that lands as the build is finishing (its pool shutting
        # down, on a fast machine) may let it finish with 0. Either way no process of it may remain.
        assert rc == -9 if sig == "SIGKILL" else rc in (0, 130), rc
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(p) for p in workers):
            time.sleep(0.2)
        left = {p: cmd[:90] for p, cmd in workers.items() if _alive(p)}
        assert not left, f"still running 10 s after {sig}: {left}"
    finally:
        if proc.poll() is None:
            proc.kill()
