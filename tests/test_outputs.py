"""Named outputs: what a chapter publishes is declared once, read through the declaration, and really there."""

from __future__ import annotations

import importlib
import re

import pytest

from generator.build.cache import ResultCache
from generator.chapters import registry
from generator.core import Output, OutputFamily, Result, declared
from tests.conftest import ROOT


def _declared_outputs() -> dict[str, list[Output]]:
    out = {}
    for name in registry():
        spec = importlib.import_module(f"generator.chapters.{name}.spec")
        out[name] = declared(vars(spec).values())
    return out


def _results(quick_build, name: str) -> list[Result]:
    """Every unit result of one technique in the shared quick build's cache."""
    cache = ResultCache(quick_build.parent / "cache")
    folder = quick_build.parent / "cache" / name
    results = [cache.get(name, p.name.split(".")[0]) for p in sorted(folder.iterdir())]
    return [r for r in results if r is not None]


def test_every_declared_output_is_in_a_real_build(quick_build):
    outputs = _declared_outputs()
    assert sum(map(len, outputs.values())) >= 30  # saliency, grad_cam, predictions, feature_maps publish
    for name, declared_here in outputs.items():
        results = _results(quick_build, name)
        assert declared_here == [] or results, f"no cached results of {name}"
        for out in declared_here:
            assert out.technique == name, f"{out.key} is declared in {name}'s spec but names {out.technique}"
            present = [out.present(r) for r in results]
            if out.optional:
                assert any(present), f"{name}: optional output {out.key!r} is in no result of the quick build"
            else:
                assert all(present), f"{name}: output {out.key!r} ({out.doc}) missing from a result"
            for r in results:
                if out.present(r):
                    out.read(r)  # the accessor a consumer uses works on the real thing


def test_a_misspelt_output_fails_where_it_is_asked_for():
    from generator.chapters.saliency import spec as saliency

    with pytest.raises(KeyError, match="valid: grad_cam"):
        saliency.CAM("grad_cma", "block5_conv3")
    with pytest.raises(KeyError, match="block5_conv3"):
        saliency.CAM("grad_cam", "block5_conv4")
    with pytest.raises(TypeError):
        saliency.CAM("grad_cam")
    with pytest.raises(KeyError, match="saliency's result has no array 'gradient'"):
        saliency.GRADIENT.read(Result())
    with pytest.raises(ImportError):
        from generator.chapters.saliency.spec import GRADEINT  # noqa: F401


def test_families_expand_to_every_member():
    fam = OutputFamily("t", "cam", "doc", axes=(("a", "b"), lambda: ("x",)))
    assert [o.key for o in fam.all()] == ["cam.a.x", "cam.b.x"]
    assert fam("b", "x") == Output("t", "cam.b.x", "doc")


def test_no_chapter_reads_another_by_a_string():
    """Cross-chapter reads go through the producer's spec (ctx.result(spec.TECHNIQUE, ...) and its outputs),
    never ``ctx.result("name", ...)`` or an f-string array key."""
    offenders = []
    for path in sorted((ROOT / "generator" / "chapters").glob("*/*.py")):
        text = path.read_text(encoding="utf-8")
        for n, line in enumerate(text.splitlines(), 1):
            if re.search(r"ctx\.result\(\s*[\"']", line) or re.search(r"\.arrays\[f[\"']", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    # a chapter's renderer reading its *own* technique's per-layer arrays is allowed: only compute.py reads others
    offenders = [o for o in offenders if "/compute.py:" in o]
    assert not offenders, "\n".join(offenders)
