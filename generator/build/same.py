"""``nox -s same -- OLD_DIR``: does the current code still write the same files?

Builds the profile that ``OLD_DIR/manifest.json`` names into a fresh folder
with a fresh cache (so every unit is really recomputed), then compares the
sha256 of every file with ``OLD_DIR``.  ``OLD_DIR`` is a copy of an earlier
``docs/generated`` (or any ``--out``), or a ``sums.json`` written with
``--record``.  The ``.state/`` folder is bookkeeping (it holds cache keys,
which change whenever code moves) and is left out, as are the ``.lock`` file
the timed fragments (``fragments/build.md``, the build page, which states the source
commit and how long the units took to compute, and ``fragments/methods.md``, which
states compute times).

    python -m generator.build.same OLD_DIR [--weights PATH] [--allow GLOB ...]
    python -m generator.build.same OLD_DIR --new NEW_DIR      # compare two folders, build nothing
    python -m generator.build.same DIR --record sums.json     # keep the sums instead of a copy

Exit status: 0 when every file is byte-identical (apart from ``--allow``ed
paths, which are listed), 1 when something differs, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from generator.build.command import build_command
from generator.site.pages import TIMED_FRAGMENTS

IGNORED = (".state/*", ".lock", *TIMED_FRAGMENTS)


def sums(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``root`` (or the contents of a sums JSON file)."""
    root = Path(root)
    if root.is_file():
        return json.loads(root.read_text())["files"]
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not any(fnmatch.fnmatch(rel, g) for g in IGNORED):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def profile_of(root: Path) -> str | None:
    root = Path(root)
    try:
        data = json.loads(root.read_text()) if root.is_file() else json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return data.get("profile")


def compare(old: dict[str, str], new: dict[str, str], allow: list[str]) -> tuple[list[str], list[str]]:
    """(unexpected differences, allowed differences), each as one line per path."""
    bad, allowed = [], []
    for path in sorted(old.keys() | new.keys()):
        if old.get(path) == new.get(path):
            continue
        what = "missing now" if path not in new else "new" if path not in old else "changed"
        line = f"{what:>12}  {path}"
        (allowed if any(fnmatch.fnmatch(path, g) for g in allow) else bad).append(line)
    return bad, allowed


def build(profile: str, out: Path, weights: str | None) -> None:
    cmd = build_command(profile, out / "out", out / "cache", weights=weights or None)
    print(f"same: building profile '{profile}' from an empty cache into {out} ...", file=sys.stderr)
    subprocess.run(cmd, check=True)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m generator.build.same",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("old", type=Path, metavar="OLD_DIR", help="earlier output folder, or a sums JSON file")
    p.add_argument("--new", type=Path, metavar="NEW_DIR", help="compare with this folder instead of building")
    p.add_argument("--profile", help="profile to build (default: the one OLD_DIR's manifest names)")
    p.add_argument("--weights", help="passed to the build (--weights)")
    p.add_argument(
        "--allow",
        nargs="*",
        default=[],
        metavar="GLOB",
        help="paths expected to differ (a named bug fix); listed but not an error",
    )
    p.add_argument("--record", type=Path, metavar="SUMS_JSON", help="write OLD_DIR's sums there and stop")
    p.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="build into DIR (out/ and cache/) and keep it, to look at the differences",
    )
    return p


def _new_sums(args) -> tuple[dict | None, int]:
    """The new side's sums: ``--new``'s folder, or a fresh build of the old side's profile; (None, exit code)
    after a one-line error."""
    if args.new is not None:
        return sums(args.new), 0
    profile = args.profile or profile_of(args.old)
    if profile is None:
        print(f"error: {args.old}: no manifest.json names its profile; pass --profile", file=sys.stderr)
        return None, 2
    with tempfile.TemporaryDirectory(prefix="cnn-sees-same-") as tmp:
        where = Path(args.keep) if args.keep else Path(tmp)
        if args.keep and (where / "out").exists():
            print(f"error: --keep {where}: it already holds a build; pass an empty or new folder", file=sys.stderr)
            return None, 2
        try:
            build(profile, where, args.weights)
        except subprocess.CalledProcessError as exc:
            print(f"error: the build failed (exit {exc.returncode}); see its messages above", file=sys.stderr)
            return None, 1
        return sums(where / "out"), 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.old.exists():
        print(
            f"error: {args.old}: no such folder or file. Pass an earlier output folder (a copy of "
            f"docs/generated) or a sums file from --record",
            file=sys.stderr,
        )
        return 2
    if args.record:
        args.record.write_text(json.dumps({"profile": profile_of(args.old), "files": sums(args.old)}, indent=1))
        print(f"same: recorded {len(sums(args.old))} files of {args.old} in {args.record}", file=sys.stderr)
        return 0
    old = sums(args.old)
    new, code = _new_sums(args)
    if new is None:
        return code
    bad, allowed = compare(old, new, args.allow)
    for line in allowed:
        print(f"allowed {line}")
    for line in bad:
        print(f"DIFFERS {line}")
    same = len(old.keys() & new.keys()) - sum(1 for line in bad + allowed if line.lstrip().startswith("changed"))
    print(f"same: {same} identical, {len(bad)} unexpected difference(s), {len(allowed)} allowed", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
