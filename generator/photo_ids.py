"""Photo ids: short, stable, ASCII names derived from file names (they name folders and figure files)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

# Letters that Unicode does not decompose into an ASCII letter plus accents.
_TRANSLITERATE = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ß": "ss",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "Th",
        "ð": "d",
        "Ð": "D",
        "ı": "i",
        "ħ": "h",
        "Ħ": "H",
    }
)
MAX_ID = 80
"""Longest photo id: ids name folders and files (with a temporary prefix and suffix around them),
and a file name must stay well inside the usual 255-byte limit."""


def slug(text: str) -> str:
    """A lower-case ASCII id: accents dropped, other letters transliterated (ø -> o), the rest '-'.

    An id longer than :data:`MAX_ID` is cut and given a stable hash of the full text.
    """
    ascii_text = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATE)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "image"
    if len(slug) > MAX_ID:
        slug = slug[: MAX_ID - 9].rstrip("-") + "-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    return slug


def unique_ids(files: list[Path]) -> dict[Path, str]:
    """Slug of the stem; when stems clash, every clashing file gets its suffix appended."""
    by_stem: dict[str, list[Path]] = {}
    for p in files:
        by_stem.setdefault(slug(p.stem), []).append(p)
    ids: dict[Path, str] = {}
    for stem, group in by_stem.items():
        for p in group:
            ids[p] = stem if len(group) == 1 else f"{stem}-{slug(p.suffix)}"
    # Last resort (e.g. "a b.png" and "a-b.png", or "x.JPG" and "x.jpg"): add a hash of the name.
    counts: dict[str, int] = {}
    for i in ids.values():
        counts[i] = counts.get(i, 0) + 1
    for p, i in ids.items():
        if counts[i] > 1:
            ids[p] = f"{i}-{hashlib.sha256(p.name.encode()).hexdigest()[:8]}"
    return ids
