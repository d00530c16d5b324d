"""The unit explorer shows the network's numbers: its data (atlases and JSON) against the arrays, and the
page in headless Chromium against activations computed here in Python."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generator.render.explorer import atlas, receptive_field

EXPLORER = Path("figures/feature_maps/explorer")


def _index(build: Path) -> dict:
    return json.loads((build / EXPLORER / "index.json").read_text())


def test_atlas_layout_and_receptive_fields():
    maps = np.arange(5 * 2 * 3, dtype=np.uint8).reshape(5, 2, 3)
    grey, cols = atlas(maps)
    assert cols == 3 and grey.shape == (4, 9)
    assert np.array_equal(grey[2:4, 3:6], maps[4])  # channel 4: row 1, column 1
    assert receptive_field("block1_conv1") == {"size": 3, "jump": 1, "start": 0.5}
    assert receptive_field("block1_pool") == {"size": 6, "jump": 2, "start": 1.0}
    assert receptive_field("block3_conv3")["size"] == 40  # 1 + 2·2 + 1 + 2·2·2 + 2 + 3·2·4
    assert receptive_field("block5_conv3")["size"] == 196


def test_the_data_covers_every_photo_layer_and_model(quick_build):
    index = _index(quick_build)
    manifest = json.loads((quick_build / "manifest.json").read_text())
    assert [p["id"] for p in index["photos"]] == [i["id"] for i in manifest["images"]]
    assert [m["name"] for m in index["models"]] == ["trained", "untrained"]
    from generator.models import MODELS

    assert {m["name"]: m["colour"] for m in index["models"]} == {n: MODELS[n].colour for n in MODELS}
    assert len(index["layers"]) == 18
    for photo in index["photos"]:
        with Image.open(quick_build / EXPLORER / photo["thumb"]) as thumb:
            assert thumb.size == (96, 96)
        for model in index["models"]:
            stats = json.loads((quick_build / EXPLORER / photo["id"] / f"{model['name']}.json").read_text())
            for layer in index["layers"]:
                name = layer["name"]
                path = quick_build / EXPLORER / photo["id"] / model["name"] / f"{name}.png"
                with Image.open(path) as im:
                    assert im.mode == "L"
                    rows = -(-layer["channels"] // layer["cols"])
                    assert im.size == (layer["cols"] * layer["stored_width"], rows * layer["stored_height"])
                s = stats["layers"][name]
                assert len(s["scale"]) == len(s["mean"]) == layer["channels"]
                assert all(v >= 0 for v in s["scale"])


def _expected(standin_weights, photo: str, layer: str, model: str) -> torch.Tensor:
    """The activations of ``layer`` (C x h x w) for one photo of the quick build, computed here."""
    from generator import images, models
    from generator.lib.layers import activations

    net = models.build_trained(standin_weights) if model == "trained" else models.build_untrained()
    root = Path(__file__).resolve().parents[1] / "images"
    path = next(p for p in root.iterdir() if p.stem.replace("_", "-") == photo)
    x = images.prepare(images.load_rgb(path), 64).tensor
    with torch.no_grad():
        return activations(net, x, [layer])[layer][0].float()


def test_the_atlases_hold_the_activations(quick_build, standin_weights):
    index = _index(quick_build)
    for layer, model in (("block3_conv3", "trained"), ("block2_pool", "untrained")):
        meta = next(entry for entry in index["layers"] if entry["name"] == layer)
        act = _expected(standin_weights, "chelsea", layer, model)
        stats = json.loads((quick_build / EXPLORER / "chelsea" / f"{model}.json").read_text())["layers"][layer]
        grey = np.asarray(Image.open(quick_build / EXPLORER / "chelsea" / model / f"{layer}.png"))
        h, w, cols = meta["stored_height"], meta["stored_width"], meta["cols"]
        assert meta["factor"] == 1 and (h, w) == tuple(act.shape[1:])
        for c in range(act.shape[0]):
            r, k = divmod(c, cols)
            value = grey[r * h:(r + 1) * h, k * w:(k + 1) * w] * stats["scale"][c] / 255
            step = stats["scale"][c] / 255
            assert np.abs(value - act[c].numpy()).max() <= step / 2 + 1e-6 * max(1.0, stats["scale"][c])
            assert stats["mean"][c] == pytest.approx(float(act[c].mean()), rel=1e-5, abs=1e-7)


def test_receptive_fields_match_the_architecture_table():
    """The explorer's receptive-field geometry, worked out without a model, equals the table the
    architecture chapter reads from the model itself."""
    import torchvision

    from generator.models import FEATURE_LAYERS, feature_index
    from generator.techniques.architecture import receptive_fields

    table = receptive_fields(torchvision.models.vgg16(weights=None, init_weights=False).features)
    for layer in FEATURE_LAYERS:
        size, jump = table[feature_index(layer)]
        rf = receptive_field(layer)
        assert (rf["size"], rf["jump"]) == (size, jump), layer
