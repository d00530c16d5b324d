"""What a build reads: the photos, each loaded, checked and prepared for VGG16."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from generator.core import ImageInput

log = logging.getLogger("generator")


def load_inputs(
    images_dir: Path, input_size: int, into: list[ImageInput], bar: Callable = lambda items, desc: items
) -> list[tuple[str, str]]:
    """Append every usable photo of ``images_dir`` to ``into``; return (where, one-line message) per bad one.

    Files that are skipped without being an error (a folder, an unknown suffix, a link out of
    the folder) are logged as warnings.  A missing or empty folder raises ``ImageError``.
    """
    from generator import images as imgmod

    found, problems = imgmod.discover(images_dir)
    for p in problems:
        log.warning("%s", p)
    failures = []
    for src in bar(found, "images"):
        try:
            prep = imgmod.prepare(imgmod.load_rgb(src.path), input_size)
        except imgmod.ImageError as exc:
            failures.append((f"image {src.path.name}", str(exc)))
            continue
        title = src.credit.title if src.credit and src.credit.title else src.path.stem
        into.append(ImageInput(src.id, title, src.sha256, prep.seen, prep.tensor, src.credit))
    return failures
