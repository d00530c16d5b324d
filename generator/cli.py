"""Command line: ``python -m generator build|list|clean``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from pathlib import Path

from generator.config import PROFILES


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = {logging.ERROR: "error: ", logging.WARNING: "warning: "}.get(record.levelno, "")
        return prefix + record.getMessage()


def technique_names() -> list[str]:
    """The techniques' names in site order, from the chapters' torch-free ``spec.py`` files."""
    from generator.chapters import registry

    return list(registry())


def configure_logging(verbose: bool) -> None:
    """One line per message on stderr ("error: ...", "warning: ..."); library warnings (matplotlib's layout
    notes, say) become one "warning:" line too.  Render workers call this as well."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    logger = logging.getLogger("generator")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logger.propagate = False
    warnings.showwarning = lambda message, category, *rest, **kw: logger.warning(
        "%s: %s", category.__name__, " ".join(str(message).split())
    )


def _build_options(b: argparse.ArgumentParser, names: list[str]) -> None:
    """The options of ``build``."""
    # fmt: off
    b.add_argument("--profile", choices=list(PROFILES), default="default",
                   help="work budget: quick (tests), default (laptop CPU), full (GPU); default: %(default)s")
    b.add_argument("--images", type=Path, default=Path("images"), metavar="DIR",
                   help="folder of input photos (default: %(default)s)")
    b.add_argument("--out", type=Path, default=Path("docs/generated"), metavar="DIR",
                   help="where figures, fragments and manifest.json go (default: %(default)s)")
    b.add_argument("--cache", type=Path, default=None, metavar="DIR",
                   help="where computed results are cached (default: .cache/generator/<profile>)")
    b.add_argument("--weights", type=Path, default=None, metavar="PATH",
                   help="torchvision VGG16 ImageNet state dict to use instead of the torch hub cache "
                        "(default: $TORCH_HOME/hub/checkpoints/vgg16-397923af.pth, downloaded once)")
    b.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where to run the models (default: %(default)s: cuda when available)")
    b.add_argument("--only", nargs="+", metavar="TECHNIQUE", choices=names,
                   help=f"run only these techniques: {', '.join(names)}")
    b.add_argument("--report", type=Path, default=None, metavar="PATH",
                   help="also write a machine-readable JSON build report there (per technique: computed, "
                        "cached, seconds, figures; and the failures)")
    b.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                   help="render figures in N worker processes (default: the number of CPU cores, at most 8; 1: in "
                        "this process, as is a single technique's render). The figures are byte-identical for "
                        "every N")
    b.add_argument("--no-progress", action="store_true", help="hide progress bars")
    b.add_argument("--no-wait", action="store_true",
                   help="if another build is writing the same --out or --cache, stop instead of waiting for it")
    b.add_argument("-v", "--verbose", action="store_true", help="log more, including tracebacks of failures")
    # fmt: on


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m generator",
        description="Run every CNN visualisation on VGG16 (trained and untrained) over a set of photos "
        "and write figures, markdown fragments and a manifest for the site.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    # fmt: off
    b = sub.add_parser("build", help="compute and render everything that is out of date",
                       description="Compute and render everything that is out of date. Results are cached "
                                   "by content, so a rerun with nothing changed does no model work.")
    _build_options(b, technique_names())
    sub.add_parser("list", help="list the techniques and profiles",
                   description="List the techniques (in site order) and the profiles.")
    c = sub.add_parser("clean", help="delete generated output and cached results",
                       description="Delete the output folder and the result cache: only what the generator "
                                   "wrote. A folder that is not the generator's is refused, and nothing is deleted.")
    c.add_argument("--out", type=Path, default=Path("docs/generated"), metavar="DIR")
    c.add_argument("--cache", type=Path, default=Path(".cache/generator"), metavar="DIR")
    # fmt: on
    return p


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of worker processes; pass a whole number >= 1")
    return n


CUDA_MISSING = "no CUDA device is visible (no driver, or CUDA_VISIBLE_DEVICES hides it). Use --device cpu or auto"


def _device(choice: str):
    import torch

    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        print(f"error: --device cuda: {CUDA_MISSING}", file=sys.stderr)
        raise SystemExit(2)
    return torch.device(choice)


def _input_problem(args) -> str | None:
    """What is wrong with the weights, photos or device the command line names (one line with the fix)."""
    from generator.build import fresh

    if args.weights is not None and args.weights.is_dir():
        return (
            f"--weights {args.weights}: is a folder, not a checkpoint file. Pass the file itself, "
            f"e.g. {args.weights / 'vgg16-397923af.pth'}"
        )
    if args.weights is not None and not args.weights.is_file():
        return (
            f"{args.weights}: no such file. Pass the path of a torchvision VGG16 checkpoint "
            f"(vgg16-397923af.pth) with --weights, or leave --weights out to use the torch hub cache"
        )
    if not args.images.is_dir():
        return f"{args.images}: no such folder. Pass a folder of photos with --images"
    if args.device == "cuda" and not fresh.cuda_visible():
        return f"--device cuda: {CUDA_MISSING}"
    return None


def cmd_build(args) -> int:
    from generator.build import fresh
    from generator.build.paths import FolderLock, writable_folder
    from generator.config import get_profile

    problem = _input_problem(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)  # before any folder is made
        return 2
    profile = get_profile(args.profile)
    cache = args.cache or Path(".cache/generator") / profile.name
    # Bad output paths fail here, in one line, before any model work.
    problems = [writable_folder("--out", args.out), writable_folder("--cache", cache)]
    if args.report is not None:
        problems.append(
            writable_folder("--report", args.report.parent)
            or (f"--report {args.report}: is a folder. Pass a file name" if args.report.is_dir() else None)
        )
    problems = [p for p in problems if p]
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        return 2
    try:
        fingerprint = fresh.fingerprint(
            profile=profile.name,
            images=args.images,
            out=args.out,
            cache=cache,
            weights=args.weights,
            device=args.device,
            only=args.only,
        )
    except OSError:  # something unreadable: the full build says what, in its own words
        fingerprint = None
    if fingerprint is not None:
        with FolderLock(args.out, wait=not args.no_wait):
            report = fresh.unchanged(args.out, fingerprint)
        if report is not None:
            print(
                f"nothing changed since the last build of {args.out} (profile '{profile.name}', "
                f"{report.device}): no work to do",
                file=sys.stderr,
            )
            return _finish(report, args)
    return _full_build(args, profile, cache, fingerprint)


def _full_build(args, profile, cache: Path, fingerprint: dict | None) -> int:
    from generator.build import Build, BuildOptions, fresh
    from generator.build.paths import FolderLock
    from generator.models import WeightsSource

    device = _device(args.device)
    opts = BuildOptions(
        profile=profile,
        images_dir=args.images,
        out_dir=args.out,
        cache_dir=cache,
        weights=WeightsSource(args.weights, explicit=args.weights is not None),
        device=device,
        only=args.only,
        progress=not args.no_progress and sys.stderr.isatty(),
        jobs=args.jobs,
    )
    print(f"building profile '{profile.name}' on {device} -> {args.out}", file=sys.stderr)
    build = Build(opts)
    try:
        with FolderLock(args.out, wait=not args.no_wait), FolderLock(cache, wait=not args.no_wait):
            fresh.forget(args.out)
            report = build.run()
            if report.ok and fingerprint is not None:
                fresh.record(args.out, fingerprint, report)
    except ValueError as exc:  # e.g. a technique that needs an unknown one, or a cycle
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return _finish(report, args)


def _finish(report, args) -> int:
    """Print the report's table, write its JSON (--report); 0 when it is ok, else 1."""
    report.print_table()
    if args.report is not None:
        try:
            report.write_json(args.report)
        except OSError as exc:
            print(f"error: --report {args.report}: {exc.strerror or exc}. Pass a writable path", file=sys.stderr)
            return 1
    return 0 if report.ok else 1


def cmd_list(_args) -> int:
    from generator.chapters import registry

    print("techniques (site order):")
    for t in registry().values():
        scope = "per image and model" if t.scope == "image" else "per model"
        print(f"  {t.name:<24} {t.title} ({scope}; docs/{t.chapter})" + (f" - {t.summary}" if t.summary else ""))
    print("profiles:")
    for p in PROFILES.values():
        print(f"  {p.name:<24} {p.description} (input {p.input_size} px)")
    return 0


def cmd_clean(args) -> int:
    from generator.build.clean import NotOurs, clean

    try:
        done = clean(args.out, args.cache)
    except NotOurs as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"error: clean: {exc.filename or args.out}: {exc.strerror or exc}; nothing more was deleted",
            file=sys.stderr,
        )
        return 1
    kept = f"; kept {done.kept} file(s) the generator did not write, and their folders" if done.kept else ""
    print(f"removed {done.removed} file(s) from {args.out} and {args.cache}{kept}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    configure_logging(getattr(args, "verbose", False))
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        return {"build": cmd_build, "list": cmd_list, "clean": cmd_clean}[args.command](args)
    except KeyboardInterrupt:
        print("\ninterrupted: finished units are cached; rerun to continue", file=sys.stderr)
        return 130
