"""``images/CREDITS.toml``: where each photo comes from, its licence and its expected ImageNet label."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from torchvision.models import VGG16_Weights

from generator.errors import ImageError

CREDITS_FILE = "CREDITS.toml"
_WEIGHTS = VGG16_Weights.IMAGENET1K_V1


@dataclass(frozen=True)
class Credit:
    """One ``[[image]]`` entry of ``CREDITS.toml``."""

    file: str
    title: str
    source: str
    author: str
    licence: str
    link: str
    label: str
    label_index: int
    note: str = ""


def load_credits(images_dir: Path) -> dict[str, Credit]:
    """Read ``images_dir/CREDITS.toml`` into a dict keyed by file name.

    A missing file gives ``{}``. A file that is not valid TOML, has missing,
    unknown or mistyped keys, lists a file twice, or names an ImageNet label
    that does not match its ``label_index`` raises :class:`ImageError`.
    """
    path = Path(images_dir) / CREDITS_FILE
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ImageError(path, "is not UTF-8 text", "Save it as UTF-8.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ImageError(
            path, f"is not valid TOML ({exc})", "Fix the syntax; each photo is one [[image]] table."
        ) from None

    extra = sorted(set(data) - {"image"})
    if extra:
        raise ImageError(
            path, f"unexpected top-level key(s) {', '.join(extra)}", "Put every entry in an [[image]] table."
        )
    entries = data.get("image", [])
    if not isinstance(entries, list):
        raise ImageError(path, "'image' is not a list of tables", "Write each entry as [[image]], not [image].")

    categories = _WEIGHTS.meta["categories"]
    names = [f.name for f in fields(Credit)]
    required = [f.name for f in fields(Credit) if f.name != "note"]
    credits: dict[str, Credit] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"[[image]] number {number}"
        if not isinstance(entry, dict):
            raise ImageError(path, f"{where} is not a table", "Write each entry as an [[image]] table.")
        if isinstance(entry.get("file"), str):
            where += f" (file = {entry['file']!r})"
        unknown = sorted(set(entry) - set(names))
        if unknown:
            raise ImageError(
                path, f"{where} has unknown key(s) {', '.join(unknown)}", f"Allowed keys: {', '.join(names)}."
            )
        missing = [k for k in required if k not in entry]
        if missing:
            raise ImageError(path, f"{where} lacks {', '.join(missing)}", f"Give every entry: {', '.join(required)}.")
        for key in names:
            value = entry.get(key, "")
            wanted, word = (int, "an integer") if key == "label_index" else (str, "a string")
            if type(value) is not wanted:
                raise ImageError(path, f"{where}: {key} should be {word}", f"Write {key} as {word}.")
        credit = Credit(**entry)
        if credit.file in credits:
            raise ImageError(path, f"{where} repeats an earlier entry", "Keep one entry per file.")
        if not 0 <= credit.label_index < len(categories) or categories[credit.label_index] != credit.label:
            actual = categories[credit.label_index] if 0 <= credit.label_index < len(categories) else "out of range"
            hint = (
                f" ('{credit.label}' is number {categories.index(credit.label)})" if credit.label in categories else ""
            )
            raise ImageError(
                path,
                f"{where}: label {credit.label!r} does not match label_index {credit.label_index} ({actual}){hint}",
                "Use a class name and index from VGG16_Weights.IMAGENET1K_V1.meta['categories'].",
            )
        credits[credit.file] = credit
    return credits
