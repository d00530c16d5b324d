"""The one owner of ``<out>/.state/``: what each technique last rendered (render key, figures, records).

The render step writes a technique's state after its figures; fragments and
the manifest read it back.  Nothing else touches the folder.
"""

from __future__ import annotations

import json
from pathlib import Path

from generator.atomic import atomic_write_text

STATE_DIR = ".state"


class StateStore:
    def __init__(self, out_dir: Path):
        self.dir = Path(out_dir) / STATE_DIR

    def path(self, technique: str) -> Path:
        return self.dir / f"{technique}.json"

    def read(self, technique: str) -> dict | None:
        """The technique's last state, or None if there is none (or it is unreadable)."""
        try:
            return json.loads(self.path(technique).read_text())
        except (OSError, ValueError):
            return None

    def write(self, technique: str, state: dict) -> None:
        atomic_write_text(self.path(technique), json.dumps(state, indent=1, sort_keys=True))
