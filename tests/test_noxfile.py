"""The noxfile's preflight for `nox -s site` and `nox -s serve`: a chapter that includes a generated file
the last build did not write stops the session with one line naming the page, the file and the fix.

nox itself is not a test dependency, so the noxfile is loaded against a stand-in ``nox`` module."""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest

from tests.conftest import ROOT


class Stop(Exception):
    pass


class FakeSession:
    def error(self, message: str):
        raise Stop(message)


@pytest.fixture
def noxfile(monkeypatch, tmp_path):
    fake = types.ModuleType("nox")
    fake.options = types.SimpleNamespace()
    fake.session = lambda **kwargs: lambda f: f
    fake.Session = object
    monkeypatch.setitem(sys.modules, "nox", fake)
    spec = importlib.util.spec_from_file_location("project_noxfile", ROOT / "noxfile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", tmp_path)
    return module


def _docs(root, page_text: str, fragments: list[str]):
    (root / "docs" / "generated" / "fragments").mkdir(parents=True)
    (root / "docs" / "generated" / "manifest.json").write_text("{}")
    (root / "docs" / "chapter.md").write_text(page_text)
    for name in fragments:
        (root / "docs" / "generated" / "fragments" / name).write_text("x\n")


def test_the_real_chapters_include_the_home_pages_weights_note(noxfile, monkeypatch):
    monkeypatch.setattr(noxfile, "ROOT", ROOT)
    found = noxfile.included_fragments()
    assert ("index.md", "generated/fragments/networks.md") in found
    assert all(path.startswith("generated/") for _, path in found) and len(found) > 30


def test_a_missing_fragment_stops_the_site_build_in_one_line(noxfile, tmp_path):
    page = 'Intro.\n\n--8<-- "generated/fragments/a.md"\n\n!!! note\n    --8<-- "generated/fragments/b.md"\n'
    _docs(tmp_path, page, ["a.md"])
    with pytest.raises(Stop) as stop:
        noxfile.require_generated(FakeSession())
    message = str(stop.value)
    assert "\n" not in message
    assert "docs/chapter.md includes docs/generated/fragments/b.md" in message and "rerun `nox -s build`" in message


def test_present_fragments_and_escaped_examples_pass(noxfile, tmp_path):
    # `;--8<--` is how a page shows the syntax without including anything (docs/contributing.md)
    page = '--8<-- "generated/fragments/a.md"\n\n```\n;--8<-- "generated/fragments/missing.md"\n```\n'
    _docs(tmp_path, page, ["a.md"])
    noxfile.require_generated(FakeSession())  # no Stop
