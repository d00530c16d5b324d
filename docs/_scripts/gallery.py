"""mkdocs-gen-files script: lay out the gallery from the generator's manifest.

Runs on every site build (and every `properdocs serve` reload), so it must stay
cheap: it reads ``docs/generated/manifest.json`` (written by
``python -m generator build``) and writes markdown only. No torch, no images.

Pages written (virtual, never on disk under docs/):

* ``gallery/index.md``: a card per photo with its expected label and credit,
  linking to the photo's page. Without a manifest it only says how to make one.
* ``gallery/<image id>.md``: the photo as the model saw it, its credit, and a
  section per technique (manifest order) with the figures made for that photo.
* ``gallery/<image id>/<technique>.md``: when a technique has more than
  ``LAYER_PAGE_OVER`` per-layer figures for the photo (the feature maps), they get
  this page of their own, linked from the photo's section, so that no page is heavy.
  Within a section, figures are grouped by kind (a sub-heading each when there
  is more than one kind) and then by layer; the trained and the untrained
  figure of the same layer and kind stand side by side. Figures that belong to
  no photo (``image: null``) are left to the technique chapters.

All links are relative to the page's source file, so ProperDocs rewrites them
correctly with ``use_directory_urls``.
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from pathlib import Path
from typing import Any

import mkdocs_gen_files

from generator.site import markup
from generator.site.markup import text, url

log = logging.getLogger("mkdocs.plugins.cnn_sees.gallery")

SUPPORTED_VERSION = 1
GALLERY = "gallery"
# Figure paths in the manifest are relative to docs/generated/.
GENERATED = "generated"
# From a page in gallery/ back to docs/.
UP = "../"
# A pair column is about 450 CSS px at its widest (a 1200 px window); a figure wider than
# twice that would carry more pixels than a 2x screen shows there, so it gets the full width.
PAIR_MAX_WIDTH = 900
# More per-layer figures than this for one photo and technique go on a page of their own.
LAYER_PAGE_OVER = 24
SEEN_CAPTION = "The photo as the network sees it, after the same resizing and cropping as its input."

NO_MANIFEST = """\
# Gallery

The gallery has not been generated yet.

Every figure on this site is computed from the photos in `images/` by the
generator. Run

```sh
nox -s build
```

(or `python -m generator build` inside the project's environment), then rebuild
or reload the site. This page will then show every photo, and each photo will
get a page with all of its figures.
"""

Figure = dict[str, Any]


# --------------------------------------------------------------------------- text


EXPLORER_INDEX = "figures/explorer/index.json"


def docs_dir() -> Path:
    return Path(mkdocs_gen_files.config["docs_dir"])


KIND_TITLES = {
    "top-k": "The strongest maps",
    "first-k": "The first maps",
    "aggregates": "Each block's maps summed",
    "top5": "Top-5 predictions",
    "saliency": "Gradient maps",
    "grad-cam": "Grad-CAM, top-1 class",
    "grad-cam-expected": "Grad-CAM, expected class",
    "grad-cam-blocks": "Grad-CAM at every block",
    "cascade-maps": "Cascading randomisation",
    "units": "The units behind the decision",
    "grid-gradients": "Gradients",
    "grid-backward_rules": "Modified backward rules",
    "grid-perturbation": "Perturbation",
    "grid-cam": "Class activation maps",
    "curves": "Deletion and insertion curves",
    "deep-dream": "DeepDream",
    "reconstructions": "Reconstructions",
    "relu": "Before and after the ReLU",
}
"""Gallery headings for the figure kinds; any other kind is humanised from its name."""


def kind_title(kind: Any) -> str:
    return KIND_TITLES.get(str(kind)) or humanise(kind)


def humanise(name: Any) -> str:
    """'top-k' -> 'Top-k', 'aggregate_similarity' -> 'Aggregate similarity'."""
    words = str(name).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def exists(rel_path: str) -> bool:
    return (docs_dir() / GENERATED / rel_path).is_file()


def png_size(path: Path) -> tuple[int | None, int | None]:
    """A PNG's width and height from its header (the image states its size, so the page does not shift when
    it arrives); (None, None) for anything else."""
    try:
        with path.open("rb") as f:
            head = f.read(24)
    except OSError:
        return None, None
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None, None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def write(path: str, content: str) -> None:
    with mkdocs_gen_files.open(path, "w", encoding="utf-8") as out:
        out.write(content)


# --------------------------------------------------------------------------- markup


def credit_line(credit: dict[str, Any] | None) -> str:
    """'Photo: author, licence, source', the source linked when there is a link."""
    if not credit:
        return ""
    parts = []
    if credit.get("author"):
        parts.append(text(credit["author"]))
    if credit.get("licence"):
        parts.append(text(credit["licence"]))
    source, link = credit.get("source"), credit.get("link")
    if link:
        parts.append(f"[{text(source or 'source')}](<{link}>)")
    elif source:
        parts.append(text(source))
    return "Photo: " + ", ".join(parts) if parts else ""


def label_line(credit: dict[str, Any] | None) -> str:
    credit = credit or {}
    label = credit.get("label")
    if not label:
        return "Not one of the 1000 ImageNet classes."
    index = credit.get("label_index")
    suffix = f" (class {int(index)})" if index is not None else ""
    return f"Expected ImageNet label: **{text(label)}**{suffix}"


def img(rel_path: str, alt: str, **options: Any) -> str:
    """Markdown for one lazy image of docs/generated/ (the site's one markup, generator.site.markup)."""
    return markup.img(UP + posixpath.join(GENERATED, rel_path), alt, **options)


def figure(
    rel_path: str,
    alt: str,
    *,
    heading: str = "",
    caption: str = "",
    group: str = "",
    width: Any = None,
    height: Any = None,
    cls: str = "cnn-figure",
    up: str = UP,
    thumb: dict[str, Any] | None = None,
) -> str:
    """A captioned figure (md_in_html), in the same markup as the chapters' fragments.

    With ``thumb`` (the manifest's {path, width, height}) the page shows the thumbnail,
    and a click opens the full figure in the lightbox.
    """
    if heading and caption:
        caption_md, description = f"**{text(heading)}.** {caption}", f"{heading}. {caption}"
    else:
        caption_md, description = text(heading) if heading else caption, heading or caption
    full = up + posixpath.join(GENERATED, rel_path)
    if thumb and thumb.get("path") and exists(thumb["path"]):
        return markup.thumbnail(
            up + posixpath.join(GENERATED, thumb["path"]),
            full,
            alt,
            caption_md,
            cls=cls,
            width=thumb.get("width"),
            height=thumb.get("height"),
            description=description,
            group=group,
        )
    return markup.figure(
        full, alt, caption_md, cls=cls, width=width, height=height, description=description, group=group
    )


# --------------------------------------------------------------------------- manifest


def load_manifest() -> dict[str, Any] | None:
    path = docs_dir() / GENERATED / "manifest.json"
    if not path.is_file():
        log.info("No %s: writing a placeholder gallery (run `nox -s build`).", path)
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("Cannot read %s: %s", path, exc)
        return None
    if manifest.get("version") != SUPPORTED_VERSION:
        log.warning(
            "%s has version %r; the gallery script understands version %d.",
            path,
            manifest.get("version"),
            SUPPORTED_VERSION,
        )
    return manifest


class Models:
    """Model names in manifest order, with their display titles."""

    def __init__(self, manifest: dict[str, Any]):
        self.titles: dict[str, str] = {}
        for model in manifest.get("models", []):
            name = model.get("name")
            if name:
                self.titles[name] = model.get("title") or humanise(name)
        for name in ("trained", "untrained"):
            self.titles.setdefault(name, humanise(name))
        self.order = {name: i for i, name in enumerate(self.titles)}

    def label(self, name: str | None) -> str:
        if not name:
            return ""
        if name == "both":
            return " and ".join(self.titles.values()).capitalize()
        return self.titles.get(name, humanise(name))


# --------------------------------------------------------------------------- pages


def index_page(manifest: dict[str, Any], images: list[dict[str, Any]]) -> str:
    lines = [
        "# Gallery",
        "",
        "Every photo the generator worked on. Pick one to follow it through each "
        "technique in turn, with the trained network's figure beside the untrained one's.",
        "",
    ]
    if manifest.get("profile"):
        lines += [f"These figures come from the `{text(manifest['profile'])}` profile.", ""]
    if not images:
        return "\n".join(lines + ["The manifest lists no photos.", ""])
    lines += ['<div class="grid cards cnn-gallery" markdown>', ""]
    for image in images:
        title = image.get("title") or image["id"]
        page = url(f"{image['id']}.md")
        lines += [f"-   **[{text(title)}]({page})**", ""]
        seen = image.get("seen")
        if seen and exists(seen):
            # Inside a link, so glightbox leaves it alone: a click opens the page.
            lines += [f"    [{img(seen, title, classes='.skip-lightbox')}]({page})", ""]
        lines += [f"    {label_line(image.get('credit'))}", ""]
        credit = credit_line(image.get("credit"))
        if credit:
            lines += [f"    <small>{credit}</small>", ""]
    lines += ["</div>", ""]
    return "\n".join(lines)


def first_seen_order(figures: list[Figure], key) -> list[list[Figure]]:
    """Group figures by key(figure), groups in order of first appearance."""
    groups: dict[Any, list[Figure]] = {}
    for fig in figures:
        groups.setdefault(key(fig), []).append(fig)
    return list(groups.values())


def figure_markup(fig: Figure, models: Models, technique: str, up: str = UP) -> str:
    heading = models.label(fig.get("model"))
    alt_bits = [b for b in (heading, fig.get("layer"), fig.get("kind")) if b]
    return figure(
        fig["path"],
        " ".join(str(b) for b in alt_bits) or technique,
        heading=heading,
        caption=fig.get("caption") or "",
        group=technique,
        width=fig.get("width"),
        height=fig.get("height"),
        up=up,
        thumb=fig.get("thumb"),
    )


def layer_block(group: list[Figure], models: Models, technique: str, up: str = UP) -> str:
    """One layer and kind: per-model figures side by side, anything else (or anything wide) full width."""
    per_model = sorted((f for f in group if f.get("model") in models.order), key=lambda f: models.order[f["model"]])
    if any(int(f.get("width") or 0) > PAIR_MAX_WIDTH for f in per_model):
        per_model = []
    others = [f for f in group if f not in per_model]
    blocks = []
    if per_model:
        # A lone trained (or untrained) figure keeps its column's width.
        inner = "\n\n".join(figure_markup(f, models, technique, up) for f in per_model)
        blocks.append(f'<div class="cnn-pair" markdown>\n\n{inner}\n\n</div>')
    for fig in others:
        blocks.append(f'<div class="cnn-single" markdown>\n\n{figure_markup(fig, models, technique, up)}\n\n</div>')
    return "\n\n".join(blocks)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9*`])")
SHARED_MIN_CHARS = 60


def shared_ending(captions: list[str]) -> str:
    """The last sentence that two or more captions end with, when it is long (an optimisation's settings,
    40 words under every figure of a gallery page); '' when there is none."""
    counts: dict[str, int] = {}
    for caption in captions:
        sentences = _SENTENCE_END.split(caption.strip())
        if len(sentences) > 1 and len(sentences[-1]) >= SHARED_MIN_CHARS:
            counts[sentences[-1]] = counts.get(sentences[-1], 0) + 1
    shared = [(n, len(sentence), sentence) for sentence, n in counts.items() if n >= 2]
    return max(shared)[2] if shared else ""


def without_shared_ending(figures: list[Figure]) -> tuple[list[Figure], str]:
    """The figures with their shared closing sentence taken out of each caption, and that sentence."""
    ending = shared_ending([f.get("caption") or "" for f in figures])
    if not ending:
        return figures, ""
    out = []
    for fig in figures:
        caption = (fig.get("caption") or "").strip()
        if caption.endswith(ending) and caption != ending:
            fig = {**fig, "caption": caption[: -len(ending)].rstrip()}
        out.append(fig)
    return out, ending


def technique_section(
    technique: dict[str, Any],
    figures: list[Figure],
    models: Models,
    *,
    up: str = UP,
    heading: str = "##",
    more: str = "",
) -> list[str]:
    """A technique's figures for one photo; ``more`` (a markdown line) goes under the chapter link."""
    name = technique.get("name")
    lines = [f"{heading} {text(technique.get('title') or name)}", ""]
    chapter = technique.get("chapter")
    if chapter and (docs_dir() / chapter).is_file():
        lines += [
            "What these figures show, and how they are made: "
            f"[{text(technique.get('title') or name)}]({url(up + chapter)}).",
            "",
        ]
    if more:
        lines += [more, ""]
    figures, ending = without_shared_ending(figures)
    if ending:
        # Stated once for the section, not under every figure.
        lines += [f"The figures below that do not say otherwise were made with these settings: {ending}", ""]
    by_kind = first_seen_order(figures, lambda f: f.get("kind"))
    for kind_figures in by_kind:
        kind = kind_figures[0].get("kind")
        if len(by_kind) > 1 and kind:
            lines += [f"{heading}# {text(kind_title(kind))}", ""]
        for group in first_seen_order(kind_figures, lambda f: f.get("layer")):
            lines += [layer_block(group, models, str(name), up), ""]
    return lines


def split_layers(figures: list[Figure]) -> tuple[list[Figure], list[Figure]]:
    """(figures that stay on the photo's page, figures for its layer-by-layer page).

    A technique with more than LAYER_PAGE_OVER per-layer figures for one photo (the
    feature maps: 18 layers x 2 kinds x 2 models) gives them a page of their own, so
    that no page makes a reader download everything at once.
    """
    per_layer = [f for f in figures if f.get("layer")]
    if len(per_layer) <= LAYER_PAGE_OVER:
        return figures, []
    return [f for f in figures if not f.get("layer")], per_layer


def layers_slug(technique: dict[str, Any]) -> str:
    return str(technique.get("name") or "technique").replace("_", "-")


def pager(
    image_id: str,
    previous: dict[str, Any] | None,
    following: dict[str, Any] | None,
    *,
    prefix: str = "",
    suffix: str = ".md",
    extra: str = "",
) -> str:
    """'← previous · All photos · next →' (``prefix`` leads from a sub-page back to gallery/)."""
    links = []
    if previous:
        links.append(f"[← {text(previous.get('title') or previous['id'])}]({url(prefix + previous['id'] + suffix)})")
    links.append(f"[All photos]({url(prefix + 'index.md')})")
    if extra:
        links.append(extra)
    if following:
        links.append(f"[{text(following.get('title') or following['id'])} →]({url(prefix + following['id'] + suffix)})")
    return '<p class="cnn-pager" markdown="span">' + " · ".join(links) + "</p>"


def by_technique(figures: list[Figure]) -> dict[str, list[Figure]]:
    groups: dict[str, list[Figure]] = {}
    for fig in figures:
        groups.setdefault(fig.get("technique"), []).append(fig)
    return groups


def image_page(
    manifest: dict[str, Any],
    image: dict[str, Any],
    previous: dict[str, Any] | None,
    following: dict[str, Any] | None,
    figures: list[Figure],
) -> str:
    title = image.get("title") or image["id"]
    credit = image.get("credit") or {}
    lines = [f"# {text(title)}", ""]
    pager_line = pager(image["id"], previous, following)
    lines += [pager_line, ""]

    seen = image.get("seen")
    if seen and exists(seen):
        width, height = png_size(docs_dir() / GENERATED / seen)
        lines += [figure(seen, title, caption=SEEN_CAPTION, cls="cnn-seen", width=width, height=height), ""]
    elif seen:
        log.warning("The manifest names %s for image %r, but the file does not exist.", seen, image["id"])
    lines += [label_line(credit), ""]
    credit_text = credit_line(credit)
    if credit_text:
        lines += [credit_text, ""]
    if credit.get("note"):
        lines += ['!!! note "About this photo"', "", f"    {' '.join(str(credit['note']).split())}", ""]
    if exists(EXPLORER_INDEX):
        # raw HTML: the hash is the explorer's state, not a heading the strict build could check
        lines += [
            f'<p><a class="cnn-explore" href="../../explorer/#photo={image["id"]}&amp;layer=block1_conv1'
            f'&amp;model=both">Every channel of every layer on this photo, in the unit explorer →</a></p>',
            "",
        ]

    groups = by_technique(figures)
    models = Models(manifest)
    shown = 0
    for technique in manifest.get("techniques", []):
        figs = groups.get(technique.get("name"), [])
        if not figs:
            continue
        shown += 1
        here, elsewhere = split_layers(figs)
        more = ""
        if elsewhere:
            layers = len({f.get("layer") for f in elsewhere})
            page = url(f"{image['id']}/{layers_slug(technique)}.md")
            more = f"**[Every layer, on a page of its own →]({page})** ({len(elsewhere)} figures from {layers} layers)"
        lines += technique_section(technique, here, models, more=more)
    if not shown:
        lines += ["No figures were made for this photo.", ""]
    lines += [pager_line, ""]
    return "\n".join(lines)


def layers_page(
    manifest: dict[str, Any],
    image: dict[str, Any],
    technique: dict[str, Any],
    figures: list[Figure],
    previous: dict[str, Any] | None,
    following: dict[str, Any] | None,
) -> str:
    """``gallery/<id>/<technique>.md``: one technique's per-layer figures for one photo."""
    title = image.get("title") or image["id"]
    name = text(technique.get("title") or technique.get("name"))
    slug = layers_slug(technique)
    back = f"[{text(title)}]({url('../' + image['id'] + '.md')})"
    pager_line = pager(image["id"], previous, following, prefix="../", suffix=f"/{slug}.md", extra=back)
    lines = [f"# {name}, layer by layer: {text(title)}", "", pager_line, ""]
    lines += [f"Every layer's figures for this photo. The rest of its figures are on its page, {back}.", ""]
    # Without the section's own "# title" line: the page title says it. Kinds become "##" headings.
    lines += technique_section(technique, figures, Models(manifest), up=UP + UP, heading="#")[2:]
    lines += [pager_line, ""]
    return "\n".join(lines)


def main() -> None:
    incomplete = docs_dir() / GENERATED / ".incomplete"
    if incomplete.is_file():
        # An error, so that a strict build (nox -s build / site) refuses a half-updated folder.
        log.error(
            "%s: the last generator run into this folder did not finish, so its figures may be a "
            "mix of two builds. Rerun `nox -s build`.",
            incomplete,
        )
    manifest = load_manifest()
    if manifest is None:
        write(f"{GALLERY}/index.md", NO_MANIFEST)
        return

    images = [i for i in manifest.get("images", []) if i.get("id")]
    techniques = {t.get("name") for t in manifest.get("techniques", [])}
    per_image: dict[str, list[Figure]] = {i["id"]: [] for i in images}
    for fig in manifest.get("figures", []):
        image_id = fig.get("image")
        if image_id is None:
            continue  # per-model figures belong to the chapters
        if image_id not in per_image:
            log.warning("Figure %s names unknown image %r.", fig.get("path"), image_id)
        elif fig.get("technique") not in techniques:
            log.warning("Figure %s names unknown technique %r.", fig.get("path"), fig.get("technique"))
        elif not fig.get("path") or not exists(fig["path"]):
            log.warning("The manifest lists figure %r, but the file does not exist.", fig.get("path"))
        else:
            per_image[image_id].append(fig)

    write(f"{GALLERY}/index.md", index_page(manifest, images))
    techniques_by_name = {t.get("name"): t for t in manifest.get("techniques", [])}
    layer_pages: dict[str, list[tuple[dict[str, Any], list[Figure]]]] = {}  # technique -> [(image, figures)]
    for n, image in enumerate(images):
        previous = images[n - 1] if n > 0 else None
        following = images[n + 1] if n + 1 < len(images) else None
        figures = per_image[image["id"]]
        write(f"{GALLERY}/{image['id']}.md", image_page(manifest, image, previous, following, figures))
        for name, figs in by_technique(figures).items():
            per_layer = split_layers(figs)[1]
            if per_layer:
                layer_pages.setdefault(name, []).append((image, per_layer))
    # A layer-by-layer page's pager goes to the neighbouring photos' pages of the same kind.
    for name, pages in layer_pages.items():
        technique = techniques_by_name[name]
        for n, (image, per_layer) in enumerate(pages):
            previous = pages[n - 1][0] if n > 0 else None
            following = pages[n + 1][0] if n + 1 < len(pages) else None
            write(
                f"{GALLERY}/{image['id']}/{layers_slug(technique)}.md",
                layers_page(manifest, image, technique, per_layer, previous, following),
            )


# mkdocs-gen-files runs this file with runpy.run_path (``__name__`` is "<run_path>"); a test that imports it
# as a module must not write pages.
if __name__ in ("__main__", "<run_path>"):
    main()
