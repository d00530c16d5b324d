"""Tasks for "What does a CNN see?".

    nox -s tests               run the test suite (pytest; extra args are passed on)
    nox -s build               regenerate every figure, then build the site into site/
    nox -s build -- --profile quick
                               ... with generator options (see `python -m generator build --help`)
    nox -s site                rebuild only the site from the figures already in docs/generated/
    nox -s serve               live-reloading preview on http://127.0.0.1:8000
    nox -s bench               time the generator (`python -m generator.bench`)
    nox -s same -- OLD_DIR     rebuild OLD_DIR's profile and check every file is byte-identical
    nox -s publish             deploy site/ to the gh-pages branch (see README, "Publishing the site")

Installing torch costs several GB and minutes, so every session shares one
virtualenv, `.nox/shared-env`, made with the interpreter that runs nox. It is
reinstalled (`pip install -e ".[test]"`) only when pyproject.toml changes; a
stamp file inside the venv remembers the hash it was installed for. Delete
`.nox/shared-env` to start over.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
ENV_DIR = ROOT / ".nox" / "shared-env"
STAMP = ENV_DIR / "cnn-sees-install.sha256"
BIN = ENV_DIR / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
MKDOCS_CONFIG = "mkdocs.yml"

nox.options.sessions = ["tests"]
nox.options.error_on_missing_interpreters = True


def _wanted_stamp() -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    # A different interpreter needs a different venv, too.
    digest.update(sys.version.encode())
    return digest.hexdigest()


def shared_env(session: nox.Session) -> str:
    """Create or refresh the shared venv; point the session at it; return its python."""
    if not PYTHON.exists():
        session.log(f"Creating the shared virtualenv in {ENV_DIR}")
        # run_install: these steps also run under `nox --install-only`, which skips session.run.
        session.run_install(sys.executable, "-m", "venv", str(ENV_DIR), external=True)
    wanted = _wanted_stamp()
    installed = STAMP.read_text().strip() if STAMP.exists() else ""
    if installed != wanted:
        session.log("pyproject.toml changed (or first run): installing the project and its test extras")
        STAMP.unlink(missing_ok=True)
        session.run_install(str(PYTHON), "-m", "pip", "install", "-e", ".[test]", external=True)
        STAMP.write_text(wanted + "\n")
    else:
        session.log(f"Reusing {ENV_DIR} (pyproject.toml unchanged)")
    session.env["VIRTUAL_ENV"] = str(ENV_DIR)
    session.env["PATH"] = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])
    session.env.pop("PYTHONHOME", None)
    return str(PYTHON)


def require_generated(session: nox.Session) -> None:
    """Chapters include generated fragments, and a missing one stops the site build."""
    if (ROOT / "docs" / "generated" / ".incomplete").is_file():
        session.error(
            "docs/generated/ is incomplete: the last `nox -s build` did not finish (interrupted, or the "
            "disk was full). Rerun `nox -s build`"
        )
    if not (ROOT / "docs" / "generated" / "manifest.json").is_file():
        session.error(
            "docs/generated/ is empty: run `nox -s build` first "
            "(`nox -s build -- --profile quick` makes a small set quickly)"
        )
    for page, path in included_fragments():
        if not (ROOT / "docs" / path).is_file():
            session.error(
                f"docs/{page} includes docs/{path}, which the last build did not write: rerun `nox -s build` "
                "(docs/generated/ is older than the chapters), or correct the name in the page"
            )


def included_fragments() -> list[tuple[str, str]]:
    """(page, path) for every generated file that a chapter includes with `--8<-- "generated/..."`."""
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for path in re.findall(r'^[ \t]*--8<-- "(generated/[^"]+)"', page.read_text(encoding="utf-8"), re.M):
            found.append((page.name, path))
    return found


def build_site(session: nox.Session, python: str) -> None:
    session.run(
        python,
        "-m",
        "properdocs",
        "build",
        "--strict",
        "-f",
        MKDOCS_CONFIG,
        "-d",
        "site",
        external=True,
    )


def test_workers() -> list[str]:
    """pytest-xdist's arguments: one worker per core, at most 4, whole test files to a worker (their module
    fixtures are built once); none on a single core. Half the suite waits on one process (rendering,
    the browser, starting Python), so two workers on two cores take about a third off its time."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return ["-n", str(min(cores, 4)), "--dist", "loadfile"] if cores > 1 else []


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Run the test suite, in parallel workers; arguments go to pytest (e.g. `-- -m browser -x`, or `-- -n 0`
    for one process)."""
    python = shared_env(session)
    session.run(python, "-m", "pytest", *test_workers(), *session.posargs, external=True)


@nox.session(python=False)
def build(session: nox.Session) -> None:
    """Regenerate every figure and fragment, then build the site strictly into site/.

    When the generator finishes but reports problems (a broken photo, weights it could not get),
    the site is still built, so that it shows what is missing, and the session then fails.
    """
    python = shared_env(session)
    args = list(session.posargs)
    report = ROOT / ".cache" / "last-build-report.json"
    if "--report" in args[:-1]:
        report = Path(args[args.index("--report") + 1])
    else:
        args = ["--report", str(report)] + args
    report.unlink(missing_ok=True)
    # exit 1: finished, with problems listed; anything else (2: bad arguments) stops here
    session.run(python, "-m", "generator", "build", *args, external=True, success_codes=[0, 1])
    if not report.is_file():
        session.error("the generator wrote no report (see its messages above)")
    ok = json.loads(report.read_text()).get("ok", False)
    generated = ROOT / "docs" / "generated"
    if (generated / "manifest.json").is_file() and not (generated / ".incomplete").exists():
        build_site(session, python)
    if not ok:
        session.error("the generator reported problems (listed above); the site shows what it could build")


@nox.session(python=False)
def site(session: nox.Session) -> None:
    """Build the site from the figures already in docs/generated/ (no torch work)."""
    python = shared_env(session)
    require_generated(session)
    build_site(session, python)


@nox.session(python=False)
def serve(session: nox.Session) -> None:
    """Live preview; arguments go to `properdocs serve` (e.g. `-- -a 127.0.0.1:8001`)."""
    python = shared_env(session)
    require_generated(session)
    session.run(python, "-m", "properdocs", "serve", "-f", MKDOCS_CONFIG, *session.posargs, external=True)


def run_module(session: nox.Session, module: str) -> None:
    """`python -m MODULE` in the shared venv, with the session's arguments."""
    session.run(shared_env(session), "-m", module, *session.posargs, external=True)


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """Time the generator; arguments go to `python -m generator.bench`."""
    run_module(session, "generator.bench")


@nox.session(python=False)
def same(session: nox.Session) -> None:
    """Check that the current code writes byte-identical files: `nox -s same -- OLD_DIR [--weights PATH]`.

    OLD_DIR is a copy of an earlier docs/generated (or a sums file from `--record`); the profile
    it was built with is rebuilt from an empty cache and every file's sha256 compared.
    See `python -m generator.build.same --help`.
    """
    if not session.posargs:
        session.error(
            "usage: nox -s same -- OLD_DIR [--weights PATH] [--allow GLOB ...] "
            "(OLD_DIR: a copy of docs/generated made before your change)"
        )
    run_module(session, "generator.build.same")


@nox.session(python=False)
def publish(session: nox.Session) -> None:
    """Deploy site/ to the gh-pages branch of origin (`-- --allow-dirty`, `-- --allow-stand-in`).

    Builds the site first when site/ is missing or older than the figures; refuses uncommitted
    changes in docs/ or generator/, stand-in weights and a missing remote, one line each.
    See `python -m generator.build.publish --help`.
    """
    require_generated(session)
    run_module(session, "generator.build.publish")


LIGHTHOUSE_DIR = ROOT / ".nox" / "lighthouse"


@nox.session(python=False)
def audit(session: nox.Session) -> None:
    """Lighthouse (mobile preset) on every kind of page of the built site/: `nox -s audit [-- OPTIONS]`.

    Installs lighthouse@12.2.3 with npm into .nox/lighthouse on first use (Lighthouse 13 wants Node 22).
    Timing-based scores: a benchmark to read on an idle machine, never a test. Options go to
    `python -m generator.site.audit` (--page PATH, --every-page, --runs N, --reports DIR, --json FILE).
    """
    python = shared_env(session)
    if not (ROOT / "site" / "index.html").is_file():
        session.error("no built site in site/: run `nox -s build` first")
    cli = LIGHTHOUSE_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
    if not cli.is_file():
        if shutil.which("npm") is None:
            session.error("npm not found: install Node.js 20 and npm (Debian: apt-get install nodejs npm)")
        LIGHTHOUSE_DIR.mkdir(parents=True, exist_ok=True)
        session.run_install(
            "npm", "install", "--prefix", str(LIGHTHOUSE_DIR), "--no-audit", "--no-fund", "-E", "lighthouse@12.2.3",
            external=True,
        )  # fmt: skip
    session.run(
        python, "-m", "generator.site.audit", str(ROOT / "site"), "--lighthouse", str(cli), *session.posargs,
        external=True,
    )  # fmt: skip
