"""Top-5 bar charts, trained-vs-untrained tables and the confidence comparison.

Per (image, model): a horizontal bar chart of the five most probable ImageNet
classes on a shared 0..1 axis, so the untrained model's near-zero bars look
as small as they are.  Across photos: entropy and top-1 probability of both
models against the uniform guess (ln 1000 nats, 1/1000).
"""

from __future__ import annotations

import math

import numpy as np

from generator.models import CATEGORIES
from generator.render import MODEL_COLOURS, RenderContext, models_in, new_figure
from generator.site.markup import number

N_CLASSES = len(CATEGORIES)
UNIFORM_ENTROPY = math.log(N_CLASSES)
UNIFORM_PROB = 1.0 / N_CLASSES


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _p(p: float) -> str:
    return f"{p:.3f}" if p >= 0.01 else f"{p:.5f}"


def _bars(rc: RenderContext, img, model: str, rec: dict):
    top = rec["top"]
    fig = new_figure(4.6, 0.42 * len(top) + 0.9)
    ax = fig.subplots()
    y = np.arange(len(top))[::-1]
    probs = [r["prob"] for r in top]
    expected = rec.get("expected_index")
    colours = [MODEL_COLOURS[model] if r["index"] != expected else "#2a9d3a" for r in top]
    ax.barh(y, probs, color=colours, height=0.7)
    ax.set_yticks(y, [_short(r["label"]) for r in top], fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability (softmax)", fontsize=9)
    ax.tick_params(axis="x", labelsize=9)
    for yi, p in zip(y, probs):
        text = f"{p:.3f}" if p >= 0.01 else f"{p:.5f}" if p >= 1e-5 else f"{p:.1e}"
        inside = p > 0.75
        ax.text(
            p - 0.01 if inside else p + 0.01,
            yi,
            text,
            va="center",
            ha="right" if inside else "left",
            fontsize=9,
            color="white" if inside else "0.2",
        )
    ax.set_title(f"{rc.labels[model]}: entropy {number(max(0.0, rec['entropy']), 2)} of {UNIFORM_ENTROPY:.2f} nats",
                 fontsize=9)  # fmt: skip
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    top1 = top[0]
    caption = (
        f"{img.title}, {rc.labels[model]}: the five most probable of the {N_CLASSES} ImageNet classes. "
        f"Top-1 *{top1['label']}* with p = {_p(top1['prob'])}; entropy {number(max(0.0, rec['entropy']), 2)} nats "
        f"(uniform guess: {UNIFORM_ENTROPY:.2f})."
    )
    if expected is not None:
        caption += (
            " A green bar is the expected class."
            if any(r["index"] == expected for r in top)
            else (f" The expected class *{CATEGORIES[expected]}* is at rank {rec['expected_rank']}.")
        )
    return rc.mpl(fig, image=img.id, model=model, kind="top5", caption=caption)


def _confidence_plot(rc: RenderContext, ids, titles, recs, models):
    fig = new_figure(9, 3.4)
    axes = fig.subplots(1, 2)
    x = np.arange(len(ids))
    width = 0.8 / len(models)
    for j, m in enumerate(models):
        ent = [recs[(i, m)]["entropy"] for i in ids]
        mp = [recs[(i, m)]["max_prob"] for i in ids]
        off = (j - (len(models) - 1) / 2) * width
        axes[0].bar(x + off, ent, width, color=MODEL_COLOURS[m], label=rc.labels[m])
        axes[1].bar(x + off, mp, width, color=MODEL_COLOURS[m], label=rc.labels[m])
    axes[0].axhline(UNIFORM_ENTROPY, color="0.2", ls="--", lw=1)
    axes[0].text(
        len(ids) - 0.5,
        UNIFORM_ENTROPY * 1.01,
        f"uniform: ln {N_CLASSES} = {UNIFORM_ENTROPY:.2f}",
        ha="right",
        va="bottom",
        fontsize=8,
    )
    axes[0].set_ylim(0, UNIFORM_ENTROPY * 1.15)
    axes[0].set_ylabel("entropy (nats)")
    axes[0].set_title("How spread out is the answer?", fontsize=10)
    axes[1].set_yscale("log")
    axes[1].set_ylim(UNIFORM_PROB / 2, 1.5)
    axes[1].axhline(UNIFORM_PROB, color="0.2", ls="--", lw=1)
    axes[1].text(len(ids) - 0.5, UNIFORM_PROB * 0.8, f"uniform: 1/{N_CLASSES}", ha="right", va="top", fontsize=8)
    axes[1].set_ylabel("top-1 probability (log scale)")
    axes[1].set_title("How sure is the top answer?", fontsize=10)
    for ax in axes:
        ax.set_xticks(x, [t for t in titles], rotation=30, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=len(models), frameon=False, fontsize=9
    )
    return rc.mpl(
        fig,
        model="both",
        kind="confidence",
        caption=f"Entropy of the softmax output (left; dashed: a uniform guess over {N_CLASSES} "
        f"classes, ln {N_CLASSES} = {UNIFORM_ENTROPY:.2f} nats) and probability of the "
        f"top-1 class (right, log scale; dashed: 1/{N_CLASSES}) for every photo and both "
        f"models.",
    )


def _photo_row(rc, image_id, models, recs) -> dict:
    """One photo's numbers per network, with its bar chart, and whether the trained top-1 is the expected class."""
    img = rc.image(image_id)
    credit = img.credit
    row: dict = {
        "id": image_id,
        "title": img.title,
        "expected": CATEGORIES[credit.label_index] if credit and credit.label_index is not None else None,
    }
    for m in models:
        rec = recs[(image_id, m)]
        row[m] = {
            "top": rec["top"],
            "entropy": rec["entropy"],
            "max_prob": rec["max_prob"],
            "entropy_share": rec["entropy"] / UNIFORM_ENTROPY,
            "sum": rec["sum"],
            "max_over_uniform": rec["max_prob"] / UNIFORM_PROB,
            "expected_rank": rec.get("expected_rank"),
            "expected_prob": rec.get("expected_prob"),
            "expected_logit": rec.get("expected_logit"),
            "figure": _bars(rc, img, m, rec),
        }
    if "trained" in models:
        rank = row["trained"]["expected_rank"]
        row["match"] = row["expected"] is not None and rank == 1
        row["in_top5"] = row["expected"] is not None and rank is not None and rank <= 5
    return row  # fmt: skip


def _summary(ids, recs, models) -> dict:
    """Entropy and top-1 probability over the photos, per network."""
    summary = {}
    for m in models:
        ent = np.array([recs[(i, m)]["entropy"] for i in ids])
        mp = np.array([recs[(i, m)]["max_prob"] for i in ids])
        sums = np.array([recs[(i, m)]["sum"] for i in ids])
        summary[m] = {"entropy_mean": float(ent.mean()), "entropy_min": float(ent.min()),
                      "entropy_max": float(ent.max()), "entropy_share_min": float(ent.min() / UNIFORM_ENTROPY),
                      "max_prob_mean": float(mp.mean()), "max_prob_max": float(mp.max()),
                      "max_prob_min": float(mp.min()), "max_over_uniform_max": float(mp.max() / UNIFORM_PROB),
                      "sum_error": float(np.abs(sums - 1).max())}  # fmt: skip
    return summary


def _most_common_top1(ids: list[str], recs: dict, model: str) -> dict | None:
    """The class that is ``model``'s top-1 for the most photos, and for how many."""
    if not ids:
        return None
    tops = [recs[(i, model)]["top"][0]["index"] for i in ids]
    common = max(set(tops), key=tops.count)
    return {"label": CATEGORIES[common], "count": tops.count(common)}


def render(rc: RenderContext, results) -> dict:
    models = models_in(results)
    ids = [i.id for i in rc.images if all((i.id, m) in results for m in models)]
    titles = list(ids)  # ids are short and unique: better tick labels than titles
    recs = {(i, m): results[(i, m)].records for i in ids for m in models}
    for (i, m), rec in recs.items():  # the expected class's logit: its rank's number when p underflows to 0
        e = rec.get("expected_index")
        rec["expected_logit"] = float(results[(i, m)].arrays["logits"][e]) if e is not None else None
    photos = [_photo_row(rc, image_id, models, recs) for image_id in ids]
    confidence = _confidence_plot(rc, ids, titles, recs, models) if ids else None
    # Does the untrained model give every photo the same answer?  (A random net's output is
    # dominated by its biases and the photo-independent part of its weights.)
    same_top1 = {m: _most_common_top1(ids, recs, m) if m in models else None for m in ("trained", "untrained")}
    mismatches = [p for p in photos if "trained" in models and p["expected"] is not None and not p["match"]]
    return {
        "models": models, "photos": photos, "n_images": len(ids), "n_classes": N_CLASSES,
        "uniform_entropy": UNIFORM_ENTROPY, "uniform_prob": UNIFORM_PROB, "summary": _summary(ids, recs, models),
        "confidence_plot": confidence, "mismatches": mismatches, "n_match": sum(1 for p in photos if p.get("match")),
        "n_top5": sum(1 for p in photos if p.get("in_top5")),
        "n_expected": sum(1 for p in photos if p["expected"] is not None),
        "untrained_same_top1": same_top1["untrained"], "trained_same_top1": same_top1["trained"],
        **rc.featured_fields(ids),
    }  # fmt: skip
