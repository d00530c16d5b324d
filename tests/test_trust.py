"""The trust chapter: its verdicts follow its intervals, every template branch is reachable and says what
the numbers say, and the quick build fills the table for every method on both networks."""

from __future__ import annotations

import json

import pytest

from generator.chapters.trust.render import _side, verdict, weight_dependence
from generator.chapters.trust.spec import PASSES_BELOW
from generator.lib.metrics import bootstrap_interval
from generator.site.fragments import environment


def interval(mean, low, high, n=3):
    return {"mean": mean, "low": low, "high": high, "n": n}


@pytest.mark.parametrize(
    ("rho", "want"),
    [
        (interval(0.2, 0.1, 0.3), "depends on the weights"),
        (interval(0.8, 0.6, 0.9), "ignores the weights"),
        (interval(0.5, 0.4, 0.6), "inconclusive"),  # straddles the threshold
        (interval(PASSES_BELOW, PASSES_BELOW, PASSES_BELOW), "ignores the weights"),  # at it: not below
        (interval(0.2, 0.2, 0.2, n=1), "one photo"),
        (interval(None, float("nan"), float("nan"), n=0), "n/a"),
    ],
)
def test_weight_dependence_follows_the_interval(rho, want):
    assert weight_dependence(rho) == want


def test_faithfulness_sides_and_the_verdict():
    assert _side(interval(0.1, 0.02, 0.2), "faster", "slower") == "faster"
    assert _side(interval(-0.1, -0.2, -0.02), "faster", "slower") == "slower"
    assert _side(interval(0.0, -0.1, 0.1), "faster", "slower") == "inconclusive"
    assert _side(interval(0.1, 0.1, 0.1, n=1), "faster", "slower") == "one photo"
    good = ("depends on the weights", "faster than random", "faster than random")
    assert verdict(*good) == "trust"
    assert verdict("ignores the weights", *good[1:]) == "do not trust"
    assert verdict(good[0], "slower than random", good[2]) == "do not trust"
    assert verdict(good[0], good[1], "inconclusive") == "inconclusive"
    assert verdict("one photo", "one photo", "one photo") == "inconclusive"


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_more_photos():
    few = bootstrap_interval([0.4, 0.5, 0.6])
    many = bootstrap_interval([0.4, 0.5, 0.6] * 10)
    assert few[0] < 0.5 < few[1] and many[0] < 0.5 < many[1]
    assert many[1] - many[0] < few[1] - few[0]
    assert bootstrap_interval([0.3]) == (0.3, 0.3)
    assert bootstrap_interval([0.1, 0.2], seed=1) == bootstrap_interval([0.1, 0.2], seed=1)  # seeded


def _row(name, verdict_, beats_sobel=True, passes=None):
    iv = interval(0.2, 0.1, 0.3)
    return {"name": name, "title": name.title(), "group": "gradients", "passes": passes, "rho": iv,
            "deletion": iv, "insertion": iv, "random": {"deletion": 0.5, "insertion": 0.5},
            "sobel": {"deletion": 0.5, "insertion": 0.5}, "weights": "depends on the weights",
            "deletion_vs_random": "faster than random", "insertion_vs_random": "faster than random",
            "verdict": verdict_, "cascade_step": 1, "in_cascade": True, "beats_sobel": beats_sobel}  # fmt: skip


def _records(rows, **more):
    return {"rows": rows, "photos": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}], "steps": 8,
            "settings": {"random_seeds": 3}, "passes_below": 0.5, "cascade_steps": ["none", "classifier"],
            "trained_label": "trained", **more}  # fmt: skip


def _table(records) -> str:
    return " ".join(environment().get_template("trust.table.md.j2").render(records=records).split())


@pytest.mark.parametrize(
    ("verdicts", "says", "not_says"),
    [
        (["trust", "trust"], "Every method passed all three checks", "failed one outright"),
        (["trust", "do not trust"], "1 of the 2 methods passed all three checks (A)", "Every method passed"),
        (["do not trust", "inconclusive"], "No method passed all three checks", "Every method passed"),
        (["inconclusive", "inconclusive"], "For 2, an interval straddles", "failed one outright ("),
    ],
)
def test_the_table_summary_follows_the_verdicts(verdicts, says, not_says):
    text = _table(_records([_row(n, v) for n, v in zip("ab", verdicts)]))
    assert says in text and not_says not in text
    if "do not trust" in verdicts:
        assert "failed one outright" in text


@pytest.mark.parametrize(
    ("beats", "says"),
    [
        ([True, True], "Every method's deletion curve falls faster than the edge map's"),
        ([True, False], "1 of the 2 methods' deletion curves fall faster than the edge map's"),
        ([False, False], "No method's deletion curve falls faster than the edge map's"),
    ],
)
def test_the_edge_map_sentence_follows_the_numbers(beats, says):
    assert says in _table(_records([_row(n, "trust", b) for n, b in zip("ab", beats)]))


def test_an_empty_build_says_so():
    assert "Not in this build" in _table({"rows": [], "photos": []})


def _scope(**more) -> str:
    base = {"ig_completeness": {"trained": 0.2, "untrained": 0.2}, "random_deletion": 0.5,
            "zero_biases": {"trained": False, "untrained": True}}  # fmt: skip
    rec = _records([_row("a", "trust")], **(base | more))
    rec["settings"] = {"photos": 3, "ig_steps": 8, "window": 16, "stride": 8, "score_cam_layer": "block5_conv3"}
    return " ".join(environment().get_template("trust.scope.md.j2").render(records=rec).split())


def test_the_scope_box_branches():
    assert "more steps would make it more faithful" in _scope()
    exact = _scope(ig_completeness={"trained": 0.0, "untrained": 0.0}, zero_biases={"trained": True, "untrained": True})
    assert "exact to rounding" in exact and "more steps" not in exact
    assert "hardly needs the photo" not in _scope()
    flat = _scope(random_deletion=0.97, trained_label="trained (stand-in weights)")
    assert "hardly needs the photo" in flat and "97 %" in flat and "stand-in weights, not ImageNet's" in flat
    assert "each channel of `block5_conv3`" in _scope()
    assert "own passes" not in _scope()  # every photo ran every method: nothing to name
    one = _scope(photos=[{"id": "a", "title": "A cat"}, {"id": "b", "title": "A cup"}],
                 separate_photos=[{"id": "a", "title": "A cat"}],
                 separate_titles=["Integrated Gradients", "LRP", "Occlusion", "Score-CAM"])  # fmt: skip
    assert (
        "The methods with their own passes (Integrated Gradients, LRP, Occlusion and Score-CAM) ran on one of"
        " them: A cat." in one
    )


def test_the_scope_box_states_a_score_cam_shortcut():
    base = {"ig_completeness": {"trained": 0.2, "untrained": 0.2}, "random_deletion": 0.5,
            "zero_biases": {"trained": False, "untrained": True}}  # fmt: skip
    rec = _records([_row("a", "trust")], **base)
    rec["settings"] = {"photos": 3, "ig_steps": 8, "window": 16, "stride": 8, "score_cam_layer": "block5_conv3",
                       "score_cam_channels": 32}  # fmt: skip
    text = " ".join(environment().get_template("trust.scope.md.j2").render(records=rec).split())
    assert "the 32 most active channels of `block5_conv3` (a shortcut of this profile" in text


def test_the_quick_build_fills_the_table_for_every_method(quick_build):
    from generator.lib.methods import every_method
    from generator.lib.separate import SEPARATE

    state = json.loads((quick_build / ".state" / "trust.json").read_text())
    rows = {r["name"]: r for r in state["records"]["rows"]}
    assert list(rows) == [m.name for m in every_method()]
    for name, row in rows.items():
        assert row["verdict"] in ("trust", "do not trust", "inconclusive"), name
        # the quick profile runs the separate methods on the featured photo only
        photos = 1 if name in SEPARATE else 3
        if name == "smoothgrad":
            assert row["passes"] == "the shared pass + 4 noisy forward and backward passes"
        assert row["deletion"]["n"] == photos and row["rho"]["n"] == photos, name
        if photos == 1:
            assert row["verdict"] == "inconclusive" and row["weights"] == "one photo", name
        assert 0 <= row["deletion"]["mean"] <= 1.5 and 0 <= row["insertion"]["mean"] <= 1.5, name
    for part in ("gradients", "backward_rules", "perturbation", "cam"):
        assert (quick_build / state["records"]["figures"][part]["path"]).is_file()
    text = (quick_build / "fragments" / "trust.table.md").read_text()
    assert all(m.title in text for m in every_method())


@pytest.mark.parametrize("official", [True, False])
@pytest.mark.parametrize("n", [1, 3])
def test_a_family_table_states_intervals_only_over_several_photos_and_warns_with_a_stand_in(official, n):
    rows = [_row("a", "trust") | {"rho": interval(0.2, 0.1, 0.3, n=n)}]
    rec = _records(rows, groups=[{"key": "gradients", "name": "gradients", "title": "gradient"}], figures={})
    text = " ".join(
        environment()
        .get_template("trust.gradients.md.j2")
        .render(records=rec, weights={"official": official, "available": True})
        .split()
    )
    assert ("Brackets are 95 % bootstrap intervals" in text) == (n > 1)
    assert ("these verdicts rest on small differences" in text) == (not official)
    assert "| A | the shared pass |" in text
