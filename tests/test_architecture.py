"""The shape the architecture issue left: a library importable without the site, one resolver,
the numeric context restored, and the `same` check that guards refactors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
import torchvision

from tests.conftest import ROOT


def test_library_imports_without_the_site():
    """generator.lib must not pull in the build, the site, the renderers or the chapters."""
    code = (
        "import sys, generator.lib as lib; "
        "bad = [m for m in sys.modules if m.startswith(('generator.build', 'generator.site', "
        "'generator.render', 'generator.chapters', 'generator.core', 'generator.models', 'matplotlib', 'jinja2'))]; "
        "print(bad); print(sorted(lib.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    bad, names = out.stdout.splitlines()
    assert bad == "[]", bad
    for name in (
        "grad_cam",
        "grad_cam_plus_plus",
        "smoothgrad",
        "saliency",
        "guided_backprop",
        "activation_maximisation",
        "class_model",
        "invert",
        "resolve_layer",
    ):
        assert f"'{name}'" in names


def test_lib_works_on_a_resnet_by_name_and_by_module():
    from generator.lib import grad_cam, resolve_layer

    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    x = torch.rand(2, 3, 64, 64)
    by_name = grad_cam(net, x, [1, 2], "layer4")
    by_module = grad_cam(net, x, [1, 2], net.layer4)
    assert by_name.shape == (2, 64, 64)
    assert torch.equal(by_name, by_module)
    assert resolve_layer(net, net.layer4).path == "layer4"
    with pytest.raises(ValueError, match="not a VGG16"):
        resolve_layer(net, "block5_conv3")


def test_flush_denormals_restores_the_previous_setting():
    from generator.lib.optvis.common import flush_denormals, flushing_denormals

    assert not flushing_denormals()
    with flush_denormals():
        assert flushing_denormals()
        with flush_denormals():
            assert flushing_denormals()
        assert flushing_denormals()  # the inner context put back the outer one's setting
    assert not flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        with flush_denormals():
            pass
        assert flushing_denormals()  # it was on before, so it stays on
    finally:
        torch.set_flush_denormal(False)


def test_same_compares_folders_and_names_what_differs(tmp_path):
    from generator.build.same import main

    old, new = tmp_path / "old", tmp_path / "new"
    for root in (old, new):
        (root / "figures" / "a").mkdir(parents=True)
        (root / ".state").mkdir()
        (root / "figures" / "a" / "x.png").write_bytes(b"same")
        (root / "manifest.json").write_text(json.dumps({"profile": "quick"}))
    (old / ".state" / "a.json").write_text("old key")
    (new / ".state" / "a.json").write_text("new key")  # bookkeeping: ignored
    assert main([str(old), "--new", str(new)]) == 0
    (new / "figures" / "a" / "x.png").write_bytes(b"changed")
    (new / "figures" / "a" / "y.png").write_bytes(b"extra")
    assert main([str(old), "--new", str(new)]) == 1
    assert main([str(old), "--new", str(new), "--allow", "figures/a/*"]) == 0
    sums = tmp_path / "sums.json"
    assert main([str(old), "--record", str(sums)]) == 0
    assert json.loads(sums.read_text())["profile"] == "quick"
    assert main([str(sums), "--new", str(old)]) == 0
    assert main([str(tmp_path / "missing")]) == 2


def test_same_cli_reports_differences_in_one_line_each(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    for root, data in ((old, b"a"), (new, b"b")):
        root.mkdir()
        (root / "f.md").write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-m", "generator.build.same", str(old), "--new", str(new)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stdout.strip() == "DIFFERS      changed  f.md"
    assert "0 identical, 1 unexpected difference(s)" in proc.stderr
