"""``python -m generator.bench [NAME ...]``: run benchmarks and print a table."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

import generator.bench as pkg


def available() -> list[str]:
    return [m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_")]


def main(argv: list[str] | None = None) -> int:
    names = available()
    p = argparse.ArgumentParser(
        prog="python -m generator.bench", description="Run the project's benchmarks and print one table of results."
    )
    p.add_argument("names", nargs="*", metavar="NAME", help=f"benchmarks to run (default: all of {', '.join(names)})")
    p.add_argument("--weights", type=Path, default=None, help="trained VGG16 state dict (default: the torch hub cache)")
    p.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    p.add_argument("--repeats", type=int, default=3, help="timing repeats per measurement (default: %(default)s)")
    p.add_argument(
        "--device",
        choices=["cpu", "cuda", "auto"],
        default="cpu",
        help="where the gradient, optimisation and build benchmarks run (default: %(default)s); every row names it",
    )
    p.add_argument(
        "--profile",
        choices=["quick", "default", "full"],
        default=None,
        help="profile of the build benchmark (default: default on a CPU, full on a GPU)",
    )
    p.add_argument(
        "--baseline",
        metavar="REV",
        default=None,
        help="build bench: also cold-build this git commit (a temporary worktree) and print this tree's ratio to it",
    )
    p.add_argument(
        "--site",
        type=Path,
        default=Path("site"),
        help="built site for the explorer benchmark (default: %(default)s, what nox -s build writes)",
    )
    args = p.parse_args(argv)
    unknown = [n for n in args.names if n not in names]
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    rows: list[dict] = []
    for name in args.names or names:
        print(f"== {name}", file=sys.stderr, flush=True)
        rows.extend(importlib.import_module(f"generator.bench.{name}").run(args))
    print(f"\n{'bench':<28}{'metric':<44}{'value':>12} {'unit':<8}{'target':>16}  ok")
    for r in rows:
        ok = {True: "yes", False: "NO", None: ""}[r.get("ok")]
        print(
            f"{r['bench']:<28}{r['metric']:<44}{r['value']:>12.3f} {r.get('unit', ''):<8}"
            f"{str(r.get('target', '')):>16}  {ok}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if all(r.get("ok") is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
