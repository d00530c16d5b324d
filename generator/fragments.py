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

import json
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from generator.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from generator.pipeline import Build
    from generator.techniques import Technique

TEMPLATES = Path(__file__).parent / "templates"

MODEL_INFO = [
    {"name": "trained", "title": "Trained", "description": "VGG16 with torchvision's ImageNet-1k weights (IMAGENET1K_V1)."},
    {"name": "untrained", "title": "Untrained", "description": "The same architecture with torchvision's default random initialisation, seed 0."},
]


def _fmt(x, digits: int = 3) -> str:
    try:
        return f"{float(x):.{digits}f}"
    except (TypeError, ValueError):
        return str(x)


def _pct(x, digits: int = 1) -> str:
    try:
        return f"{100 * float(x):.{digits}f} %"
    except (TypeError, ValueError):
        return str(x)


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                             autoescape=False)
    env.filters["fmt"] = _fmt
    env.filters["pct"] = _pct
    env.filters["tojson"] = lambda v: json.dumps(v, sort_keys=True)
    return env


def image_info(build: "Build") -> list[dict]:
    out = []
    for img in build.images:
        c = img.credit
        out.append({
            "id": img.id, "title": img.title, "seen": f"figures/seen/{img.id}.png",
            "file": c.file if c else None,
            "credit": ({"author": c.author, "licence": c.licence, "link": c.link, "source": c.source,
                        "label": c.label, "label_index": c.label_index, "note": c.note} if c else None),
        })
    return out


def _finder(figures: list[dict]):
    def fig(image=None, model=None, layer=None, kind=None, **more):
        for f in figures:
            if ((image is None or f["image"] == image) and (model is None or f["model"] == model)
                    and (layer is None or f["layer"] == layer) and (kind is None or f["kind"] == kind)
                    and all(f.get(k) == v for k, v in more.items())):
                return f
        return None

    return fig


def write_technique(build: "Build", tech: "Technique", state: dict) -> None:
    env = environment()
    names = sorted(p.name for p in TEMPLATES.glob(f"{tech.name}*.md.j2")
                   if p.name == f"{tech.name}.md.j2" or p.name.startswith(f"{tech.name}."))
    if not names:
        raise FileNotFoundError(f"generator/templates/{tech.name}.md.j2 is missing; every technique needs one")
    context = {
        "records": state["records"], "figures": state["figures"], "fig": _finder(state["figures"]),
        "settings": build.technique_settings(tech), "profile": build.opts.profile.as_dict(),
        "images": image_info(build), "models": MODEL_INFO, "base": "generated/", "technique": tech,
    }
    for name in names:
        text = env.get_template(name).render(**context)
        atomic_write_text(build.opts.out_dir / "fragments" / name.removesuffix(".j2"), text)


def write_site_fragments(build: "Build") -> None:
    """The photos as the model sees them, and the shared fragments (image set, credits)."""
    from PIL import Image

    from generator.atomic import atomic_write_bytes
    from generator.render import to_uint8
    import io

    for img in build.images:
        buf = io.BytesIO()
        Image.fromarray(to_uint8(img.seen)).save(buf, format="PNG", compress_level=6)
        atomic_write_bytes(build.opts.out_dir / "figures" / "seen" / f"{img.id}.png", buf.getvalue())
    env = environment()
    context = {"images": image_info(build), "profile": build.opts.profile.as_dict(), "models": MODEL_INFO,
               "base": "generated/"}
    for name in ("images.md.j2", "credits.md.j2"):
        text = env.get_template(name).render(**context)
        atomic_write_text(build.opts.out_dir / "fragments" / name.removesuffix(".j2"), text)


def write_manifest(build: "Build") -> None:
    """``manifest.json``: every figure with its technique, image, model, layer and path."""
    figures: list[dict] = []
    techniques = []
    state_dir = build.opts.out_dir / ".state"
    for tech in sorted(build.techniques.values(), key=lambda t: (t.order, t.name)):  # site order, not run order
        try:
            state = json.loads((state_dir / f"{tech.name}.json").read_text())
        except (OSError, ValueError):
            continue
        techniques.append({"name": tech.name, "title": tech.title, "chapter": tech.chapter})
        figures.extend(state["figures"])
    manifest = {
        "version": 1,
        "profile": build.opts.profile.name,
        "images": image_info(build),
        "models": MODEL_INFO,
        "techniques": techniques,
        "figures": figures,
    }
    atomic_write_text(build.opts.out_dir / "manifest.json", json.dumps(manifest, indent=1, sort_keys=False) + "\n")
