"""Renderers: figures from arrays.  A renderer never runs a model.

``generator/render/<technique>.py`` defines ``render(rc, results) -> dict``.
``results`` maps ``(image_id or None, model_name)`` to the technique's
``Result``.  The renderer saves figures with ``rc.png`` (a uint8 array) or
``rc.mpl`` (a matplotlib figure) and returns the records its template needs.
Every saved figure is registered in the manifest with its technique, image,
model, layer and kind, and its path is derived from those, so two figures
never collide.
"""

from __future__ import annotations

import io
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from generator.atomic import atomic_write_bytes
from generator.config import featured_among
from generator.lib.arrays import scale01, to_uint8  # noqa: F401  (to_uint8: part of the render kit)
from generator.models import MODELS
from generator.render import encode

_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
# A photo's figures wider than THUMB_OVER_IN inches (at the profile's dpi: 600 px at the default 100) get
# a thumbnail THUMB_WIDTH_IN inches wide for the gallery pages (shown at its own width there), so that a
# gallery page does not carry the full figures. In inches, so that every profile makes the same choice.
THUMB_OVER_IN = 6.0
THUMB_WIDTH_IN = 4.8
# Legibility (checked by ``generator.site.legibility`` on the built site): at 1280 px the content column
# is about 930 CSS px wide. A matplotlib figure at most FULL_WIDTH_IN inches wide is shown at its own size
# at the default 100 dpi and shrunk by at most 930 / (120 * FULL_WIDTH_IN) at the full profile's 120, so
# text of MIN_FONT_PT points or more stays at 11 CSS px or more in both.
FULL_WIDTH_IN = 9.2
MIN_FONT_PT = 8


@dataclass(frozen=True)
class Figure:
    technique: str
    image: str | None
    model: str | None  # "trained", "untrained", "both" or None
    layer: str | None
    kind: str
    path: str  # relative to the output dir (docs/generated)
    caption: str
    width: int
    height: int
    # A smaller copy for the gallery, which opens the full figure in the lightbox:
    # {"path", "width", "height"}, for a photo's figures wider than THUMB_OVER_IN inches.
    thumb: dict | None = None
    # The smallest text drawn in the figure: its font size in the figure's own pixels (None: no text),
    # and the resolution it was drawn at (matplotlib figures; None for pixel figures, whose text, if
    # any, is drawn in pixels). ``generator.site.legibility`` turns these into CSS px as shown.
    text_px: float | None = None
    dpi: int | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def files(self) -> list[str]:
        return [self.path] + ([self.thumb["path"]] if self.thumb else [])


class RenderContext:
    """Where a renderer writes, and what it may read (never a model)."""

    def __init__(self, *, technique, out_dir: Path, profile, settings, images, labels: dict | None = None):
        self.technique: str = technique
        self.out_dir = Path(out_dir)
        self.profile = profile
        self.settings: dict = settings
        self.images = images  # list[ImageInput]; use .id, .title, .seen, .credit
        self.figures: list[Figure] = []
        self.data_files: list[str] = []  # non-figure files (the unit explorer's atlases and indexes)
        # model name -> label for captions and legends ("trained (stand-in weights)" unless official)
        self.labels: dict[str, str] = dict(labels or {m.name: m.label for m in MODELS.values()})

    def image(self, image_id: str):
        return next(i for i in self.images if i.id == image_id)

    def featured(self, ids: list[str] | None = None) -> str | None:
        """The photo chapters use as their running example (``config.FEATURED_IMAGE``), else the first."""
        ids = [i.id for i in self.images] if ids is None else ids
        return featured_among(ids)

    def featured_fields(self, ids: list[str] | None = None) -> dict:
        """``featured`` and ``featured_title`` for a template."""
        featured = self.featured(ids)
        return {"featured": featured, "featured_title": self.image(featured).title if featured else None}

    # -- saving ---------------------------------------------------------------------------
    def _stem(self, image, model, layer, kind) -> str:
        parts = [p for p in (model, layer, kind) if p]
        return f"figures/{self.technique}/{_SAFE.sub('_', image or '_all')}/{_SAFE.sub('_', '-'.join(parts))}"

    def _register(self, im: Image.Image, *, image, model, layer, kind, caption, text_px=None, dpi=None) -> Figure:
        """Save ``im`` in its smallest lossless file (``encode.smallest``: PNG or WebP) and list it."""
        stem = self._stem(image, model, layer, kind)
        if any(f.path.rsplit(".", 1)[0] == stem for f in self.figures):
            raise ValueError(f"{self.technique}: two figures would share {stem}; give them different kinds")
        data, suffix = encode.smallest(im)
        rel = stem + suffix
        atomic_write_bytes(self.out_dir / rel, data)
        thumb = None
        dpi_px = int(self.profile.dpi)
        if image is not None and im.size[0] > THUMB_OVER_IN * dpi_px:
            small = encode.opaque(im).convert("RGB") if im.mode not in ("RGB", "RGBA") else encode.opaque(im)
            thumb_w = round(THUMB_WIDTH_IN * dpi_px)
            size = (thumb_w, max(1, round(im.size[1] * thumb_w / im.size[0])))
            small = small.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
            thumb_data, thumb_suffix = encode.smallest(small)
            thumb = {"path": f"{stem}.thumb{thumb_suffix}", "width": size[0], "height": size[1]}
            atomic_write_bytes(self.out_dir / thumb["path"], thumb_data)
        text_px = None if text_px is None else round(float(text_px), 2)
        w, h = int(im.size[0]), int(im.size[1])
        fig = Figure(self.technique, image, model, layer, kind, rel, caption, w, h, thumb, text_px, dpi)
        self.figures.append(fig)
        return fig

    def data(self, rel: str, content: bytes) -> str:
        """Write a data file (not a figure: no caption, not in the manifest) under this technique's folder,
        ``figures/<technique>/<rel>``; returns its path relative to the output folder."""
        path = f"figures/{self.technique}/{rel}"
        if path in self.data_files:
            raise ValueError(f"{self.technique}: data file {rel} written twice")
        atomic_write_bytes(self.out_dir / path, content)
        self.data_files.append(path)
        return path

    def png(
        self,
        array: np.ndarray,
        *,
        image=None,
        model=None,
        layer=None,
        kind: str,
        caption: str = "",
        palette: np.ndarray | None = None,
        text_px: float | None = None,
    ) -> Figure:
        """Save an HxW or HxWx3 uint8 array as a lossless figure (byte-identical for equal input).

        A renderer that draws text into the pixels passes its smallest font size, in pixels, as
        ``text_px``, so that the site's legibility check can see it.

        With ``palette`` (a 256x3 uint8 colour table, see ``palette_for``) the HxW array
        holds indices into it and is saved as a palette image: a third of the bytes to
        encode, so several times faster for colour-mapped figures, and lossless.
        The file is a PNG or a lossless WebP, whichever is smaller (``encode.smallest``).
        """
        arr = np.ascontiguousarray(array)
        if arr.dtype != np.uint8:
            raise TypeError("rc.png expects uint8 pixels; use to_uint8() first")
        if palette is not None:
            if arr.ndim != 2:
                raise ValueError("rc.png with a palette expects an HxW array of palette indices")
            im = Image.fromarray(arr)  # mode L; putpalette turns it into P
            im.putpalette(np.asarray(palette, np.uint8).reshape(-1).tolist(), rawmode="RGB")
        else:
            im = Image.fromarray(arr)
        return self._register(im, image=image, model=model, layer=layer, kind=kind, caption=caption, text_px=text_px)

    def mpl(self, fig, *, image=None, model=None, layer=None, kind: str, caption: str = "") -> Figure:
        """Save a matplotlib figure, without metadata (so reruns are byte-identical), as a lossless figure.

        The figure's smallest drawn text is recorded with it (``Figure.text_px``)."""
        buf = io.BytesIO()
        # An uncompressed PNG only carries the pixels to encode.smallest, which makes the real file:
        # zlib level 0 saves a full compression per figure and decodes to the same pixels.
        fig.savefig(
            buf,
            format="png",
            dpi=self.profile.dpi,
            metadata={"Software": None},
            bbox_inches="tight",
            pad_inches=0.05,
            pil_kwargs={"compress_level": 0},
        )
        smallest = smallest_text_pt(fig)  # after savefig: the layout and the ticks are final
        if "matplotlib.pyplot" in sys.modules:  # a pyplot-managed figure must be released
            sys.modules["matplotlib.pyplot"].close(fig)
        dpi = int(self.profile.dpi)
        text_px = None if smallest is None else smallest * dpi / 72
        with Image.open(io.BytesIO(buf.getvalue())) as im:
            im.load()
            return self._register(
                im, image=image, model=model, layer=layer, kind=kind, caption=caption, text_px=text_px, dpi=dpi
            )


def smallest_text_pt(fig) -> float | None:
    """The font size, in points, of the smallest text that ``fig`` draws (None when it draws none).

    Walks the figure's artists as drawing does: an invisible artist hides its children, the axis of an
    axes drawn with ``axis("off")`` is not drawn, a tick outside its axis's view is not drawn, and an
    empty string is no text.
    """
    from matplotlib.axis import Axis, Tick, XTick
    from matplotlib.text import Text

    sizes: list[float] = []

    def visit(artist) -> None:
        if not artist.get_visible():
            return
        if isinstance(artist, Text):
            if artist.get_text().strip():
                sizes.append(float(artist.get_fontsize()))
            return
        if isinstance(artist, Axis) and not artist.axes.axison:
            return
        if isinstance(artist, Tick):
            axis = artist.axes.xaxis if isinstance(artist, XTick) else artist.axes.yaxis
            lo, hi = sorted(axis.get_view_interval())
            pad = 1e-9 * max(1.0, abs(hi - lo))
            if not lo - pad <= artist.get_loc() <= hi + pad:
                return
        for child in artist.get_children():
            visit(child)

    visit(fig)
    return min(sizes) if sizes else None


# --------------------------------------------------------------------------- pixel helpers


def display_scale(x: np.ndarray, *, symmetric: bool = False, eps: float = 1e-12) -> np.ndarray:
    """Scale to [0, 1] by min/max (or to [-1, 1] -> [0, 1] around zero when symmetric).

    A constant array maps to zeros (or 0.5 when symmetric), never NaN.
    """
    x = np.asarray(x, dtype=np.float32)
    if symmetric:
        m = float(np.abs(x).max()) if x.size else 0.0
        return np.full_like(x, 0.5) if m < eps else 0.5 + 0.5 * x / m
    return scale01(x, dtype=np.float32, eps=eps)


def colormap(x: np.ndarray, name: str = "viridis") -> np.ndarray:
    """Apply a matplotlib colour map to values in [0, 1]; returns HxWx3 uint8."""
    from matplotlib import colormaps

    return colormaps[name](np.clip(x, 0, 1), bytes=True)[..., :3]


def palette_for(name: str = "viridis", background=(255, 255, 255)) -> np.ndarray:
    """A 256x3 colour table: indices 0..254 run through the colour map, 255 is ``background``.

    Pair with ``to_indices`` and ``rc.png(..., palette=...)``.
    """
    from matplotlib import colormaps

    table = np.empty((256, 3), np.uint8)
    table[:255] = colormaps[name].resampled(255)(np.arange(255), bytes=True)[:, :3]
    table[255] = background
    return table


def to_indices(x: np.ndarray) -> np.ndarray:
    """Values in [0, 1] to palette indices 0..254 (255 is left for the background)."""
    return np.minimum((np.clip(np.asarray(x, np.float32), 0, 1) * 255).astype(np.uint8), 254)


def resize(arr: np.ndarray, size: int, *, nearest: bool | None = None) -> np.ndarray:
    """Resize a square-ish HxW or HxWx3 uint8 array so its longer side is ``size``.

    Upscaling uses nearest neighbour (keeps the map's cells visible);
    downscaling uses box filtering.
    """
    h, w = arr.shape[:2]
    scale = size / max(h, w)
    if nearest is None:
        nearest = scale > 1
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    if new == (w, h):
        return arr
    im = Image.fromarray(arr).resize(new, Image.NEAREST if nearest else Image.BOX)
    return np.asarray(im)


def mosaic(
    tiles: list[np.ndarray], cols: int, *, gap: int = 2, background: int = 255, indices: bool = False
) -> np.ndarray:
    """Lay equally sized uint8 tiles out on a grid with ``gap`` pixels of ``background`` between them.

    RGB output (grey tiles repeated to three channels), or with ``indices`` one channel of palette
    indices (HxW tiles; the gaps get index ``background``).
    """
    if not tiles:
        raise ValueError("mosaic needs at least one tile")
    h, w = tiles[0].shape[:2]
    rows = -(-len(tiles) // cols)
    shape = (rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap)
    out = np.full(shape if indices else (*shape, 3), background, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, cols)
        if t.ndim == 2 and not indices:
            t = np.repeat(t[..., None], 3, axis=2)
        out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = t
    return out


def overlay(seen: np.ndarray, heat: np.ndarray, *, alpha: float = 0.5, cmap: str = "inferno") -> np.ndarray:
    """Blend a [0, 1] heat map (same HxW as ``seen``) over the RGB photo in [0, 1]."""
    colour = colormap(heat, cmap).astype(np.float32) / 255.0
    return to_uint8((1 - alpha) * np.asarray(seen, np.float32) + alpha * colour)


MODEL_COLOURS = {m.name: m.colour for m in MODELS.values()}


def models_in(results) -> list[str]:
    """The model names that ``results`` (keyed by (image, model)) holds, in the site's order."""
    present = {m for _, m in results}
    return [m for m in MODELS if m in present]


def layer_axis(ax, x, labels, title: str, *, rotation: int = 30, tick_size: int = 8, title_size: int = 10) -> None:
    """One panel of a per-layer plot: layer names as ticks, a title and a light grid."""
    ax.set_xticks(x, labels, rotation=rotation, ha="right", fontsize=tick_size)
    ax.set_title(title, fontsize=title_size)
    ax.grid(alpha=0.3)


def new_figure(width: float, height: float, **kwargs):
    """A matplotlib figure with the site's plot style (Agg backend, no global state)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height), layout="constrained", **kwargs)
    return fig
