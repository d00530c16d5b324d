"""``python -m generator clean``: delete what the generator wrote, and nothing else.

An output folder is the generator's when it holds the build's state (``.state/``) or its ``manifest.json``;
a cache folder when every entry in it is a technique folder of cache entries (``<64 hex digits>.npz`` and the
atomic writer's temporary files) or the build's lock. Anything else is refused in one line, before anything
is deleted. Inside an output folder only the files the build recorded go (the last build's list of outputs,
the manifest's figures and data files, ``.state/``); a file someone put there stays, and so do the folders
that hold one, and the command says how many were kept. No torch import.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

OUT_PARTS = (".state", "manifest.json", ".lock")
"""What a build writes at the top of its output folder besides the files it records."""
ENTRY = re.compile(r"^(?:[0-9a-f]{64}\.npz|\.[0-9a-f]{64}\.npz\.\w+\.tmp)$")
"""A cache entry, or the temporary file of one being written (see :mod:`generator.atomic`)."""
TECHNIQUE = re.compile(r"^[a-z][a-z0-9_]*$")
TEMPORARY = re.compile(r"^\.manifest\.json\.\w+\.tmp$")
WRITTEN = re.compile(r"^(?:fragments/[a-z_][a-z0-9_]*\.[\w.-]+\.md|fragments/[a-z_]+\.md|figures/seen/[\w.-]+\.png)$")
"""Besides the manifest's figures and data, the files a build writes (its fragments and the photos as the
model sees them): a file found in the output folder when a build stamped it is only counted as the build's
own when it has one of these names, so a notes file put there before a build still survives a clean."""


class NotOurs(Exception):
    """A folder that the generator did not write: the message names it and the fix."""


@dataclass
class Cleaned:
    removed: int = 0  # files deleted
    kept: int = 0  # files left because the generator did not write them


def _refuse(path: Path, what: str, why: str) -> NotOurs:
    return NotOurs(f"{path} does not look like a generator {what} ({why}); nothing was deleted. Check the path, "
                   f"or delete the folder yourself if you are sure")  # fmt: skip


def check_out(path: Path) -> None:
    """Raise :class:`NotOurs` unless ``path`` is missing or an output folder that a build wrote."""
    if not path.exists():
        return
    if not path.is_dir():
        raise _refuse(path, "output folder", "it is a file")
    if not ((path / ".state").is_dir() or (path / "manifest.json").is_file()):
        raise _refuse(path, "output folder", "no .state/ or manifest.json in it")


def check_cache(path: Path) -> None:
    """Raise :class:`NotOurs` unless ``path`` is missing or a result cache, every entry of which is the cache's."""
    if not path.exists():
        return
    if not path.is_dir():
        raise _refuse(path, "cache folder", "it is a file")
    for child in path.iterdir():
        if child.name == ".lock" and child.is_file():
            continue
        if not (child.is_dir() and TECHNIQUE.match(child.name)):
            raise _refuse(path, "cache folder", f"{child.name} is not a technique's folder of cache entries")
        stray = next((f for f in child.iterdir() if not (f.is_file() and ENTRY.match(f.name))), None)
        if stray is not None:
            raise _refuse(path, "cache folder", f"{child.name}/{stray.name} is not a cache entry")


def _paths(value) -> set[str]:
    """Every string under a ``"path"`` key, at any depth (the manifest's figures, thumbnails and data)."""
    if isinstance(value, dict):
        own = {value["path"]} if isinstance(value.get("path"), str) else set()
        return own.union(*(_paths(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_paths(v) for v in value))
    return set()


def recorded(out: Path) -> set[str]:
    """The files (relative to ``out``) that the build recorded as its own."""
    names: set[str] = set()
    try:
        stamped = json.loads((out / ".state" / "_stamp.json").read_text(encoding="utf-8")).get("outputs", {})
        names |= {n for n in stamped if isinstance(n, str) and (WRITTEN.match(n) or n.startswith(".state/"))}
    except (OSError, ValueError, AttributeError):
        pass
    for state in sorted((out / ".state").glob("*.json")) if (out / ".state").is_dir() else ():
        try:
            names |= set(json.loads(state.read_text(encoding="utf-8")).get("files", {}))  # a technique's files
        except (OSError, ValueError, AttributeError, TypeError):
            pass
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        names |= _paths(manifest.get("figures", [])) | {d for d in manifest.get("data", []) if isinstance(d, str)}
    except (OSError, ValueError, AttributeError):
        pass
    return {n for n in names if ".." not in Path(n).parts and not Path(n).is_absolute()}


def _remove(root: Path, owned: list[Path], done: Cleaned) -> None:
    """Delete ``owned`` (files, or whole folders), then every folder below ``root`` left empty, then ``root``
    itself if nothing is left; count what stays."""
    inside = root.resolve()
    for part in owned:
        if inside not in part.parent.resolve().parents and part.parent.resolve() != inside:
            continue  # reached through a link out of the folder: not ours to delete
        if part.is_dir() and not part.is_symlink():
            done.removed += sum(1 for f in part.rglob("*") if not f.is_dir())
            shutil.rmtree(part)
        elif part.is_file() or part.is_symlink():
            part.unlink()
            done.removed += 1
    for folder in sorted((d for d in root.rglob("*") if d.is_dir() and not d.is_symlink()), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    done.kept += sum(1 for f in root.rglob("*") if not f.is_dir())
    if not any(root.iterdir()):
        root.rmdir()


def clean(out_dir: Path, cache_dir: Path) -> Cleaned:
    """Delete a build's output folder and its result cache; :class:`NotOurs` (before deleting anything) when
    either is not the generator's. The repository root, the home folder and ``/`` are never the generator's."""
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    for path in (out_dir, cache_dir):
        resolved = path.resolve()
        if resolved in (Path.home().resolve(), Path("/")) or (resolved / ".git").exists():
            raise _refuse(path, "folder", "it is your home folder, the root or a git checkout")
    check_out(out_dir)
    check_cache(cache_dir)
    done = Cleaned()
    if out_dir.exists():
        temporary = [f for f in out_dir.iterdir() if TEMPORARY.match(f.name)]  # an interrupted atomic write
        files = [out_dir / n for n in sorted(recorded(out_dir))]
        _remove(out_dir, files + temporary + [out_dir / p for p in OUT_PARTS], done)
    if cache_dir.exists():
        _remove(cache_dir, sorted(cache_dir.iterdir()), done)
    return done
