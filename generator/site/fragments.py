"""Markdown fragments and the manifest, from records (jinja2 templates).

Each technique's template ``templates/<name>.md.j2`` becomes
``<out>/fragments/<name>.md``; extra templates ``templates/<name>.<part>.md.j2``
become ``fragments/<name>.<part>.md``.  Chapters in ``docs/`` include them with
``--8<-- "generated/fragments/<name>.md"``.  Templates get:

* ``records``  -- what the renderer returned;
* ``figures``  -- every figure of the technique (dicts: technique, image, model, layer, kind, path, caption);
* ``fig``      -- ``fig(image=..., model=..., layer=..., kind=...)`` finds one figure (or None);
* ``settings``, ``profile``, ``images`` (id, title, credit), ``models`` and ``base``
  (the prefix from a top-level chapter to the output dir, ``generated/``).

``_macros.md.j2`` holds the figure markup (captioned, lazy, zoomable) that every
template imports.
"""

from __future__ import annotations

import dataclasses
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from generator.atomic import atomic_write_bytes, atomic_write_text
from generator.models import MODELS
from generator.site.legibility import fits_half_column
from generator.site.markup import manifest_figure, manifest_thumbnail, number, scientific, text

if TYPE_CHECKING:  # pragma: no cover
    from generator.config import Profile
    from generator.core import ImageInput, Technique

TEMPLATES = Path(__file__).parent / "templates"
"""The site-wide templates (macros, the methods table, credits ...); each chapter's are in its folder."""
CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"


def chapter_templates() -> list[Path]:
    """Every chapter's ``templates/`` folder (their file names start with the chapter's name, so none collide)."""
    return sorted(d for d in CHAPTERS.glob("*/templates") if d.is_dir())


def model_info(table=None) -> list[dict]:
    """The models as templates and the manifest see them (from ``generator.models.model_table``)."""
    return [
        {"name": m.name, "title": m.title, "label": m.label, "description": m.description}
        for m in (table or MODELS).values()
    ]


MODEL_INFO = model_info()


@dataclass(frozen=True)
class SiteContext:
    """What the fragments and the manifest are written from: plain data, no build."""

    out_dir: Path
    profile: Profile
    images: list[dict]  # image_info() rows
    models: list[dict] = dataclasses.field(default_factory=lambda: list(MODEL_INFO))  # model_info() rows
    weights: dict = dataclasses.field(default_factory=dict)  # WeightsIdentity.as_dict()

    @classmethod
    def from_build(
        cls, out_dir: Path, profile: Profile, images: list[ImageInput], table=None, weights=None
    ) -> SiteContext:
        return cls(Path(out_dir), profile, image_info(images), model_info(table), dict(weights or {}))


def _fmt(x, digits: int = 3) -> str:
    try:
        return number(x, digits)
    except (TypeError, ValueError):
        return str(x)


def _beside(x, threshold: float, digits: int = 2) -> str:
    """``x`` to ``digits`` decimals, or one more wherever that rounding would land on ``threshold`` (0.497
    against a rule of "below 0.5" reads 0.497, not a 0.50 that seems to break the rule)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    while digits < 6 and float(number(x, digits)) == threshold and x != threshold:
        digits += 1
    return number(x, digits)


def _nats(x) -> str:
    """An entropy in nats for a reader: three decimals, never negative (rounding gives -1e-16 for a certain
    answer), and "< 0.001" rather than a "0.000" that claims more than was measured."""
    x = max(0.0, float(x))
    return "< 0.001" if x < 0.0005 else number(x, 3)


def _pct(x, digits: int = 1) -> str:
    try:
        return number(100 * float(x), digits) + " %"
    except (TypeError, ValueError):
        return str(x)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(TEMPLATES)] + [str(d) for d in chapter_templates()]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["fmt"] = _fmt
    env.filters["pct"] = _pct
    env.filters["beside"] = _beside
    env.filters["nats"] = _nats
    env.filters["sci"] = scientific
    env.filters["tojson"] = lambda v: json.dumps(v, sort_keys=True)
    env.globals["figure_md"] = manifest_figure
    env.globals["thumbnail_md"] = manifest_thumbnail
    env.globals["fits_half_column"] = fits_half_column
    return env


def image_info(images: list[ImageInput]) -> list[dict]:
    out = []
    for img in images:
        c = img.credit
        out.append(
            {
                "id": img.id,
                "title": img.title,
                "seen": f"figures/seen/{img.id}.png",
                "file": c.file if c else None,
                "credit": (
                    {
                        "author": c.author,
                        "licence": c.licence,
                        "link": c.link,
                        "source": c.source,
                        "label": c.label,
                        "label_index": c.label_index,
                        "note": c.note,
                    }
                    if c
                    else None
                ),
            }
        )
    return out


def _finder(figures: list[dict]):
    def fig(image=None, model=None, layer=None, kind=None, **more):
        for f in figures:
            if (
                (image is None or f["image"] == image)
                and (model is None or f["model"] == model)
                and (layer is None or f["layer"] == layer)
                and (kind is None or f["kind"] == kind)
                and all(f.get(k) == v for k, v in more.items())
            ):
                return f
        return None

    return fig


def _template_names(tech: Technique) -> list[str]:
    folder = CHAPTERS / tech.name / "templates"
    names = sorted(
        p.name
        for p in folder.glob(f"{tech.name}*.md.j2")
        if p.name == f"{tech.name}.md.j2" or p.name.startswith(f"{tech.name}.")
    )
    if not names:
        raise FileNotFoundError(
            f"generator/chapters/{tech.name}/templates/ has no {tech.name}.md.j2 or "
            f"{tech.name}.<part>.md.j2; every technique needs at least one fragment"
        )
    return names


def write_technique(site: SiteContext, tech: Technique, state: dict) -> None:
    env = environment()
    names = _template_names(tech)
    context = {
        "records": state["records"],
        "figures": state["figures"],
        "fig": _finder(state["figures"]),
        "settings": tech.settings_for(site.profile.name),
        "profile": site.profile.as_dict(),
        "images": site.images,
        "models": site.models,
        "base": "generated/",
        "technique": tech,
        "weights": site.weights,  # a stand-in's "trained" network is random: claims about training must know
    }
    for name in names:
        text = env.get_template(name).render(**context)
        atomic_write_text(site.out_dir / "fragments" / name.removesuffix(".j2"), text)
    _drop_stale_fragments(site, tech, names)


def _drop_stale_fragments(site: SiteContext, tech: Technique, names: list[str]) -> None:
    """Remove this technique's fragments that no template makes any more (a part renamed or moved to
    another chapter), so no page can include a stale one."""
    written = {name.removesuffix(".j2") for name in names}
    for path in (site.out_dir / "fragments").glob(f"{tech.name}.*.md"):
        if path.name not in written:
            path.unlink(missing_ok=True)


MISSING = """!!! warning "Not built: this part needs the trained VGG16"

    The trained VGG16's weights were not available when this site was built, so the figures and
    numbers that belong here are missing. {reason}

"""


def write_missing(site: SiteContext, tech: Technique, reason: str) -> None:
    """In place of each of a technique's fragments, a notice that says what is missing and why."""
    names = _template_names(tech)
    for name in names:
        atomic_write_text(site.out_dir / "fragments" / name.removesuffix(".j2"), MISSING.format(reason=text(reason)))
    _drop_stale_fragments(site, tech, names)


def write_site_fragments(site: SiteContext, images: list[ImageInput], explorer: bool = True) -> None:
    """The photos as the model sees them, and the shared fragments (image set, credits)."""
    from PIL import Image

    from generator.render import to_uint8

    seen = site.out_dir / "figures" / "seen"
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(to_uint8(img.seen)).save(buf, format="PNG", compress_level=6)
        atomic_write_bytes(seen / f"{img.id}.png", buf.getvalue())
    _drop_departed_photos(seen, {img.id for img in images})
    env = environment()
    context = {"images": site.images, "profile": site.profile.as_dict(), "models": site.models, "base": "generated/"}
    from generator.chapters import registry

    # Each optimisation chapter's Limitations box names its own budget (``scope.<technique>.md``); the
    # other chapters' box (``scope.md``) names none.
    optimisations = {}
    for name, what in (
        ("activation_max", "activation maximisation"),
        ("class_model", "class models"),
        ("inversion", "inversion"),
    ):
        tech = registry().get(name)
        settings = tech.settings_for(site.profile.name) if tech else {}
        if "size" in settings and "steps" in settings:
            optimisations[name] = {"what": what, "size": settings["size"], "steps": settings["steps"]}
    context["optimisations"] = []
    context["explorer"] = explorer  # the unit explorer has data (the feature-maps technique ran or runs now)
    from generator.config import featured_among

    featured = featured_among([i["id"] for i in site.images])
    context["featured"] = next((i for i in site.images if i["id"] == featured), None)
    for name in ("images.md.j2", "credits.md.j2", "scope.md.j2", "featured.md.j2"):
        text = env.get_template(name).render(**context)
        atomic_write_text(site.out_dir / "fragments" / name.removesuffix(".j2"), text)
    for name, o in optimisations.items():
        text = env.get_template("scope.md.j2").render(**(context | {"optimisations": [o]}))
        atomic_write_text(site.out_dir / "fragments" / f"scope.{name}.md", text)


def _drop_departed_photos(seen: Path, ids: set[str]) -> None:
    """Delete the copy of a photo that is no longer in the image folder (a rebuild with fewer photos)."""
    for path in seen.glob("*.png"):
        if path.is_file() and path.stem not in ids:
            path.unlink(missing_ok=True)


def write_networks_note(site: SiteContext) -> None:
    """``fragments/networks.md`` and ``weights.md``: which trained weights this build used, for the home
    page and the credits.

    Written once the build knows whether the trained weights could be loaded."""
    for name in ("networks", "weights"):
        text = environment().get_template(f"{name}.md.j2").render(weights=site.weights)
        atomic_write_text(site.out_dir / "fragments" / f"{name}.md", text)
