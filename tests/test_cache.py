"""A corrupt cache entry is a cache miss: one warning naming the file, the file deleted, the unit recomputed."""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
import zipfile

import numpy as np
import pytest

from generator.build.cache import ResultCache
from generator.core import Result
from generator.site.pages import TIMED_FRAGMENTS
from tests.conftest import IMAGES, quick_args, run_generator


@pytest.fixture
def cache(tmp_path):
    c = ResultCache(tmp_path / "cache")
    c.save("t", "k", Result(arrays={"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, records={"x": [1, 2]}))
    return c


def test_round_trip(cache):
    res = cache.get("t", "k")
    assert res.records == {"x": [1, 2]}
    assert np.array_equal(res.arrays["a"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert cache.get("t", "missing") is None


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "foreign", "pickled", "tampered"])
def test_a_damaged_entry_is_a_miss_reported_in_one_line(cache, caplog, damage):
    path = cache.path("t", "k")
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00garbage" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "foreign":  # a valid npz that this cache did not write
        path.write_bytes(_npz(a=np.zeros(3)))
    elif damage == "pickled":
        path.write_bytes(_npz(a=np.array([{"x": 1}], dtype=object)))
    else:  # same layout, one value changed, old checksum kept
        with np.load(path) as d:
            arrays = {k: d[k] for k in d.files}
        arrays["a"] = arrays["a"] + 1
        path.write_bytes(_npz(**arrays))
    with caplog.at_level(logging.WARNING, logger="generator"):
        assert cache.get("t", "k") is None
    assert not path.exists()
    (message,) = [r.getMessage() for r in caplog.records]
    assert str(path) in message and "deleting it and recomputing" in message and "\n" not in message
    want = {
        "truncated": "is truncated or not an .npz archive",
        "garbage": "is truncated or not an .npz archive",
        "empty": "is truncated or not an .npz archive",
        "foreign": "is not an entry of this cache version",
        "pickled": "is not an entry of this cache version",
        "tampered": "does not match its checksum",
    }[damage]
    assert f"{path} {want}" in message, message  # a whole sentence: no "is its", no numpy text cut mid-word
    assert "allow_pickle" not in message and "is its" not in message


def test_an_entry_swapped_with_another_is_a_miss(tmp_path, caplog):
    """Two valid entries exchanged by hand: each proves which key it was stored under, so neither is trusted."""
    c = ResultCache(tmp_path / "cache")
    c.save("t", "k1", Result(arrays={"a": np.zeros(3)}, records={"photo": "chelsea"}))
    c.save("t", "k2", Result(arrays={"a": np.ones(3)}, records={"photo": "grace-hopper"}))
    one, two = c.path("t", "k1"), c.path("t", "k2")
    a, b = one.read_bytes(), two.read_bytes()
    one.write_bytes(b)
    two.write_bytes(a)
    with caplog.at_level(logging.WARNING, logger="generator"):
        assert c.get("t", "k1") is None and c.get("t", "k2") is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and all("was stored under another key" in m for m in messages), messages


def test_a_directory_in_place_of_an_entry_is_a_miss_that_names_the_fix(tmp_path, caplog):
    c = ResultCache(tmp_path / "cache")
    c.path("t", "k").mkdir(parents=True)
    with caplog.at_level(logging.WARNING, logger="generator"):
        assert c.get("t", "k") is None
        c.save("t", "k", Result(arrays={"a": np.zeros(2)}))  # kept out of the cache, no error
    (message,) = [r.getMessage() for r in caplog.records]
    assert "is a directory" in message and f"rm -r {c.path('t', 'k')}" in message


def test_reserved_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        ResultCache(tmp_path).save("t", "k", Result(arrays={"__sha256__": np.zeros(1)}))


def _build(images, out, cache, weights):
    return run_generator(*quick_args(images, out, cache, weights, "--only", "predictions", "saliency"), timeout=600)


@pytest.mark.slow
def test_the_build_recovers_from_a_corrupt_cache(tmp_path, standin_weights):
    images = tmp_path / "photo"
    images.mkdir()
    shutil.copy(IMAGES / "chelsea.png", images / "chelsea.png")
    first = _build(images, tmp_path / "out1", tmp_path / "cache", standin_weights)
    assert first.returncode == 0, first.stderr
    entries = sorted((tmp_path / "cache").rglob("*.npz"))
    predictions = [p for p in entries if p.parent.name == "predictions"]
    saliency = [p for p in entries if p.parent.name == "saliency"]
    predictions[0].write_bytes(predictions[0].read_bytes()[:100])  # truncated
    saliency[0].write_bytes(b"not a zip file at all")  # garbage
    second = _build(images, tmp_path / "out2", tmp_path / "cache", standin_weights)
    assert second.returncode == 0, second.stderr
    warnings = [line for line in second.stderr.splitlines() if line.startswith("warning: cache entry")]
    assert len(warnings) == 2, second.stderr
    assert any(str(predictions[0]) in w for w in warnings) and any(str(saliency[0]) in w for w in warnings)
    assert "Traceback" not in second.stderr

    def sums(root):
        return {
            p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and ".state" not in p.parts and p.relative_to(root).as_posix() not in TIMED_FRAGMENTS
        }

    assert sums(tmp_path / "out2") == sums(tmp_path / "out1")
    assert (tmp_path / "out2" / "fragments" / "predictions.tables.md").is_file()
    assert (tmp_path / "out2" / "fragments" / "saliency.numbers.md").is_file()
    third = _build(
        images, tmp_path / "out3", tmp_path / "cache", standin_weights
    )  # the recomputed entries are good again
    assert "warning" not in third.stderr
    assert zipfile.is_zipfile(predictions[0])
