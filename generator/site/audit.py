"""Lighthouse on every kind of page of a built site: its four scores, TBT, CLS and LCP, against the targets.

    python -m generator.site.audit site/                       # a table; exit 1 when a target is missed
    python -m generator.site.audit site/ --page vgg16/ --page ""   # only these pages ('' is the home page)
    nox -s audit                                               # the same on site/, with Lighthouse installed

Lighthouse 12 runs with its default settings, the mobile preset (a Moto G power-class phone on a throttled
4G connection, with the CPU slowed four times), against the site served as a static host serves it (text
gzip-compressed, ``generator.site.host``). Lighthouse's performance score is made from timings, so it
varies with the machine and with whatever else the machine is doing: this is a benchmark to read, never a
test. Run it on an idle machine. The accessibility, best-practices and SEO scores do not depend on time.

The targets (issue "Web quality"): accessibility, best practices and SEO 100 on every page; performance at
least 90, total blocking time at most 200 ms and cumulative layout shift at most 0.05 on every page.
Each page is audited ``--runs`` times (3 by default) and the table shows each number's median.

Needs Node.js and the ``lighthouse`` npm package, version 12 (13 wants Node 22): ``nox -s audit`` installs
``lighthouse@12.2.3`` into ``.nox/lighthouse`` on first use, or pass ``--lighthouse`` the package's
``cli/index.js``. Chromium is Debian's (``/usr/bin/chromium``), as for the browser test.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from generator.site.host import serve, site_argument
from generator.site.weigh import CHROMIUM, site_pages

LIGHTHOUSE_VERSION = "12.2.3"
DEFAULT_LIGHTHOUSE = Path(".nox") / "lighthouse" / "node_modules" / "lighthouse" / "cli" / "index.js"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking"
RUN_TIMEOUT_S = 240

TARGETS = {
    "performance": 90,
    "accessibility": 100,
    "best-practices": 100,
    "seo": 100,
    "tbt_ms": 200,
    "cls": 0.05,
}
"""Scores are at least, TBT and CLS at most, their target."""


@dataclass
class PageAudit:
    path: str
    scores: dict[str, int] = field(default_factory=dict)  # category -> 0..100
    tbt_ms: float = 0.0
    cls: float = 0.0
    lcp_ms: float = 0.0
    benchmark_index: float = 0.0  # Lighthouse's measure of the machine's CPU speed during the run
    failed: dict[str, list[str]] = field(default_factory=dict)  # category -> audits scored below 1
    error: str = ""

    def missed(self) -> list[str]:
        """The targets this page misses, each as 'what value (target)'."""
        if self.error:
            return [f"not audited: {self.error}"]
        out = [
            f"{name} {self.scores.get(name, 0)} (target {TARGETS[name]})"
            for name in CATEGORIES
            if self.scores.get(name, 0) < TARGETS[name]
        ]
        if self.tbt_ms > TARGETS["tbt_ms"]:
            out.append(f"TBT {self.tbt_ms:.0f} ms (target {TARGETS['tbt_ms']} ms)")
        if self.cls > TARGETS["cls"]:
            out.append(f"CLS {self.cls:.3f} (target {TARGETS['cls']})")
        return out


def page_kinds(site: Path) -> list[str]:
    """Every page but the gallery pages of all photos but the first (the same kinds of page again)."""
    pages = site_pages(site)
    photos = sorted({p.split("/")[1] for p in pages if p.startswith("gallery/") and p.count("/") >= 2})
    first = f"gallery/{photos[0]}/" if photos else None
    return [p for p in pages if not p.startswith("gallery/") or p == "gallery/" or (first and p.startswith(first))]


def lighthouse_missing(lighthouse: Path) -> str | None:
    """Why Lighthouse cannot run here, in one line with the fix, or None."""
    if shutil.which("node") is None:
        return "Node.js is not installed: install it (Debian: apt-get install nodejs npm), then rerun."
    if not lighthouse.is_file():
        return (
            f"Lighthouse not found at {lighthouse}: run `nox -s audit` (it installs lighthouse@{LIGHTHOUSE_VERSION}), "
            f"or `npm install --prefix DIR lighthouse@{LIGHTHOUSE_VERSION}` and pass --lighthouse "
            "DIR/node_modules/lighthouse/cli/index.js."
        )
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM}: install Debian's chromium package, then rerun."
    return None


def parse_report(path: str, report: dict) -> PageAudit:
    """One page's audit from Lighthouse's JSON report."""
    audit = PageAudit(path)
    if report.get("runtimeError"):
        audit.error = f"{report['runtimeError'].get('code')}: {report['runtimeError'].get('message', '')}"[:200]
        return audit
    audits = report["audits"]
    for name in CATEGORIES:
        category = report["categories"].get(name)
        if category is None or category.get("score") is None:
            audit.error = f"Lighthouse gave no {name} score"
            continue
        audit.scores[name] = round(category["score"] * 100)
        failing = [
            ref["id"]
            for ref in category["auditRefs"]
            if ref.get("weight", 0) > 0
            and audits.get(ref["id"], {}).get("score") is not None
            and audits[ref["id"]]["score"] < 1
        ]
        if failing:
            audit.failed[name] = failing
    audit.tbt_ms = float(audits.get("total-blocking-time", {}).get("numericValue") or 0.0)
    audit.cls = float(audits.get("cumulative-layout-shift", {}).get("numericValue") or 0.0)
    audit.lcp_ms = float(audits.get("largest-contentful-paint", {}).get("numericValue") or 0.0)
    audit.benchmark_index = float((report.get("environment") or {}).get("benchmarkIndex") or 0.0)
    return audit


def audit_page(lighthouse: Path, url: str, path: str, *, reports: Path | None = None, run: int = 1) -> PageAudit:
    """Run Lighthouse once on ``url``; its JSON report is kept in ``reports`` when given (one file a run)."""
    with tempfile.TemporaryDirectory(prefix="cnn-sees-lighthouse-") as tmp:
        out = Path(tmp) / "report.json"
        command = [
            "node",
            str(lighthouse),
            url,
            "--output=json",
            f"--output-path={out}",
            f"--only-categories={','.join(CATEGORIES)}",
            f"--chrome-flags={CHROME_FLAGS}",
            "--quiet",
        ]
        env = {**os.environ, "CHROME_PATH": str(CHROMIUM)}
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env=env)
        except subprocess.TimeoutExpired:
            return PageAudit(path, error=f"Lighthouse took over {RUN_TIMEOUT_S} s")
        if done.returncode != 0 or not out.is_file():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            return PageAudit(path, error=f"Lighthouse exited {done.returncode}: {last[:200]}")
        report = json.loads(out.read_text(encoding="utf-8"))
        if reports is not None:
            reports.mkdir(parents=True, exist_ok=True)
            name = f"{path.strip('/').replace('/', '__') or 'home'}-run{run}.json"
            shutil.copyfile(out, reports / name)
    return parse_report(path, report)


def median_audit(runs: list[PageAudit]) -> PageAudit:
    """One page's runs as one: each score and timing is the median over the runs that succeeded (the
    performance score of one run moves by 5-10 points on a busy two-core machine)."""
    good = [r for r in runs if not r.error]
    if not good:
        return runs[0]

    def median(values):
        values = sorted(values)
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    out = PageAudit(good[0].path)
    for name in CATEGORIES:
        values = [r.scores[name] for r in good if name in r.scores]
        if values:
            out.scores[name] = round(median(values))
    out.tbt_ms = median([r.tbt_ms for r in good])
    out.cls = median([r.cls for r in good])
    out.lcp_ms = median([r.lcp_ms for r in good])
    out.benchmark_index = median([r.benchmark_index for r in good])
    for r in good:
        for category, ids in r.failed.items():
            out.failed.setdefault(category, [])
            out.failed[category] += [i for i in ids if i not in out.failed[category]]
    return out


def audit_site(
    site: Path, pages: list[str], lighthouse: Path, *, runs: int = 3, reports: Path | None = None
) -> list[PageAudit]:
    results = []
    with serve(site) as base:
        for n, path in enumerate(pages):
            print(
                f"[{n + 1}/{len(pages)}] {path or '/'} ({runs} run{'s' if runs > 1 else ''})",
                file=sys.stderr,
                flush=True,
            )
            page_runs = [audit_page(lighthouse, base + path, path, reports=reports, run=k + 1) for k in range(runs)]
            results.append(median_audit(page_runs))
    return results


def table(results: list[PageAudit]) -> str:
    head = f"{'page':<44}{'perf':>5}{'a11y':>5}{'b.p.':>5}{'seo':>5}{'TBT ms':>8}{'CLS':>7}{'LCP s':>7}  targets"
    lines = [head, "-" * len(head)]
    for r in results:
        if r.error:
            lines.append(f"{r.path or '/':<44}  not audited: {r.error}")
            continue
        s = r.scores
        missed = r.missed()
        lines.append(
            f"{r.path or '/':<44}{s.get('performance', 0):>5}{s.get('accessibility', 0):>5}"
            f"{s.get('best-practices', 0):>5}{s.get('seo', 0):>5}{r.tbt_ms:>8.0f}{r.cls:>7.3f}"
            f"{r.lcp_ms / 1000:>7.1f}  {'met' if not missed else 'MISSED: ' + '; '.join(missed)}"
        )
    failing: dict[str, set[str]] = {}
    for r in results:
        for category, ids in r.failed.items():
            failing.setdefault(category, set()).update(ids)
    if failing:
        lines.append("")
        lines.append("Lighthouse audits that lost points on some page (see --reports for each page's details):")
        for category, ids in sorted(failing.items()):
            lines.append(f"  {category}: {', '.join(sorted(ids))}")
    speeds = sorted(r.benchmark_index for r in results if r.benchmark_index and not r.error)
    if speeds:
        lines.append("")
        lines.append(
            f"This machine's Lighthouse benchmarkIndex: {statistics.median(speeds):.0f} (median; Chrome DevTools rates "
            "a mid-tier phone such as a Pixel 5 at 1000). Lighthouse slows the CPU 4x whatever the machine, so a "
            "slower machine scores lower: compare runs from one machine."
        )
    met = sum(not r.missed() for r in results)
    lines.append(f"\n{met} of {len(results)} pages meet every target.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m generator.site.audit",
        description="Run Lighthouse (mobile preset) on every kind of page of a built site and print each "
        "page's four scores, TBT, CLS and LCP against the targets. Exit 1 when a target is missed.",
    )
    site_argument(p, "each page's scores")
    p.add_argument(
        "--page",
        action="append",
        metavar="PATH",
        help="audit only this page (a URL path such as vgg16/ or '' for the home page; repeatable)",
    )
    p.add_argument("--every-page", action="store_true", help="audit every page, not one per kind")
    p.add_argument(
        "--lighthouse",
        type=Path,
        default=DEFAULT_LIGHTHOUSE,
        help="Lighthouse's cli/index.js (default: %(default)s, where nox -s audit installs it)",
    )
    p.add_argument("--reports", type=Path, help="keep each page's full Lighthouse JSON report in this folder")
    p.add_argument(
        "--runs",
        type=int,
        default=3,
        help="Lighthouse runs per page; the table shows each number's median (default: %(default)s)",
    )
    args = p.parse_args(argv)

    if not (args.site / "index.html").is_file():
        print(f"error: {args.site} holds no built site (no index.html): run `nox -s build` first.", file=sys.stderr)
        return 2
    problem = lighthouse_missing(args.lighthouse)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    known = site_pages(args.site)
    if args.page is not None:
        unknown = [page for page in args.page if page not in known]
        if unknown:
            print(f"error: {args.site} has no page {unknown[0]!r}; pages look like 'vgg16/' or ''.", file=sys.stderr)
            return 2
        pages = args.page
    else:
        pages = known if args.every_page else page_kinds(args.site)
    if args.runs < 1:
        p.error("--runs must be at least 1")
    results = audit_site(args.site, pages, args.lighthouse, runs=args.runs, reports=args.reports)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1), encoding="utf-8")
    return 0 if all(not r.missed() for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
