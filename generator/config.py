"""Run profiles: how much work a build does.

``quick`` is for tests (tiny inputs, a few maps), ``default`` is sized for a
laptop CPU, ``full`` for a GPU.  Techniques keep their own per-profile
settings in their chapter's ``spec.py`` (``compute_settings``,
``render_settings``); this module holds only what every technique shares.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SEED = 0
"""Global seed.  The untrained VGG16 is initialised with ``torch.manual_seed(SEED)``
and every unit of work derives its own seed from it (see ``unit_seed``)."""


@dataclass(frozen=True)
class Profile:
    name: str
    input_size: int  # side of the square crop fed to VGG16
    tile: int  # pixel size of one map in a grid figure
    dpi: int  # resolution of matplotlib figures
    description: str

    def as_dict(self) -> dict:
        return asdict(self)


PROFILES: dict[str, Profile] = {
    "quick": Profile("quick", input_size=64, tile=48, dpi=60, description="tiny inputs and budgets, for tests"),
    "default": Profile("default", input_size=224, tile=96, dpi=100, description="sized for a 2-core laptop CPU"),
    "full": Profile("full", input_size=224, tile=112, dpi=120, description="large budgets, meant for a GPU"),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None


FEATURED_IMAGE = "chelsea"


def featured_among(ids: list[str]) -> str | None:
    """The photo chapters use as their running example: :data:`FEATURED_IMAGE` when it is among ``ids``,
    else the first (None for no photos)."""
    return FEATURED_IMAGE if FEATURED_IMAGE in ids else (ids[0] if ids else None)


"""The photo chapters use as their running example (falls back to the first image)."""
