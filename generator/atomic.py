"""Atomic file writes: a temp file in the same folder, then a rename.

An interrupted run never leaves a half-written figure or fragment.  A file
whose content would not change is left alone, so its timestamp stays put and
``properdocs serve`` does not rebuild for nothing.  A full disk raises
:class:`DiskFull`, whose message is one line naming the filesystem and the file.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path


class DiskFull(OSError):
    """No space left while writing a file; ``str()`` is one line with the filesystem, the file and the fix."""

    def __init__(self, path: Path):
        self.path = Path(path)
        super().__init__(
            errno.ENOSPC,
            f"no space left on {mount_point(self.path)} while writing {self.path}; free some space and rerun",
        )

    def __str__(self) -> str:
        return self.strerror

    def __reduce__(self):  # re-raised in the build when a render worker hits a full disk
        return DiskFull, (self.path,)


def mount_point(path: Path) -> str:
    """The mount point of the filesystem that holds ``path`` (or the nearest existing folder above it)."""
    p = Path(path).absolute()
    while not p.exists() and p != p.parent:
        p = p.parent
    while not os.path.ismount(p) and p != p.parent:
        p = p.parent
    return str(p)


def _write(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (one seam, so tests can run out of space)."""
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def atomic_write_bytes(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically; return False when the file already held it."""
    path = Path(path)
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".tmp", dir=path.parent)
        _write(fd, data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC and not isinstance(exc, DiskFull):
            raise DiskFull(path) from None
        raise
    return True


def atomic_write_text(path: Path, text: str) -> bool:
    return atomic_write_bytes(path, text.encode("utf-8"))
