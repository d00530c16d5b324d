"""The result cache: one ``.npz`` per unit, ``<root>/<technique>/<key>.npz`` (arrays + records as JSON).

Each entry carries a sha256 of its own content (``__sha256__``) and the key it was
stored under (``__key__``, covered by the checksum).  An entry that cannot be read,
lacks either, does not match its checksum, or names another key -- truncated,
overwritten, renamed or swapped with another by hand, written by something else --
is never loaded as a result: :meth:`ResultCache.get` warns in one line naming the
file and what is wrong with it, deletes it and reports a miss, so the unit is
simply recomputed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from pathlib import Path

import numpy as np

from generator.atomic import atomic_write_bytes
from generator.core import Result, records_json

log = logging.getLogger("generator")

RECORDS, CHECKSUM, SECONDS, KEY = "__records__", "__sha256__", "__seconds__", "__key__"
RESERVED = {RECORDS, CHECKSUM, SECONDS, KEY}


def _checksum(arrays: dict[str, np.ndarray], records_text: str) -> str:
    h = hashlib.sha256(records_text.encode())
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class CorruptEntry(Exception):
    """A cache file that is not a complete entry written by this cache for its key; the message says what is
    wrong in a clause that follows the file's name ("is truncated or not an .npz archive")."""


class ResultCache:
    """Content-addressed results: a unit's key names its file, so a stale entry is never read."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, technique: str, key: str) -> Path:
        return self.root / technique / f"{key}.npz"

    def load(self, technique: str, key: str) -> Result:
        """The stored result; ``CorruptEntry`` (one line, no file name) if the file is not a valid entry."""
        path = self.path(technique, key)
        try:
            with np.load(path, allow_pickle=False) as data:
                names = list(data.files)
                if RECORDS not in names or CHECKSUM not in names or KEY not in names:
                    raise CorruptEntry("is not an entry of this cache version (no records, key or checksum)")
                arrays = {k: data[k] for k in names if k not in (RECORDS, CHECKSUM)}
                records_text = str(data[RECORDS])
                stored = str(data[CHECKSUM])
        except CorruptEntry:
            raise
        except PermissionError:
            raise CorruptEntry("cannot be read (permission denied)") from None
        except IsADirectoryError:
            raise CorruptEntry("is a directory, not a cache entry") from None
        except (zipfile.BadZipFile, ValueError, EOFError, KeyError):
            raise CorruptEntry("is truncated or not an .npz archive") from None
        except OSError as exc:
            raise CorruptEntry(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
        if _checksum(arrays, records_text) != stored:
            raise CorruptEntry("does not match its checksum (changed after it was written)")
        if str(arrays.pop(KEY)) != key:
            raise CorruptEntry("was stored under another key (renamed, copied or swapped by hand)")
        seconds = float(arrays.pop(SECONDS)) if SECONDS in arrays else None
        try:
            records = json.loads(records_text)
        except ValueError:
            raise CorruptEntry("has records that are not valid JSON") from None
        return Result(arrays=arrays, records=records, seconds=seconds)

    def get(self, technique: str, key: str) -> Result | None:
        """The stored result, or None on a miss.  A corrupt entry is reported, deleted and treated as a miss."""
        path = self.path(technique, key)
        if path.is_dir():
            log.warning(
                "cache entry %s is a directory, not a cache entry; recomputing (remove it: rm -r %s)", path, path
            )
            return None
        if not path.is_file():
            return None
        try:
            return self.load(technique, key)
        except CorruptEntry as exc:
            log.warning("cache entry %s %s; deleting it and recomputing", path, exc)
            try:
                path.unlink()
            except OSError as err:
                log.warning("could not delete %s (%s); delete it by hand", path, err.strerror or err)
            return None

    def save(self, technique: str, key: str, result: Result) -> None:
        buf = io.BytesIO()
        payload = {k: np.asarray(v) for k, v in result.arrays.items()}
        if RESERVED & payload.keys():
            raise ValueError(f"{technique}: array names {', '.join(sorted(RESERVED))} are reserved")
        payload[SECONDS] = np.asarray(float(result.seconds or 0.0))
        payload[KEY] = np.asarray(key)
        records_text = json.dumps(records_json(result.records), sort_keys=True)
        payload[RECORDS] = np.asarray(records_text)
        payload[CHECKSUM] = np.asarray(_checksum({k: v for k, v in payload.items() if k != RECORDS}, records_text))
        np.savez(buf, **payload)
        path = self.path(technique, key)
        if path.is_dir():  # get() warned already; the result is used, just not kept
            return
        atomic_write_bytes(path, buf.getvalue())
