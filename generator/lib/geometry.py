"""Receptive fields: which input pixels a unit of a layer can see.

One function walks a flat chain of layers (:func:`receptive_fields`); the site's layer table, the unit
explorer's data (and through it the page's receptive-field boxes) and the tests all read it.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from torch import nn

from generator.lib.layers import FEATURE_LAYERS, feature_index


def _first(v) -> int:
    return int(v) if isinstance(v, int) else int(v[0])


def receptive_fields(modules: Iterable[nn.Module]) -> list[tuple[int, int, float]]:
    """``(size, jump, start)`` in input pixels after each module of a sequential chain.

    ``size`` is the side of the square one output pixel sees, ``jump`` the distance between the
    fields of neighbouring output pixels, and ``start`` the centre of output pixel 0's field (input
    pixel ``i`` spans ``[i, i + 1]``, so the input's own start is 0.5).  Conv and pooling layers grow
    the field by ``(kernel − 1) · dilation · jump``, shift its centre by
    ``((kernel − 1) · dilation / 2 − padding) · jump`` and multiply the jump by their stride; every
    other module (ReLU, batch norm, dropout) leaves all three unchanged.  Only the height axis is
    tracked, which is all a network with square kernels needs.  Raises ``TypeError`` for a module
    that is not a chain layer (a nested block).
    """
    size, jump, start = 1, 1, 0.5
    out = []
    for m in modules:
        if isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k = _first(m.kernel_size)
            s = _first(m.stride if m.stride is not None else m.kernel_size)
            d = _first(getattr(m, "dilation", 1))
            p = _first(m.padding)
            size += (k - 1) * d * jump
            start += ((k - 1) * d / 2 - p) * jump
            jump *= s
        elif isinstance(m, (nn.Sequential, nn.ModuleList)) or (len(list(m.children())) > 0):
            raise TypeError(f"receptive_fields walks a flat chain of layers; got a nested {type(m).__name__}")
        out.append((size, jump, start))
    return out


@cache
def _vgg16_fields() -> tuple[tuple[int, int, float], ...]:
    from torchvision.models.vgg import cfgs, make_layers

    return tuple(receptive_fields(make_layers(cfgs["D"])))


def vgg16_receptive_field(layer: str) -> dict:
    """``{"size", "jump", "start"}`` of one output pixel of a VGG16 conv or pool layer (by the site's name)."""
    if layer not in FEATURE_LAYERS:
        raise ValueError(f"unknown layer {layer!r}; valid: {', '.join(FEATURE_LAYERS)}")
    size, jump, start = _vgg16_fields()[feature_index(layer)]
    return {"size": size, "jump": jump, "start": start}
