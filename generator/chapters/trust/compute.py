"""Which explanation can you trust: the separate methods, and both tests for every method, on one photo.

For a photo in scope (see ``spec.py``) and each network this computes the four methods with their own passes
(:data:`generator.lib.separate.SEPARATE`, with their cost in network passes), takes every shared-pass
method's map from the saliency
result, and runs deletion and insertion curves (:mod:`generator.lib.faithfulness`) for every map, for random
rankings and for the photo's Sobel edge map.  Both networks explain the trained network's top-1 class, as
the sanity checks do; the trained-vs-untrained Spearman ρ of every map is recorded, and the cascade's
similarities are copied for the table.
"""

from __future__ import annotations

import numpy as np

from generator.chapters.cascading_randomisation import spec as cascade
from generator.chapters.cascading_randomisation.compute import CascadeVGG
from generator.chapters.saliency import spec as saliency
from generator.chapters.saliency.compute import method_maps
from generator.config import featured_among
from generator.core import Context, ImageInput, ModelInput, Result
from generator.lib import metrics
from generator.lib.faithfulness import auc, random_map, sobel_map
from generator.lib.faithfulness import curves as faithfulness_curves
from generator.lib.separate import SEPARATE

NETWORKS = ("trained", "untrained")


def trust_photos(ids: list[str], n: int) -> list[str]:
    """The photos in scope: the featured one first, then the others in order; ``n`` of them (0: all)."""
    first = featured_among(ids)
    ordered = ([first] if first else []) + [i for i in ids if i != first]
    return ordered if n <= 0 else ordered[:n]


def separate_maps(net, x, target: int, s: dict) -> tuple[dict[str, np.ndarray], dict]:
    """Every separate method's map (H x W, float32) and what it reports of itself (its passes: a cost that,
    unlike seconds, is the same on every machine and every run)."""
    maps, info = {}, {}
    for name, method in SEPARATE.items():
        mp, info[name] = method.compute(net, x, target, s)
        maps[name] = np.asarray(mp, dtype=np.float32)
    return maps, info


def separate_cascade(trained, untrained, x, target: int, s: dict, maps: dict, final: dict) -> dict[str, list]:
    """The cascading randomisation for the separate methods named in ``s["cascade_separate"]``: each method's
    Spearman ρ with its map on the trained network (``maps``) after re-initialising the classifier, then
    block5, ..., block1. The last step is the untrained network itself, whose maps (``final``) are known."""
    names = [n for n in s["cascade_separate"] if n in maps]
    out = {n: [1.0] for n in names}
    for k in range(1, len(cascade.STEPS)):
        net = CascadeVGG(trained, untrained, set(cascade.STEPS[:k]))
        for n in names:
            mp, _ = SEPARATE[n].compute(net, x, target, s)
            out[n].append(metrics.spearman(maps[n], np.asarray(mp, dtype=np.float32)))
    for n in names:
        out[n].append(metrics.spearman(maps[n], final[n]))
    return out


def curves(net, x, maps: dict[str, np.ndarray], target: int, s: dict, seen: np.ndarray) -> dict:
    """Deletion and insertion curves of every map and of the baselines, each divided by the class probability
    on the unchanged photo (so that photos, and networks whose probabilities are all tiny, compare):
    {name: {kind: (relative probabilities, their area)}}."""
    rankings = dict(maps)
    rankings["sobel"] = sobel_map(seen)
    size = next(iter(maps.values())).shape
    for k in range(s["random_seeds"]):
        rankings[f"random{k}"] = random_map(size, k)
    out = faithfulness_curves(
        net, x, rankings, target, steps=s["steps"], batch_size=s["batch_size"], channels_last=s["channels_last"]
    )
    p0 = float(next(iter(out.values()))["deletion"].probs[0])  # every deletion curve starts at the photo
    return {
        name: {kind: (c.probs / p0, auc(c.probs / p0)) for kind, c in by_kind.items()} for name, by_kind in out.items()
    }


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    s = ctx.settings
    if image.id not in trust_photos([i.id for i in ctx.images], s["photos"]):
        return Result(records={"in_scope": False})
    base = ctx.result(saliency.TECHNIQUE, image.id, "trained")
    target = int(saliency.TARGET.read(base))
    x = image.tensor.to(ctx.device)
    size = tuple(image.tensor.shape[-2:])
    arrays: dict[str, np.ndarray] = {}  # this chapter's own arrays: <network>/<method>/(map|deletion|insertion)
    separate = image.id in trust_photos([i.id for i in ctx.images], s["separate_photos"])
    per_net, maps_by = {}, {}
    for m in NETWORKS:
        net = model.net if m == "trained" else ctx.model(m).net
        maps = method_maps(ctx.result(saliency.TECHNIQUE, image.id, m), size)
        own, info = separate_maps(net, x, target, s) if separate else ({}, {})
        maps |= own
        for name, mp in maps.items():  # every map, scaled by its own peak (the figures rescale them anyway)
            peak = float(mp.max())
            arrays[f"{m}/{name}/map"] = (mp / peak if peak > 0 else mp * 0).astype(np.float16)
        found = curves(net, x, maps, target, s, image.seen)
        for name, by_kind in found.items():
            for kind, (probs, _) in by_kind.items():
                arrays[f"{m}/{name}/{kind}"] = probs.astype(np.float32)
        biases = [p for name, p in net.named_parameters() if name.endswith("bias")]
        per_net[m] = {
            "zero_biases": all(bool((b == 0).all()) for b in biases),
            "auc": {name: {kind: area for kind, (_, area) in by_kind.items()} for name, by_kind in found.items()},
            "passes": {name: i["passes"] for name, i in info.items()},
            "ig_completeness": info["integrated_gradients"]["completeness_error"] if separate else None,
        }
        maps_by[m] = maps
    rho = {name: metrics.spearman(maps_by["trained"][name], maps_by["untrained"][name]) for name in maps_by["trained"]}
    similarity = cascade.SIMILARITY.read(ctx.result(cascade.TECHNIQUE, image.id, "trained"))
    shared = {name: sim["spearman"] for name, sim in similarity.items()}
    own = (
        separate_cascade(model.net, ctx.model("untrained").net, x, target, s, maps_by["trained"], maps_by["untrained"])
        if separate
        else {}
    )
    return Result(
        arrays=arrays,
        records={
            "in_scope": True,
            "target": target,
            "target_label": saliency.TARGET_LABEL.read(base),
            "networks": per_net,
            "rho": rho,
            "cascade": shared | own,
            "cascade_separate": list(own),
            "methods": list(maps_by["trained"]),
        },
    )
