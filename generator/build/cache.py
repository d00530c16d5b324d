"""The result cache: one ``.npz`` per unit, ``<root>/<technique>/<key>.npz`` (arrays + records as JSON)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from generator.atomic import atomic_write_bytes
from generator.techniques import Result, records_json


class ResultCache:
    """Content-addressed results: a unit's key names its file, so a stale entry is never read."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, technique: str, key: str) -> Path:
        return self.root / technique / f"{key}.npz"

    def has(self, technique: str, key: str) -> bool:
        return self.path(technique, key).is_file()

    def load(self, technique: str, key: str) -> Result:
        with np.load(self.path(technique, key), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if k != "__records__"}
            records = json.loads(str(data["__records__"])) if "__records__" in data.files else {}
        return Result(arrays=arrays, records=records)

    def save(self, technique: str, key: str, result: Result) -> None:
        buf = io.BytesIO()
        payload = {k: np.asarray(v) for k, v in result.arrays.items()}
        payload["__records__"] = np.asarray(json.dumps(records_json(result.records), sort_keys=True))
        np.savez(buf, **payload)
        atomic_write_bytes(self.path(technique, key), buf.getvalue())
