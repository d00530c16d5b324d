"""The site-wide fragments that depend on every technique's state: the build page, the methods table, the
closing chapter's verdicts and the manifest (every figure with its technique, photo, model, layer and kind,
which the gallery pages read)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING

from generator.atomic import atomic_write_text
from generator.site.fragments import SiteContext, environment

if TYPE_CHECKING:  # pragma: no cover
    from generator.build.state import StateStore
    from generator.core import Technique


def write_build_page(site: SiteContext, techniques: Iterable[Technique], states: StateStore, info: dict) -> None:
    """``fragments/build.md``: provenance and, per technique, units, figures and timings.

    The timings are those stored with each unit and each technique's figures by the run
    that made them, so a rerun from the cache writes the same page, byte for byte.
    """
    rows = []
    for tech in sorted(techniques, key=lambda t: (t.order, t.name)):
        state = states.read(tech.name)
        if state is None:
            rows.append(
                {
                    "title": tech.title,
                    "chapter": tech.chapter,
                    "units": 0,
                    "figures": 0,
                    "compute_seconds": 0.0,
                    "render_seconds": 0.0,
                    "missing": True,
                }
            )
            continue
        timing = state.get("timing") or {}
        rows.append(
            {
                "title": tech.title,
                "chapter": tech.chapter,
                "units": timing.get("units", 0),
                "figures": len(state["figures"]),
                "compute_seconds": timing.get("compute_seconds", 0.0),
                "render_seconds": timing.get("render_seconds", 0.0),
                "missing": False,
            }
        )
    totals = {k: sum(r[k] for r in rows) for k in ("units", "figures", "compute_seconds", "render_seconds")}
    text = environment().get_template("_build.md.j2").render(info=info, techniques=rows, totals=totals)
    atomic_write_text(site.out_dir / "fragments" / "build.md", text)


# Fragments that state compute times: the same on a rerun from the cache, but not between two
# cold builds (or a `nox -s same` comparison), which compute, and time, everything again.
TIMED_FRAGMENTS = ("fragments/build.md", "fragments/methods.md")


FAMILY_PAGES = {
    "gradients": "saliency.md",
    "backward rules": "backward-rules.md",
    "perturbation": "perturbation.md",
    "cam": "cam.md",
}
"""The chapter that explains each family of attribution methods (a method's ``group``)."""


def write_methods_table(site: SiteContext, techniques: Iterable[Technique], states: StateStore, device: str) -> None:
    """``fragments/methods.md``: each method's question, its compute time in this build, its sanity checks.

    The attribution rows list every method of :data:`generator.lib.methods.METHODS` under the chapter that
    shows its family."""
    from generator.chapters.cascading_randomisation.verdicts import PASSES_BELOW
    from generator.lib.methods import family

    rows = []
    for tech in sorted(techniques, key=lambda t: (t.order, t.name)):
        state = states.read(tech.name)
        timing = (state or {}).get("timing") or {}
        units = timing.get("units", 0)
        rows.append(
            {
                "name": tech.name,
                "chapter": tech.chapter,
                "scope": tech.scope,
                "missing": state is None,
                "per_unit": timing.get("compute_seconds", 0.0) / units if units else 0.0,
                "methods": [{**m.as_dict(), "page": FAMILY_PAGES[m.group]} for m in family(tech.family)]
                if tech.family
                else [],
            }
        )
    cascade = states.read("cascading_randomisation")
    text = (
        environment()
        .get_template("_methods.md.j2")
        .render(rows=rows, checks=cascade["records"] if cascade else None, device=device, passes_below=PASSES_BELOW)
    )
    atomic_write_text(site.out_dir / "fragments" / "methods.md", text)


CONCLUDED = ("predictions", "relu", "trust", "class_model", "inversion")
"""The techniques whose verdicts the closing chapter gathers."""


def write_conclusions(site: SiteContext, states: StateStore) -> None:
    """``fragments/conclusions.md``: the closing chapter's verdicts, each chosen by this build's numbers."""
    records = {}
    for name in CONCLUDED:
        state = states.read(name)
        records[name] = state["records"] if state else None
    text = environment().get_template("conclusions.md.j2").render(s=records, weights=site.weights, images=site.images)
    atomic_write_text(site.out_dir / "fragments" / "conclusions.md", text)


def write_manifest(site: SiteContext, techniques: Iterable[Technique], states: StateStore) -> None:
    """``manifest.json``: every figure with its technique, image, model, layer and path, in site order, and
    the paths of the data files (not figures) that renderers wrote, and the attribution methods."""
    from generator.lib.methods import every_method

    figures: list[dict] = []
    data: list[str] = []
    listed = []
    for tech in sorted(techniques, key=lambda t: (t.order, t.name)):
        state = states.read(tech.name)
        if state is None:
            continue
        listed.append({"name": tech.name, "title": tech.title, "chapter": tech.chapter})
        figures.extend(state["figures"])
        data.extend(state.get("data", []))
    manifest = {
        "version": 1,
        "profile": site.profile.name,
        "images": site.images,
        "models": site.models,
        "weights": site.weights,
        "techniques": listed,
        "figures": figures,
        "data": data,  # files that are not figures (the unit explorer's atlases and indexes)
        "methods": [m.as_dict() for m in every_method()],  # the attribution methods (the glossary lists them)
    }
    atomic_write_text(site.out_dir / "manifest.json", json.dumps(manifest, indent=1, sort_keys=False) + "\n")
