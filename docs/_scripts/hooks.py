"""ProperDocs hook: say on every page when the "trained" figures do not come from ImageNet weights.

The generator records the trained checkpoint's identity in ``docs/generated/manifest.json``
(``weights``: its sha256 and whether it is torchvision's official ``vgg16-397923af.pth``).
For a stand-in, this sets ``config.extra.weights_banner``, which the theme override
``docs/_overrides/main.html`` shows in Material's announcement bar on every page.
"""

from __future__ import annotations

import json
from pathlib import Path


def banner_text(weights: dict) -> str | None:
    """The banner for a manifest's ``weights`` entry, or None for official weights (or no manifest)."""
    if not weights or weights.get("official", True):
        return None
    sha = weights.get("sha256") or "unknown"
    return (f"The 'trained' figures on this site were built with stand-in weights (sha256 {sha[:12]}…), "
            f"not torchvision's ImageNet VGG16.")


def on_config(config):
    manifest = Path(config["docs_dir"]) / "generated" / "manifest.json"
    try:
        weights = json.loads(manifest.read_text(encoding="utf-8")).get("weights") or {}
    except (OSError, ValueError):
        weights = {}
    text = banner_text(weights)
    if text:
        config["extra"]["weights_banner"] = text
    else:
        config["extra"].pop("weights_banner", None)
    return config
