"""Results never depend on build history (issue: reliability, part 1).

A technique that leaves a model in training mode (Dropout on) silently changes
every result computed after it.  These tests pin the three guarantees:

* a context that changes a model restores exactly what it changed, even when
  it is applied to a wrapper that shares modules with the real models;
* the pipeline refuses, in one line, a technique that leaves a model in
  training mode or with trainable parameters;
* every technique's output is the same whether it runs alone (with only what it
  needs), in a full build, or in a build that runs the techniques in reverse.

The builds here use one photo and the quick profile, in-process.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest
import torch
import torchvision

from generator.chapters import registry
from generator.config import get_profile
from generator.core import Result
from generator.site.pages import TIMED_FRAGMENTS
from tests.conftest import IMAGES

PHOTO = "chelsea.png"


def _vgg(seed: int):
    torch.manual_seed(seed)
    net = torchvision.models.vgg16(weights=None)
    from generator.models import _no_inplace

    _no_inplace(net).eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def test_explain_on_a_cascade_leaves_the_shared_models_in_eval_mode():
    """The bug as found: explain() on CascadeVGG restored 'training' into the shared modules."""
    from generator.chapters.cascading_randomisation.compute import CascadeVGG
    from generator.lib.engine import explain

    trained, untrained = _vgg(1), _vgg(2)
    cascade = CascadeVGG(trained, untrained, {"classifier", "block5"})
    assert not cascade.training
    x = torch.rand(1, 3, 32, 32)
    explain(cascade, x, target=3, cam_layers=["block5_conv3"], guided=True)
    for net in (trained, untrained):
        assert [n for n, m in net.named_modules() if m.training] == []
        assert [n for n, p in net.named_parameters() if p.requires_grad] == []


def test_prepared_restores_exactly_what_it_changed():
    """Mixed per-module modes and flags come back as they were, module by module."""
    from generator.lib.layers import prepared as _prepared

    net = _vgg(3)
    net.classifier[2].train()  # one Dropout in training mode, the rest eval
    net.features[0].weight.requires_grad_(True)
    net.features[1].inplace = True
    modes = {n: m.training for n, m in net.named_modules()}
    grads = {n: p.requires_grad for n, p in net.named_parameters()}
    with _prepared(net, channels_last=True):
        assert not any(m.training for m in net.modules())
        assert not any(p.requires_grad for p in net.parameters())
    assert {n: m.training for n, m in net.named_modules()} == modes
    assert {n: p.requires_grad for n, p in net.named_parameters()} == grads
    assert net.features[1].inplace is True
    assert net.features[0].weight.is_contiguous()


# --------------------------------------------------------------------------- builds


def _options(root: Path, weights: Path, only=None, cache: Path | None = None):
    from generator.build import BuildOptions
    from generator.models import WeightsSource

    images = root.parent / "photo"
    if not images.is_dir():
        images.mkdir(parents=True)
        shutil.copy(IMAGES / PHOTO, images / PHOTO)
    return BuildOptions(
        profile=get_profile("quick"),
        images_dir=images,
        out_dir=root / "out",
        cache_dir=cache or root / "cache",
        weights=WeightsSource(weights, explicit=True),
        device=torch.device("cpu"),
        only=only,
        progress=False,
        jobs=1,  # render in this process: a worker costs seconds to start (the worker tests ask for them)
    )


def _run(root: Path, weights: Path, only=None, techniques=None, cache: Path | None = None):
    from generator.build import Build

    build = Build(_options(root, weights, only, cache), techniques)
    report = build.run()
    assert report.ok, [f"{f.where}: {f.message}" for f in report.failures]
    return build


def _files(out: Path) -> dict[str, str]:
    # Left out: the build page and .state/ record how long each unit took, which differs between two
    # cold builds by design (a rerun from the cache repeats them).
    return {
        p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
        and p.relative_to(out).as_posix() not in TIMED_FRAGMENTS
        and ".state" not in p.relative_to(out).parts
    }


def _results(build, name: str) -> dict:
    """Every unit result of a technique, as comparable bytes (npz files carry zip timestamps)."""
    tech = build.techniques[name]
    out = {}
    for unit in build.units(tech):
        res: Result = build.cache.load(name, build.unit_key(tech, *unit))
        out[unit] = ({k: (v.dtype.str, v.shape, v.tobytes()) for k, v in sorted(res.arrays.items())}, res.records)
    return out


def _technique_files(files: dict[str, str], name: str) -> dict[str, str]:
    return {p: h for p, h in files.items() if p.startswith(f"figures/{name}/") or p.startswith(f"fragments/{name}.")}


@pytest.fixture(scope="module")
def full_build(tmp_path_factory, standin_weights):
    root = tmp_path_factory.mktemp("order") / "full"
    return _run(root, standin_weights)


@pytest.mark.slow
def test_reverse_order_build_is_identical(full_build, tmp_path, standin_weights):
    reverse = dict(reversed(list(registry().items())))
    rev = _run(tmp_path / "reverse", standin_weights, techniques=reverse)
    assert _files(rev.opts.out_dir) == _files(full_build.opts.out_dir)
    for name in registry():
        assert _results(rev, name) == _results(full_build, name), name


@pytest.mark.slow
def test_every_technique_alone_matches_the_full_build(full_build, tmp_path, standin_weights):
    """Each technique in a build of its own, in a process that ran only what it needs, in site order.

    The alone builds share one cache (not the full build's), so a technique's dependencies come from the
    builds before it and each technique is computed once more, in another history than the full build's."""
    full = _files(full_build.opts.out_dir)
    for name in registry():
        alone = _run(tmp_path / name, standin_weights, only=[name], cache=tmp_path / "alone-cache")
        assert _results(alone, name) == _results(full_build, name), name
        mine = _technique_files(_files(alone.opts.out_dir), name)
        assert mine and mine == _technique_files(full, name), name


# --------------------------------------------------------------------------- the guard


@pytest.mark.parametrize("fault", ["train", "requires_grad"])
def test_pipeline_refuses_a_technique_that_leaves_a_model_changed(tmp_path, standin_weights, fault):
    """An internal error in one line; the unit is not cached; the next technique gets a clean model."""
    from generator.build import Build

    tech = registry()["predictions"]

    def leaky(ctx, model, image):
        if fault == "train":
            model.net.classifier.train()
        else:
            model.net.features[0].weight.requires_grad_(True)
        return Result(records={"x": 1})

    techniques = {
        "predictions": dataclasses.replace(tech, compute=leaky, models=("untrained",), needs=()),
        "filters": registry()["filters"],
    }
    build = Build(_options(tmp_path / "b", standin_weights), techniques)
    report = build.run()
    where = [f.where for f in report.failures]
    assert where == [f"predictions/{Path(PHOTO).stem}/untrained"], report.failures
    message = report.failures[0].message
    assert "\n" not in message and message.startswith("internal error:")
    assert ("training mode" if fault == "train" else "requiring grad") in message
    assert not any((tmp_path / "b" / "cache" / "predictions").glob("*.npz"))
    # filters ran after it on a freshly loaded model, in eval mode
    assert report.stats["filters"].computed == 2
    net = build.models.get("untrained").net
    assert not any(m.training for m in net.modules())
    assert not any(p.requires_grad for p in net.parameters())
