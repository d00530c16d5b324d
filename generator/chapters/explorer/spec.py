"""The unit explorer's declaration: settings, dependencies and named outputs (no torch).

The explorer is a technique like the others: one unit per network, which runs its own forward pass over
every photo (all 18 layers, every channel), reads the weights from the network, and takes the optimised
images from the activation-maximisation chapter.  Its renderer writes every file the page fetches under
``figures/explorer/``, and ``index.json`` lists them.
"""

from __future__ import annotations

from generator.core import Technique

TECHNIQUE = Technique(
    name="explorer",
    title="Unit explorer",
    chapter="explorer.md",
    order=90,
    scope="model",
    needs=("activation_max",),  # each unit's optimised image, where that chapter made one
    compute_settings={"quick": {}, "default": {}, "full": {}},
    summary="every channel of every layer on every photo, each unit's weights and optimised image, for the page",
)

FEATURE_LAYERS = (
    *(f"block1_{n}" for n in ("conv1", "conv2", "pool")),
    *(f"block2_{n}" for n in ("conv1", "conv2", "pool")),
    *(f"block3_{n}" for n in ("conv1", "conv2", "conv3", "pool")),
    *(f"block4_{n}" for n in ("conv1", "conv2", "conv3", "pool")),
    *(f"block5_{n}" for n in ("conv1", "conv2", "conv3", "pool")),
)
"""The layers the explorer holds, in order (``generator.models.FEATURE_LAYERS``; a test keeps them equal)."""
CONV_LAYERS = tuple(name for name in FEATURE_LAYERS if "_conv" in name)

ATLAS_MAX_SIDE = 112
"""px: the page's layer view stores maps at most this wide; wider ones are averaged down 2x until they fit."""
UNIT_MAX_SIDE = 28
"""px: the unit view shows one unit on every photo, each map at most this wide (block4's own size at 224 px)."""


def key(photo: str, layer: str, what: str) -> str:
    """The name of one of this chapter's own arrays: ``<photo>/<layer>/<what>``, ``what`` one of ``atlas``,
    ``scale``, ``mean``, ``peak``, ``argmax``, ``unit``, ``unit_scale`` (read only by this chapter's renderer)."""
    return f"{photo}/{layer}/{what}"


def weights_key(layer: str) -> str:
    """This chapter's array of a conv layer's kernel norms: C_out x C_in, the L2 norm of each 3x3 kernel."""
    return f"weights/{layer}"
