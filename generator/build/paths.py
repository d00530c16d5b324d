"""Output folders: checked before any model work, and locked while a build writes them."""

from __future__ import annotations

import errno
import sys
import tempfile
import time
from pathlib import Path


def writable_folder(flag: str, path: Path) -> str | None:
    """None if ``path`` is (or can be made) a folder we can write in; else a one-line error for ``flag``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        return f"{flag} {path}: is a file, not a folder. Pass a folder (it is created if missing)"
    above = path
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        return f"{flag} {path}: {above} is a file, so no folder can be made inside it. Pass another folder"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as exc:
        why = {
            errno.EACCES: "permission denied",
            errno.EPERM: "permission denied",
            errno.EROFS: "read-only filesystem",
            errno.ENOSPC: "no space left",
        }.get(exc.errno, exc.strerror or str(exc))
        return f"{flag} {path}: cannot write there ({why}). Pass a folder you can write to"
    return None


class FolderLock:
    """An exclusive lock on ``<folder>/.lock`` (flock), so two builds never write one folder at once.

    The second build waits, saying so in one line, and then finds the first one's work in the cache;
    with ``wait=False`` it refuses instead.  The lock goes with the process, even after kill -9.
    """

    def __init__(self, folder: Path, wait: bool = True):
        self.path = Path(folder) / ".lock"
        self.wait = wait
        self._fh = None

    def __enter__(self) -> FolderLock:
        import fcntl

        self._fh = open(self.path, "a+")
        try:
            fcntl.flock(self._fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not self.wait:
                self._fh.close()
                raise SystemExit(
                    f"error: another build is writing {self.path.parent}; wait for it, or rerun "
                    f"without --no-wait to wait automatically"
                ) from None
            print(f"waiting for another build that is writing {self.path.parent} ...", file=sys.stderr)
            t0 = time.monotonic()
            fcntl.flock(self._fh, fcntl.LOCK_EX)
            print(f"... it finished after {time.monotonic() - t0:.0f} s; continuing", file=sys.stderr)
        return self

    def __exit__(self, *exc) -> None:
        import fcntl

        fcntl.flock(self._fh, fcntl.LOCK_UN)
        self._fh.close()
