"""The Lighthouse audit (generator.site.audit): its report reading, medians, targets and messages.

Lighthouse itself (Node.js and an npm package) is not needed here: a report is made in Lighthouse 12's
JSON layout, and the command-line errors are checked without running it.
"""

from __future__ import annotations

from pathlib import Path

from generator.site import audit


def report(perf=0.95, a11y=1.0, tbt=120.0, cls=0.01, failing=(), speed=1500.0) -> dict:
    audits = {
        "total-blocking-time": {"score": 0.9, "numericValue": tbt},
        "cumulative-layout-shift": {"score": 1, "numericValue": cls},
        "largest-contentful-paint": {"score": 0.8, "numericValue": 2300.0},
        "color-contrast": {"score": 0 if "color-contrast" in failing else 1},
        "unweighted": {"score": 0},
    }
    refs = {
        "performance": [{"id": "total-blocking-time", "weight": 30}, {"id": "largest-contentful-paint", "weight": 25}],
        "accessibility": [{"id": "color-contrast", "weight": 7}, {"id": "unweighted", "weight": 0}],
        "best-practices": [],
        "seo": [],
    }
    scores = {"performance": perf, "accessibility": a11y, "best-practices": 1.0, "seo": 1.0}
    categories = {k: {"score": scores[k], "auditRefs": refs[k]} for k in scores}
    return {"audits": audits, "categories": categories, "environment": {"benchmarkIndex": speed}}


def test_a_report_gives_the_scores_timings_and_the_audits_that_lost_points() -> None:
    page = audit.parse_report("vgg16/", report(perf=0.91, a11y=0.93, tbt=298.4, failing=("color-contrast",)))
    assert page.scores == {"performance": 91, "accessibility": 93, "best-practices": 100, "seo": 100}
    assert page.tbt_ms == 298.4 and page.cls == 0.01 and page.lcp_ms == 2300.0
    # Audits with no weight never cost points, so they are not listed.
    assert page.failed == {
        "performance": ["total-blocking-time", "largest-contentful-paint"],
        "accessibility": ["color-contrast"],
    }
    assert page.missed() == ["accessibility 93 (target 100)", "TBT 298 ms (target 200 ms)"]


def test_a_page_that_meets_every_target_misses_nothing() -> None:
    assert audit.parse_report("", report()).missed() == []
    assert audit.parse_report("", report(cls=0.17)).missed() == ["CLS 0.170 (target 0.05)"]


def test_a_runtime_error_is_a_page_not_audited() -> None:
    page = audit.parse_report("x/", {"runtimeError": {"code": "NO_FCP", "message": "The page did not paint"}})
    assert page.missed() == ["not audited: NO_FCP: The page did not paint"]


def test_the_table_is_the_median_of_the_runs() -> None:
    runs = [
        audit.parse_report("cam/", report(perf=p, tbt=t, speed=b))
        for p, t, b in ((0.88, 260, 1200), (0.97, 90, 1300), (0.93, 150, 1250))
    ]
    runs.append(audit.PageAudit("cam/", error="Lighthouse took over 240 s"))  # a failed run is left out
    page = audit.median_audit(runs)
    assert page.scores["performance"] == 93 and page.tbt_ms == 150 and page.missed() == []
    assert page.benchmark_index == 1250  # how fast the machine was, which the scores depend on
    text = audit.table([page, audit.parse_report("", report(a11y=0.9))])
    assert "cam/" in text and "met" in text and "MISSED: accessibility 90 (target 100)" in text
    assert text.rstrip().endswith("1 of 2 pages meet every target.")
    assert "benchmarkIndex: 1375 (median" in text  # of 1250 and the second page's 1500


def test_one_page_of_each_kind(tmp_path: Path) -> None:
    for page in ["", "vgg16/", "gallery/", "gallery/cat/", "gallery/cat/block1_conv1/", "gallery/dog/"]:
        (tmp_path / page).mkdir(parents=True, exist_ok=True)
        (tmp_path / page / "index.html").write_text("<html></html>")
    assert sorted(audit.page_kinds(tmp_path)) == ["", "gallery/", "gallery/cat/", "gallery/cat/block1_conv1/", "vgg16/"]


def test_the_command_says_what_is_missing_in_one_line(tmp_path: Path, capsys) -> None:
    assert audit.main([str(tmp_path)]) == 2
    assert "holds no built site" in capsys.readouterr().err
    (tmp_path / "index.html").write_text("<html></html>")
    assert audit.main([str(tmp_path), "--lighthouse", str(tmp_path / "nope.js")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ("lighthouse@12.2.3" in err or "Node.js" in err)
