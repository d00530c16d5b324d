"""Finding the photos in a folder: which files count, a stable id for each, their credits, and one line per
file that cannot be used (a folder, an unsupported type, a link to nothing, a link loop, a file that cannot be
read), which is skipped while the rest go on. No torch import."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from generator.credits import CREDITS_FILE, Credit, load_credits
from generator.errors import ImageError
from generator.photo_ids import unique_ids

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
"""File name endings (lower case) that :func:`discover` treats as images."""

_IGNORED_PREFIXES = ("credits.", "readme", "license", "licence")


@dataclass(frozen=True)
class SourceImage:
    """A photo found by :func:`discover`.

    ``id`` is a URL-safe slug made from the file name; it is unique within the
    folder and the same on every run, so it can name output files and pages.
    """

    id: str
    path: Path
    sha256: str
    credit: Credit | None


def discover(images_dir: Path) -> tuple[list[SourceImage], list[str]]:
    """List the photos in ``images_dir`` (not its subfolders), sorted by file name.

    Returns the images and a list of one-line problem messages about files that
    were skipped. Hidden files and ``CREDITS.*``, ``README*`` and ``LICENSE*``
    are ignored without comment. Raises :class:`ImageError` when the folder is
    missing, is not a folder, or holds no usable image.
    """
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        what = "is not a folder" if images_dir.exists() else "does not exist"
        raise ImageError(images_dir, f"the image folder {what}", "Create it and put some photos in it.")

    credits = load_credits(images_dir)
    problems: list[str] = []
    files: list[Path] = []
    hashes: dict[Path, str] = {}
    for path in sorted(images_dir.iterdir(), key=lambda p: p.name):
        name = path.name
        if name.startswith(".") or name.lower().startswith(_IGNORED_PREFIXES):
            continue
        if path.is_dir():
            problems.append(f"{path}: is a folder, which is not searched. Move its photos up one level to use them.")
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            kind = f"'{path.suffix}'" if path.suffix else "(no suffix)"
            problems.append(
                f"{path}: unsupported file type {kind}, skipped. "
                f"Convert it to one of {', '.join(sorted(IMAGE_SUFFIXES))}, or move it elsewhere."
            )
        else:
            digest, problem = _readable(path, images_dir)
            if digest is None:
                problems.append(problem)
                continue
            files.append(path)
            hashes[path] = digest
            if problem:
                problems.append(problem)

    if not files:
        raise ImageError(
            images_dir,
            "the image folder holds no photos",
            f"Add files ending in {', '.join(sorted(IMAGE_SUFFIXES))}.",
        )

    found = {p.name for p in files}
    for name in sorted(set(credits) - found):
        problems.append(
            f"{images_dir / CREDITS_FILE}: lists {name!r}, which is not in the folder. "
            "Remove the entry or restore the file."
        )

    ids = unique_ids(files)
    images = [SourceImage(id=ids[p], path=p, sha256=hashes[p], credit=credits.get(p.name)) for p in files]
    return images, problems


def _readable(path: Path, images_dir: Path) -> tuple[str | None, str]:
    """(the photo's sha256, a note) for a file that can be read; (None, the one-line problem with its fix) for
    a dangling link, a link loop or a file that cannot be read, which is then skipped."""
    note = ""
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            return None, (
                f"{path}: is a link to {os.readlink(path)}, which does not exist; skipped. "
                "Point the link at a photo, or remove it."
            )
        except (RuntimeError, OSError):  # RuntimeError: a loop (Python 3.11); OSError ELOOP on newer ones
            return None, f"{path}: is a link that leads back to itself (a link loop); skipped. Remove the link."
        if images_dir.resolve() not in target.parents:
            note = (
                f"{path}: is a link to {target}, outside the image folder; "
                f"it is used as a photo. Copy the file in instead to keep the folder self-contained."
            )
    try:
        return _sha256(path), note
    except PermissionError:
        return None, (
            f"{path}: cannot be read (permission denied); skipped. Make it readable (chmod a+r '{path}') or move it "
            "out of the folder."
        )
    except OSError as exc:
        return None, f"{path}: cannot be read ({exc.strerror or exc}); skipped. Check the file, or move it elsewhere."


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- loading
