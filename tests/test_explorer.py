"""The unit explorer shows the network's numbers: its data (atlases and JSON) against the arrays, and the
page in headless Chromium against activations computed here in Python."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from generator.chapters.explorer.render import atlas, receptive_field

EXPLORER = Path("figures/explorer")


def _index(build: Path) -> dict:
    return json.loads((build / EXPLORER / "index.json").read_text())


def _file(build: Path, kind: str, **fields) -> Path:
    """One of the explorer's files, found as the page finds it: from index.json's URL templates."""
    return build / EXPLORER / _index(build)["files"][kind].format(**fields)


def test_index_json_lists_every_file_the_explorer_wrote(quick_build):
    """Every file under figures/explorer/ matches one of index.json's URL templates (so the page can find it
    and nothing is written that it does not know of), and every template names at least one file."""
    import re

    files = _index(quick_build)["files"]
    patterns = {kind: re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(t)) + "$") for kind, t in files.items()}
    written = [p.relative_to(quick_build / EXPLORER).as_posix() for p in (quick_build / EXPLORER).rglob("*")]
    written = [p for p in written if (quick_build / EXPLORER / p).is_file() and p != "index.json"]
    unmatched = [p for p in written if not any(pat.match(p) for pat in patterns.values())]
    assert not unmatched, unmatched[:5]
    for kind, pat in patterns.items():
        assert any(pat.match(p) for p in written), f"no file of kind {kind} ({files[kind]})"
    state = json.loads((quick_build / ".state" / "explorer.json").read_text())
    assert sorted(state["data"]) == sorted(f"{EXPLORER.as_posix()}/{p}" for p in written + ["index.json"])


def test_the_specs_layer_lists_are_the_networks():
    """The torch-free specs spell out layer names; they must be the model's."""
    from generator.chapters.activation_max.spec import LAYERS
    from generator.chapters.explorer.spec import CONV_LAYERS as EXPLORER_CONVS
    from generator.chapters.explorer.spec import FEATURE_LAYERS as EXPLORER_LAYERS
    from generator.models import BLOCKS, CONV_LAYERS, FEATURE_LAYERS, last_conv

    assert list(EXPLORER_LAYERS) == list(FEATURE_LAYERS)
    assert list(EXPLORER_CONVS) == list(CONV_LAYERS)
    assert list(LAYERS) == [last_conv(b) for b in BLOCKS]


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
        with Image.open(_file(quick_build, "thumb", photo=photo["id"])) as thumb:
            assert thumb.size == (96, 96)
        for model in index["models"]:
            stats = json.loads(_file(quick_build, "scales", photo=photo["id"], model=model["name"]).read_text())
            for layer in index["layers"]:
                name = layer["name"]
                path = _file(quick_build, "atlas", photo=photo["id"], model=model["name"], layer=name)
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
        stats = json.loads(_file(quick_build, "scales", photo="chelsea", model=model).read_text())["layers"][layer]
        grey = np.asarray(Image.open(_file(quick_build, "atlas", photo="chelsea", model=model, layer=layer)))
        h, w, cols = meta["stored_height"], meta["stored_width"], meta["cols"]
        assert meta["factor"] == 1 and (h, w) == tuple(act.shape[1:])
        for c in range(act.shape[0]):
            r, k = divmod(c, cols)
            value = grey[r * h : (r + 1) * h, k * w : (k + 1) * w] * stats["scale"][c] / 255
            step = stats["scale"][c] / 255
            assert np.abs(value - act[c].numpy()).max() <= step / 2 + 1e-6 * max(1.0, stats["scale"][c])
            assert stats["mean"][c] == pytest.approx(float(act[c].mean()), rel=1e-5, abs=1e-7)


def test_receptive_fields_match_the_architecture_table_and_the_hand_rule():
    """The explorer's receptive-field geometry is the architecture table's (one function, read from the
    modules), and agrees with the rule worked out by hand for VGG16: a 3x3 conv with padding 1 grows the
    field by 2 jumps and keeps its centre; a 2x2 pool grows it by one jump, moves the centre half a jump
    and doubles the jump."""
    import torchvision

    from generator.lib.geometry import receptive_fields
    from generator.models import FEATURE_LAYERS, feature_index

    table = receptive_fields(torchvision.models.vgg16(weights=None, init_weights=False).features)
    size, jump, start = 1, 1, 0.5
    for layer in FEATURE_LAYERS:
        if "_conv" in layer:
            size += 2 * jump
        else:
            size, start, jump = size + jump, start + 0.5 * jump, 2 * jump
        assert receptive_field(layer) == {"size": size, "jump": jump, "start": start}, layer
        assert table[feature_index(layer)] == (size, jump, start), layer


def _photos(build: Path) -> list[str]:
    return [p["id"] for p in _index(build)["photos"]]


@pytest.mark.parametrize("layer", ["block1_conv2", "block4_pool"])
def test_the_unit_view_holds_each_unit_on_every_photo(quick_build, standin_weights, layer):
    """A unit's row of its chunk: per photo and model its map, averaged down by the stated factor, on one
    scale per unit and model, within one quantisation step of the activations computed here; and the
    unit's mean, peak and where the peak is, at full resolution."""
    import torch.nn.functional as F

    index = _index(quick_build)
    meta = next(entry for entry in index["layers"] if entry["name"] == layer)
    units = json.loads(_file(quick_build, "units", layer=layer).read_text())
    photos = _photos(quick_build)
    assert units["columns"] == [[p, m] for p in photos for m in ("trained", "untrained")]
    h, w, chunk = units["height"], units["width"], index["chunk"]
    factor = meta["unit_factor"]
    assert (h, w) == (meta["height"] // factor, meta["width"] // factor) and w <= 28
    sheets = []
    for k in range(-(-meta["channels"] // chunk)):
        sheet = np.asarray(Image.open(_file(quick_build, "unit_sheet", layer=layer, chunk=k)))
        rows = min(chunk, meta["channels"] - k * chunk)
        assert sheet.shape == (rows * h, len(units["columns"]) * w)
        sheets.append(sheet)
    for photo in photos[:2]:
        for model in ("trained", "untrained"):
            act = _expected(standin_weights, photo, layer, model)
            small = F.avg_pool2d(act[None], factor)[0].numpy() if factor > 1 else act.numpy()
            j = units["columns"].index([photo, model])
            flat = act.flatten(1)
            assert units["peak"][model][photo] == pytest.approx(flat.amax(1).tolist(), rel=1e-6, abs=1e-9)
            assert units["argmax"][model][photo] == flat.argmax(1).tolist()
            assert units["mean"][model][photo] == pytest.approx(act.mean(dim=(1, 2)).tolist(), rel=1e-5, abs=1e-7)
            for c in range(meta["channels"]):
                k, r = divmod(c, chunk)
                grey = sheets[k][r * h : (r + 1) * h, j * w : (j + 1) * w].astype(np.float64)
                step = units["scale"][model][c] / 255
                assert np.abs(grey * step - small[c]).max() <= step + 1e-6 * max(1.0, units["scale"][model][c]), (
                    photo,
                    model,
                    c,
                )
    # one scale per unit and model: the largest (averaged-down) value over the photos
    for model in ("trained", "untrained"):
        assert all(v >= 0 for v in units["scale"][model])


def test_the_weights_and_optimised_images_for_the_unit_view(quick_build, standin_weights):
    """Per model and conv layer: each filter's kernel norms per input channel (a grey row scaled to its
    largest), the first layer's raw RGB weights, and one PNG per unit that activation maximisation ran on."""
    from generator import models
    from generator.lib.layers import conv_layer
    from generator.models import CONV_LAYERS, FEATURE_LAYERS

    for model in ("trained", "untrained"):
        net = models.build_trained(standin_weights) if model == "trained" else models.build_untrained()
        meta = json.loads(_file(quick_build, "weights", model=model).read_text())["layers"]
        assert list(meta) == CONV_LAYERS
        for layer in ("block1_conv1", "block3_conv2", "block5_conv3"):
            w = conv_layer(net, layer).weight.detach().double()
            norms = w.pow(2).sum(dim=(2, 3)).sqrt().numpy()
            path = _file(quick_build, "weight_norms", model=model, layer=layer)
            grey = np.asarray(Image.open(path)).astype(np.float64)
            assert grey.shape == norms.shape
            scale = np.array(meta[layer]["row_max"])[:, None]
            assert np.abs(grey * scale / 255 - norms).max() <= (scale / 510).max() + 1e-6
            assert meta[layer]["input_layer"] == (
                FEATURE_LAYERS[FEATURE_LAYERS.index(layer) - 1] if layer != "block1_conv1" else None
            )
        assert np.allclose(
            meta["block1_conv1"]["rgb"], conv_layer(net, "block1_conv1").weight.detach().numpy(), rtol=1e-6, atol=1e-9
        )
    am = json.loads(_file(quick_build, "optimised").read_text())
    state = json.loads((quick_build / ".state" / "activation_max.json").read_text())
    for model, layers in am["units"].items():
        assert layers and all(layers.values())
        for layer, channels in layers.items():
            for c in channels:
                with Image.open(_file(quick_build, "optimised_image", model=model, layer=layer, unit=c)) as im:
                    assert im.size == (am["size"], am["size"]) and im.mode == "RGB"
    assert am["units"]["trained"] == {r["layer"]: r["channels_trained"] for r in state["records"]["table"]}


def test_the_budget_check_refuses_bad_input_in_one_line(tmp_path, capsys):
    """No built site, or a layer the data does not have: exit 2 with one line that names the fix."""
    from generator.chapters.explorer import budget as explorer_budget

    assert explorer_budget.main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "build the site first" in err
    site = tmp_path / "site"
    (site / "explorer").mkdir(parents=True)
    (site / "explorer" / "index.html").write_text("<html></html>")
    assert explorer_budget.main([str(site)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no explorer data" in err
    data = site / "generated" / EXPLORER
    data.mkdir(parents=True)
    (data / "index.json").write_text(json.dumps({"layers": [{"name": "block1_conv1"}]}))
    assert explorer_budget.main([str(site), "--layers", "block9_conv1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown layer(s) block9_conv1; choose from block1_conv1"


def test_the_home_page_links_each_photo_into_the_explorer_when_it_has_data(quick_build):
    from generator.site.fragments import environment

    text = (quick_build / "fragments" / "images.md").read_text()
    for photo in _photos(quick_build):
        assert f'href="explorer/#photo={photo}&amp;layer=block1_conv1&amp;model=both"' in text
    image = {"id": "cat", "title": "Cat", "seen": "figures/seen/cat.png", "credit": None}
    profile = {"name": "quick", "input_size": 64}
    template = environment().get_template("images.md.j2")
    assert "explorer/#photo=cat" in template.render(images=[image], profile=profile, base="generated/", explorer=True)
    assert "explorer/" not in template.render(images=[image], profile=profile, base="generated/", explorer=False)
    # the links are a paragraph of their own under the title (the template's tags must not eat the blank line)
    assert "**Cat**\n\n    [All figures for this photo]" in template.render(
        images=[image], profile=profile, base="generated/", explorer=True
    )


def test_the_site_projection_adds_the_heaviest_photo_per_photo(tmp_path) -> None:
    """What belongs to a photo is every file under a folder named after it; the rest is shared."""
    from generator.chapters.explorer import budget as eb

    files = {
        "index.html": 100,
        "generated/figures/saliency/cat/trained.webp": 30,
        "generated/figures/explorer/cat/block1_conv1.webp": 50,
        "gallery/cat/index.html": 20,
        "generated/figures/explorer/dog/block1_conv1.webp": 40,
        "generated/figures/explorer/units/u.webp": 7,
    }
    for rel, size in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x" * size)
    assert eb.per_photo_bytes(tmp_path, ["cat", "dog"]) == {"cat": 50, "dog": 40}
    m = eb.site_projection(tmp_path, ["cat", "dog"], n=20)
    assert m["site_bytes"] == 247 and m["shared_bytes"] == 107 and m["heaviest_photo_bytes"] == 100
    assert m["projected_bytes"] == 107 + 20 * 100
