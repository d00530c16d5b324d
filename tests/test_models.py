"""The two VGG16s: layer names, out-of-place ReLUs, the seeded untrained model, and
loading (and refusing) trained weights.  No test touches the network."""

from __future__ import annotations

import io
import pathlib
import pickle
import urllib.error

import pytest
import torch
import torchvision
from torch import nn

from generator.config import SEED
from generator.models import (
    CHECKPOINT_NAME,
    CONV_LAYERS,
    DENSE_LAYERS,
    FEATURE_LAYERS,
    LAYERS,
    POOL_LAYERS,
    WeightsError,
    build_trained,
    build_untrained,
    conv_module,
    default_checkpoint_path,
    fetch_checkpoint,
    load_state_dict,
)


@pytest.fixture(scope="module")
def untrained():
    return build_untrained(SEED)


# --------------------------------------------------------------------------- names


def test_layer_names_follow_the_literature():
    assert len(CONV_LAYERS) == 13 and len(POOL_LAYERS) == 5 and DENSE_LAYERS == ["fc1", "fc2", "predictions"]
    assert CONV_LAYERS[0] == "block1_conv1" and CONV_LAYERS[-1] == "block5_conv3"
    assert FEATURE_LAYERS[-1] == "block5_pool" and len(FEATURE_LAYERS) == 18
    # every name points at the module whose output it is
    net = torchvision.models.vgg16(weights=None)
    mods = dict(net.named_modules())
    for name in CONV_LAYERS:
        assert isinstance(mods[LAYERS[name]], nn.ReLU)
        assert isinstance(conv_module(net, name), nn.Conv2d)
    for name in POOL_LAYERS:
        assert isinstance(mods[LAYERS[name]], nn.MaxPool2d)


def test_unknown_layer_names_the_valid_ones():
    from generator.lib.layers import resolve_layer

    with pytest.raises(ValueError) as err:
        resolve_layer(build_untrained(), "block6_conv1")
    msg = str(err.value)
    assert "block6_conv1" in msg and "block1_conv1" in msg and "predictions" in msg and "\n" not in msg


# --------------------------------------------------------------------------- untrained


def test_untrained_is_torchvision_default_init_with_the_documented_seed(untrained):
    torch.manual_seed(SEED)
    reference = torchvision.models.vgg16(weights=None).state_dict()
    ours = untrained.state_dict()
    assert ours.keys() == reference.keys()
    assert all(torch.equal(ours[k], reference[k]) for k in ours)


def test_untrained_build_leaves_the_global_rng_alone():
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    build_untrained(SEED)
    assert torch.equal(torch.rand(3), expected)


def test_models_are_frozen_eval_and_out_of_place(untrained):
    assert not untrained.training
    assert not any(p.requires_grad for p in untrained.parameters())
    relus = [m for m in untrained.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 15 and not any(r.inplace for r in relus)


def test_hook_on_a_conv_still_sees_negative_values(untrained):
    """The ReLU after a conv must not overwrite the conv's output in place (GUIDE §3)."""
    seen = {}
    handle = conv_module(untrained, "block2_conv1").register_forward_hook(
        lambda _m, _i, out: seen.setdefault("out", out)
    )  # keep the very tensor, no copy
    try:
        with torch.no_grad():
            untrained(torch.randn(1, 3, 64, 64))
    finally:
        handle.remove()
    assert seen["out"].min() < 0  # still negative after the whole forward pass


def test_torchvision_in_place_relu_would_overwrite(untrained):
    """The same hook on torchvision's stock model sees no negatives: the pitfall is real."""
    stock = torchvision.models.vgg16(weights=None).eval()
    seen = {}
    handle = stock.features[5].register_forward_hook(lambda _m, _i, out: seen.setdefault("out", out))
    with torch.no_grad():
        stock(torch.randn(1, 3, 64, 64))
    handle.remove()
    assert seen["out"].min() >= 0


# --------------------------------------------------------------------------- trained: loading


def _assert_same(net, state):
    loaded = net.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], state[k]) for k in state)


def test_trained_loads_a_state_dict_given_with_weights(standin_weights, standin_state_dict):
    net = build_trained(standin_weights)
    _assert_same(net, standin_state_dict)
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert not any(m.inplace for m in net.modules() if isinstance(m, nn.ReLU))


def test_trained_loads_from_the_torch_hub_cache(tmp_path, monkeypatch, standin_weights, standin_state_dict):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    target = tmp_path / "torch" / "hub" / "checkpoints" / CHECKPOINT_NAME
    assert default_checkpoint_path() == target
    target.parent.mkdir(parents=True)
    target.symlink_to(standin_weights)  # the 500 MB file, without copying it

    def no_download(*_a, **_k):
        raise AssertionError("must not download when the file is cached")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    _assert_same(build_trained(None), standin_state_dict)


# --------------------------------------------------------------------------- trained: refusing


def _refused(path) -> str:
    with pytest.raises(WeightsError) as err:
        load_state_dict(path)
    msg = str(err.value)
    assert str(path) in msg, msg
    assert "\n" not in msg, msg
    return msg


def test_missing_file_is_refused(tmp_path):
    msg = _refused(tmp_path / "nope.pth")
    assert "no such file" in msg and "--weights" in msg


def test_truncated_file_is_refused(tmp_path, standin_weights):
    path = tmp_path / "truncated.pth"
    with open(standin_weights, "rb") as fh:
        path.write_bytes(fh.read(1 << 20))
    msg = _refused(path)
    assert "truncated or corrupt" in msg


def test_wrong_keys_are_refused(tmp_path):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(2, 3, 3, 3), "fc.bias": torch.zeros(2)}, path)
    msg = _refused(path)
    assert "missing 32 keys" in msg and "2 unexpected keys" in msg and "conv1.weight" in msg


def test_wrong_shapes_are_refused(tmp_path, standin_state_dict):
    path = tmp_path / "tiny.pth"
    torch.save({k: torch.zeros(1) for k in standin_state_dict}, path)  # right keys, every shape wrong
    msg = _refused(path)
    assert "wrong shape for features.0.weight" in msg and "(64, 3, 3, 3)" in msg and "32 tensors differ" in msg


class _Payload:
    """Unpickling this runs code: it creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_pickle_carrying_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": torch.zeros(1), "trap": _Payload(marker)}, path)

    msg = _refused(path)
    assert "refused" in msg and "state dict" in msg and "holds Python code or objects" in msg
    assert "Weights only load failed" not in msg  # torch's own long text is not quoted
    assert not marker.exists(), "loading the weights ran code from the pickle"

    # The payload is live: an unsafe load really would have run it.
    probe = tmp_path / "probe"
    buf = io.BytesIO()
    pickle.dump(_Payload(probe), buf)
    pickle.loads(buf.getvalue())
    assert probe.exists()


def test_a_safetensors_file_is_refused_with_the_conversion(tmp_path):
    import json
    import struct

    header = json.dumps({"features.0.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    for name in ("vgg16.safetensors", "vgg16.pth"):  # by its name, and by its content under another name
        path = tmp_path / name
        path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0\0\0\0")
        msg = _refused(path)
        assert "is a safetensors file" in msg and "safetensors.torch.load_file" in msg, msg


def test_a_protocol_4_pickle_is_refused_in_one_line_with_no_stray_warning(tmp_path, standin_state_dict, recwarn):
    path = tmp_path / "old.pth"
    torch.save(standin_state_dict, path, pickle_protocol=4)
    msg = _refused(path)
    assert "pickle protocol (4 or 5)" in msg and "torch.save" in msg, msg
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_no_cache_and_no_network_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))

    def offline(*_a, **_k):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(WeightsError) as err:
        fetch_checkpoint(progress=False)
    msg = str(err.value)
    expected = tmp_path / "th" / "hub" / "checkpoints" / "vgg16-397923af.pth"
    assert str(expected) in msg and "--weights" in msg and "\n" not in msg
    assert "could not be downloaded" in msg
    assert not expected.exists()


def test_cli_refuses_a_missing_weights_file(tmp_path, capsys):
    from generator.cli import main

    missing = tmp_path / "missing.pth"
    rc = main(["build", "--weights", str(missing), "--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 2 and str(missing) in err and "Traceback" not in err


def test_describe_counts_every_parameter(untrained):
    from generator.chapters.architecture.compute import describe

    rows = describe(untrained, 224)
    assert [r["name"] for r in rows] == list(LAYERS)
    assert sum(r["params"] for r in rows) == sum(p.numel() for p in untrained.parameters()) == 138_357_544
    assert rows[0]["shape"] == [64, 224, 224] and rows[-1]["shape"] == [1000]
