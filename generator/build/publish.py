"""``nox -s publish``: put the built site on the repository's ``gh-pages`` branch, as ``mkdocs gh-deploy`` does.

    python -m generator.build.publish [--allow-dirty] [--allow-stand-in] [--remote origin] [--branch gh-pages]

1. Refuses, in one line each: uncommitted changes in ``docs/`` or ``generator/``
   (unless ``--allow-dirty``), weights that are not torchvision's official file
   (unless ``--allow-stand-in``), and a repository without the remote.
2. Builds the site (``properdocs build --strict``) when ``site/`` is missing or
   older than ``docs/generated/manifest.json``.
3. Commits ``site/`` plus ``.nojekyll`` onto the branch with git's plumbing (the
   working tree and the index are untouched), naming the source commit, the
   profile and the weights in the message, and pushes it.  When the site is
   unchanged since the last publish, no commit is made.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


class PublishError(Exception):
    """One line: what is wrong and what to do."""


def git(root: Path, *args: str, env: dict | None = None, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise PublishError(f"git {' '.join(args[:2])} failed: {' '.join(proc.stderr.split())[:300]}")
    return proc.stdout.strip()


def check(root: Path, remote: str, allow_dirty: bool, allow_stand_in: bool) -> dict:
    """The refusals, before anything is built or written; returns the manifest."""
    if git(root, "rev-parse", "--is-inside-work-tree", check=False) != "true":
        raise PublishError(f"{root}: not a git repository. Publish from a clone of the project")
    if git(root, "remote", "get-url", remote, check=False) == "":
        raise PublishError(f"no '{remote}' remote to publish to. Add one: git remote add {remote} URL")
    dirty = git(root, "status", "--porcelain", "--", "docs", "generator")
    if dirty and not allow_dirty:
        first = dirty.splitlines()[0][3:]
        raise PublishError(
            f"uncommitted changes in docs/ or generator/ (e.g. {first}). Commit them, "
            f"or pass --allow-dirty to publish anyway"
        )
    manifest_path = root / "docs" / "generated" / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        raise PublishError(f"{manifest_path}: missing or unreadable. Run `nox -s build` first") from None
    if (root / "docs" / "generated" / ".incomplete").exists():
        raise PublishError("docs/generated/ is incomplete (the last build did not finish). Rerun `nox -s build`")
    weights = manifest.get("weights") or {}
    if weights.get("available") is False and not allow_stand_in:
        raise PublishError(
            "the trained VGG16's weights were not available when the site was built, so parts of "
            "it are missing. Rebuild with them, or pass --allow-stand-in"
        )
    if not weights.get("official", False) and not allow_stand_in:
        raise PublishError(
            f"the 'trained' figures were built with stand-in weights (sha256 "
            f"{(weights.get('sha256') or 'unknown')[:12]}…), not torchvision's ImageNet file. "
            f"Rebuild with the official weights, or pass --allow-stand-in"
        )
    return manifest


def ensure_site(root: Path) -> Path:
    """``site/``, built first when it is missing or older than the manifest."""
    site = root / "site"
    manifest = root / "docs" / "generated" / "manifest.json"
    index = site / "index.html"
    if not index.is_file() or index.stat().st_mtime < manifest.stat().st_mtime:
        print("publish: building the site (site/ is missing or older than the figures)", file=sys.stderr)
        proc = subprocess.run(
            [sys.executable, "-m", "properdocs", "build", "--strict", "-f", str(root / "mkdocs.yml"), "-d", str(site)],
            cwd=root,
        )
        if proc.returncode != 0:
            raise PublishError("the strict site build failed; see its messages above")
    (site / ".nojekyll").write_text("")
    return site


def message(root: Path, manifest: dict) -> str:
    source = git(root, "rev-parse", "HEAD")
    weights = manifest.get("weights") or {}
    kind = "official ImageNet weights" if weights.get("official") else "stand-in weights"
    sha = (weights.get("sha256") or "not downloaded")[:12]
    return (
        f"Deploy site from {source[:12]}\n\nsource commit: {source}\nprofile: {manifest.get('profile')}\n"
        f"weights: {kind} (sha256 {sha})\n"
    )


def commit_site(root: Path, site: Path, branch: str, text: str) -> str | None:
    """Commit ``site/`` as the whole tree of ``branch``; None when it equals the branch's tree already."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git(root, "--work-tree", str(site), "add", "--all", "--force", ".", env=env)
        tree = git(root, "write-tree", env=env)
    parent = git(root, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
    if parent and git(root, "rev-parse", f"{parent}^{{tree}}") == tree:
        return None
    who = {}  # a fresh CI machine may have no git identity: the deploy commit still needs one
    if not git(root, "config", "user.name", check=False):
        who |= {"GIT_AUTHOR_NAME": "cnn-sees publish", "GIT_COMMITTER_NAME": "cnn-sees publish"}
    if not git(root, "config", "user.email", check=False):
        who |= {"GIT_AUTHOR_EMAIL": "publish@localhost", "GIT_COMMITTER_EMAIL": "publish@localhost"}
    commit = git(root, "commit-tree", tree, *(["-p", parent] if parent else []), "-m", text, env=who)
    git(root, "update-ref", f"refs/heads/{branch}", commit)
    return commit


def publish(
    root: Path,
    *,
    remote: str = "origin",
    branch: str = "gh-pages",
    allow_dirty: bool = False,
    allow_stand_in: bool = False,
) -> str | None:
    root = Path(root).resolve()
    manifest = check(root, remote, allow_dirty, allow_stand_in)
    site = ensure_site(root)
    commit = commit_site(root, site, branch, message(root, manifest))
    git(root, "push", remote, f"refs/heads/{branch}:refs/heads/{branch}")
    return commit


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generator.build.publish", description=__doc__.split("\n\n")[0])
    p.add_argument("--allow-dirty", action="store_true", help="publish with uncommitted changes in docs/ or generator/")
    p.add_argument("--allow-stand-in", action="store_true", help="publish figures made with stand-in weights")
    p.add_argument("--remote", default="origin", help="git remote to push to (default: %(default)s)")
    p.add_argument("--branch", default="gh-pages", help="branch that holds the site (default: %(default)s)")
    p.add_argument("--root", type=Path, default=Path.cwd(), help="the project's checkout (default: here)")
    args = p.parse_args(argv)
    try:
        commit = publish(
            args.root,
            remote=args.remote,
            branch=args.branch,
            allow_dirty=args.allow_dirty,
            allow_stand_in=args.allow_stand_in,
        )
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if commit is None:
        print(f"publish: the site is unchanged since the last publish; {args.branch} stays as it is", file=sys.stderr)
    else:
        print(f"publish: {args.branch} is now {commit[:12]}, pushed to {args.remote}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
