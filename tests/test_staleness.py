"""Caches are never stale: every hole the architecture review found, closed and pinned.

* a consumer's key chains the keys of the upstream units it reads, so changing
  saliency's settings recomputes the cascade (and Grad-CAM);
* the code hash follows imports transitively, lazy imports inside functions
  included, so editing a helper recomputes its users;
* render-only settings are outside the unit keys: changing Grad-CAM's overlay
  ``alpha`` recomputes nothing, but the figures change;
* a technique may only read what it declares in ``needs``;
* the run order follows ``needs``, and a cycle or an unknown name is one line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from generator.build import keys
from generator.chapters import registry, run_order
from generator.config import get_profile
from generator.core import Result
from tests.conftest import IMAGES

# --------------------------------------------------------------------------- code hash


def test_code_hash_follows_lazy_imports_transitively(tmp_path, monkeypatch):
    """A package whose technique imports a helper only inside a function, which imports another."""
    pkg = tmp_path / "generator"
    (pkg / "techniques").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "techniques" / "__init__.py").write_text("")
    (pkg / "techniques" / "t.py").write_text("def compute():\n    from generator.helper import f\n    return f()\n")
    (pkg / "helper.py").write_text("def f():\n    from . import deep\n    return deep.g()\n")
    (pkg / "deep.py").write_text("def g():\n    return 1\n")
    (pkg / "unrelated.py").write_text("x = 1\n")
    monkeypatch.setattr(keys, "PACKAGE_DIR", pkg)
    keys.forget()
    try:
        assert keys.reachable("generator.techniques.t") == [
            "generator",
            "generator.deep",
            "generator.helper",
            "generator.techniques",
            "generator.techniques.t",
        ]
        before = keys.code_hash("generator.techniques.t")
        (pkg / "deep.py").write_text("def g():\n    return 2\n")
        keys.forget()
        assert keys.code_hash("generator.techniques.t") != before
    finally:
        monkeypatch.undo()
        keys.forget()


def test_real_lazy_imports_are_followed():
    # chapters/saliency/render.py imports its compute module (method_maps) inside render(); the Grad-CAM
    # renderer reaches the library through the methods registry
    assert "generator.chapters.saliency.compute" in keys.imports_of("generator.chapters.saliency.render")
    assert {"generator.render.overlays", "generator.lib.methods", "generator.lib.attr", "generator.lib.engine"} <= set(
        keys.reachable("generator.chapters.grad_cam.render")
    )
    assert "generator.chapters.predictions.compute" in keys.reachable("generator.chapters.saliency.compute")


def test_settings_values_are_not_code():
    """Editing a TECHNIQUE's settings is not a code change (the values are hashed where they apply)."""
    import ast

    tree = ast.parse(
        "TECHNIQUE = Technique(name='x', compute_settings={'quick': {'k': 1}}, "
        "render_settings={'quick': {'alpha': 0.5}}, needs=('a',))"
    )
    edited = ast.parse(
        "TECHNIQUE = Technique(name='x', compute_settings={'quick': {'k': 2}}, "
        "render_settings={'quick': {'alpha': 0.9}}, needs=('a',))"
    )
    assert keys._settings_free_dump(tree) == keys._settings_free_dump(edited)
    other = ast.parse("TECHNIQUE = Technique(name='x', compute_settings={}, needs=('b',))")
    assert keys._settings_free_dump(tree) != keys._settings_free_dump(other)
    assert "compute_settings" in ast.dump(tree)  # the tree itself is left as it was


# --------------------------------------------------------------------------- builds


def _build(root: Path, weights: Path, techniques=None, only=None):
    from generator.build import Build, BuildOptions
    from generator.models import WeightsSource

    images = root.parent / "photo"
    if not images.is_dir():
        images.mkdir(parents=True)
        shutil.copy(IMAGES / "chelsea.png", images / "chelsea.png")
    opts = BuildOptions(
        profile=get_profile("quick"),
        images_dir=images,
        out_dir=root / "out",
        cache_dir=root / "cache",
        weights=WeightsSource(weights, explicit=True),
        device=torch.device("cpu"),
        only=only,
        progress=False,
        jobs=1,  # render in this process: a worker costs seconds to start (the worker tests ask for them)
    )
    build = Build(opts, techniques)
    report = build.run()
    assert report.ok, report.failures
    return {
        name: report.stats[name].computed if name in report.stats else 0
        for name in ("saliency", "grad_cam", "cascading_randomisation")
    }


def _figures(out: Path, technique: str) -> dict[str, str]:
    root = out / "figures" / technique
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _with(name: str, **changes) -> dict:
    techniques = registry()
    techniques[name] = dataclasses.replace(techniques[name], **changes)
    return techniques


ONLY = ["grad_cam", "cascading_randomisation"]


@pytest.fixture(scope="module")
def warm(tmp_path_factory, standin_weights):
    """A cache holding Grad-CAM and the cascade (and what they need) for one photo."""
    root = tmp_path_factory.mktemp("stale") / "b"
    first = _build(root, standin_weights, only=ONLY)
    assert first["cascading_randomisation"] == 1 and first["grad_cam"] == 2
    assert _build(root, standin_weights, only=ONLY) == {"saliency": 0, "grad_cam": 0, "cascading_randomisation": 0}
    return root


@pytest.mark.slow
def test_changing_saliency_settings_recomputes_its_consumers(warm, standin_weights):
    sal = registry()["saliency"]
    settings = {p: dict(v) for p, v in sal.compute_settings.items()}
    settings["quick"]["smoothgrad_n"] += 1
    counts = _build(warm, standin_weights, _with("saliency", compute_settings=settings), only=ONLY)
    assert counts == {"saliency": 2, "grad_cam": 2, "cascading_randomisation": 1}


@pytest.mark.slow
def test_editing_a_helper_recomputes_its_users(warm, standin_weights, monkeypatch):
    # generator.lib.engine is reached from the saliency technique only through other modules
    monkeypatch.setitem(keys._SOURCE_MEMO, "generator.lib.engine", "edited")
    counts = _build(warm, standin_weights, only=ONLY)
    assert counts == {"saliency": 2, "grad_cam": 2, "cascading_randomisation": 1}


@pytest.mark.slow
def test_a_render_setting_recomputes_nothing_but_changes_the_figures(warm, standin_weights):
    before = _figures(warm / "out", "grad_cam")
    counts = _build(
        warm,
        standin_weights,
        _with("grad_cam", render_settings={p: {"alpha": 0.8} for p in ("quick", "default", "full")}),
        only=ONLY,
    )
    assert counts == {"saliency": 0, "grad_cam": 0, "cascading_randomisation": 0}
    after = _figures(warm / "out", "grad_cam")
    assert before.keys() == after.keys()
    assert [k for k in before if before[k] != after[k]], "no figure changed"


def test_reading_an_undeclared_technique_is_refused(tmp_path, standin_weights):
    def sneaky(ctx, model, image):
        ctx.result("feature_maps", image.id, model.name)
        return Result()

    from generator.build import Build, BuildOptions
    from generator.models import WeightsSource

    images = tmp_path / "photo"
    images.mkdir()
    shutil.copy(IMAGES / "chelsea.png", images / "chelsea.png")
    techniques = _with("grad_cam", compute=sneaky)
    opts = BuildOptions(
        profile=get_profile("quick"),
        images_dir=images,
        out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        weights=WeightsSource(standin_weights, explicit=True),
        device=torch.device("cpu"),
        only=["grad_cam"],
        progress=False,
        jobs=1,  # render in this process: a worker costs seconds to start (the worker tests ask for them)
    )
    report = Build(opts, techniques).run()
    messages = [f.message for f in report.failures]
    assert messages and all("does not declare" in m and "needs=" in m for m in messages), messages


# --------------------------------------------------------------------------- order


def test_run_order_follows_needs_and_refuses_cycles_and_unknown_names():
    techniques = registry()
    order = [t.name for t in run_order(techniques)]
    for t in techniques.values():
        assert all(order.index(n) < order.index(t.name) for n in t.needs), t.name
    assert [t.name for t in run_order(techniques, ["cascading_randomisation"])] == [
        "feature_maps",
        "predictions",
        "saliency",
        "cascading_randomisation",
    ]
    reverse = dict(reversed(list(techniques.items())))
    assert [t.name for t in run_order(reverse, ["grad_cam"])] == ["feature_maps", "predictions", "saliency", "grad_cam"]
    cyclic = _with("feature_maps", needs=("saliency",))
    with pytest.raises(ValueError, match="cycle") as err:
        run_order(cyclic)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="needs unknown technique.*nope"):
        run_order(_with("filters", needs=("nope",)))
    with pytest.raises(ValueError, match="unknown technique.*nope"):
        run_order(techniques, ["nope"])


def test_editing_a_photos_credit_recomputes_what_uses_it(tmp_path, standin_weights):
    """The expected class in CREDITS.toml goes into the predictions' records, and titles into captions:
    changing the entry recomputes the predictions and redraws their figures (the photo's bytes are the same).
    Found in review: the keys used to hash only the photo's bytes, so an old expected class stayed cached."""
    import json

    from generator.build import Build, BuildOptions
    from generator.models import WeightsSource

    images = tmp_path / "photo"
    images.mkdir()
    shutil.copy(IMAGES / "chelsea.png", images / "chelsea.png")
    entry = (
        '[[image]]\nfile = "chelsea.png"\ntitle = "{title}"\nsource = "s"\nauthor = "a"\nlicence = "l"\n'
        'link = "https://example.org"\nlabel = "{label}"\nlabel_index = {index}\n'
    )
    opts = BuildOptions(
        profile=get_profile("quick"),
        images_dir=images,
        out_dir=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        weights=WeightsSource(standin_weights, explicit=True),
        device=torch.device("cpu"),
        only=["predictions"],
        progress=False,
        jobs=1,  # render in this process: a worker costs seconds to start (the worker tests ask for them)
    )

    def run(title, label, index):
        (images / "CREDITS.toml").write_text(entry.format(title=title, label=label, index=index))
        report = Build(opts).run()
        assert report.ok, report.failures
        state = json.loads((tmp_path / "out" / ".state" / "predictions.json").read_text())
        return report.stats["predictions"].computed, state

    computed, state = run("Chelsea", "tabby", 281)
    assert computed == 2
    assert run("Chelsea", "tabby", 281)[0] == 0  # nothing changed
    computed, state = run("Chelsea", "tiger cat", 282)
    assert computed == 2
    captions = " ".join(f["caption"] for f in state["figures"])
    assert "tiger cat" in captions
    computed, state = run("Chelsea, renamed", "tiger cat", 282)  # the captions follow a new title
    assert "Chelsea, renamed" in " ".join(f["caption"] for f in state["figures"])
