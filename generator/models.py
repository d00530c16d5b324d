"""The two VGG16s: trained on ImageNet and untrained (seeded random init).

Layer names follow the literature (and Keras): ``block1_conv1`` ...
``block5_conv3`` are the *rectified* outputs of the conv layers,
``block1_pool`` ... ``block5_pool`` the block outputs, ``fc1``/``fc2`` the
rectified dense layers and ``predictions`` the pre-softmax class scores.

torchvision builds VGG16 with ``ReLU(inplace=True)``; an in-place ReLU
overwrites the conv output a hook has just seen and breaks backward hooks, so
every model here is rebuilt with out-of-place ReLUs (``_no_inplace``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torchvision.models import VGG, vgg16

from generator.checkpoint import CHECKPOINT_NAME, default_checkpoint_path, file_sha256, weights_identity  # noqa: F401
from generator.config import SEED
from generator.lib.determinism import AdaptiveAvgPool2d
from generator.weights import WEIGHTS, WeightsError, WeightsSource, fetch_checkpoint, load_state_dict  # noqa: F401

CATEGORIES: list[str] = list(WEIGHTS.meta["categories"])

# VGG16's layer names (block1_conv1 ... block5_pool, fc1, fc2, predictions) live with the
# layer resolver in generator.lib.layers; they are re-exported here for the site's modules.
from generator.lib.layers import (  # noqa: E402,F401
    BLOCKS,
    CONV_LAYERS,
    DENSE_LAYERS,
    FEATURE_LAYERS,
    LAYERS,
    POOL_LAYERS,
    activations,
    block_of,
    feature_index,
    last_conv,
)


def conv_module(net: VGG, layer: str) -> nn.Conv2d:
    """The Conv2d whose rectified output is ``layer``."""
    return net.features[feature_index(layer) - 1]


# --------------------------------------------------------------------------- the two models


@dataclass(frozen=True)
class ModelSpec:
    """Everything the site says about one of the two VGG16s, in one place."""

    name: str  # "trained" / "untrained": file names, --only style keys, records
    title: str  # table headings
    description: str  # one sentence for the site
    label: str  # plot legends and captions
    colour: str  # plot colour


MODELS: dict[str, ModelSpec] = {
    "trained": ModelSpec(
        "trained",
        "Trained",
        "VGG16 with torchvision's ImageNet-1k weights (IMAGENET1K_V1).",
        "trained (ImageNet)",
        "#1b6ca8",
    ),
    "untrained": ModelSpec(
        "untrained",
        "Untrained",
        f"The same architecture with torchvision's default random initialisation, seed {SEED}.",
        "untrained (random init)",
        "#d1495b",
    ),
}
MODEL_NAMES = tuple(MODELS)

OFFICIAL_PREFIX = CHECKPOINT_NAME.split("-")[1].split(".")[0]
"""torchvision names a checkpoint after the first hex digits of its sha256: vgg16-397923af.pth."""


@dataclass(frozen=True)
class WeightsIdentity:
    """Which trained weights a build used: the checkpoint's sha256 (None before a download) and whether
    it is torchvision's official ImageNet file (its sha256 starts with :data:`OFFICIAL_PREFIX`)."""

    sha256: str | None
    official: bool
    random_like: bool = False  # a stand-in whose biases are all zero: a random initialisation, not trained

    @classmethod
    def of(cls, identity: str) -> WeightsIdentity:
        """From ``WeightsSource.identity()``: a sha256, or ``torchvision:URL`` when the official file
        will be downloaded (torch.hub checks its hash)."""
        if identity.startswith("torchvision:"):
            return cls(None, True)
        return cls(identity, identity.startswith(OFFICIAL_PREFIX))

    def as_dict(self) -> dict:
        return {"sha256": self.sha256, "official": self.official, "expected_prefix": OFFICIAL_PREFIX,
                "random_like": self.random_like}  # fmt: skip


def model_table(weights: WeightsIdentity) -> dict[str, ModelSpec]:
    """:data:`MODELS`, with the trained model's label and description saying so when the weights are a stand-in."""
    if weights.official:
        return MODELS
    short = (weights.sha256 or "")[:12]
    trained = replace(
        MODELS["trained"],
        label="trained (stand-in weights)",
        description=f"VGG16 with stand-in weights (sha256 {short}…), not torchvision's "
        f"ImageNet-1k file ({CHECKPOINT_NAME}).",
    )
    return {**MODELS, "trained": trained}


def build_model(name: str, weights: WeightsSource, device) -> VGG:
    """The VGG16 called ``name``: trained from ``weights``, untrained from the global seed."""
    if name == "trained":
        return build_trained(weights, device)
    if name == "untrained":
        return build_untrained(SEED, device)
    raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")


def model_identity(name: str, weights: WeightsSource) -> str:
    """What a cached result of model ``name`` depends on: the weights' sha256, or the seed and torchvision."""
    import torchvision

    if name == "trained":
        return "trained:" + weights.identity()
    if name == "untrained":
        return f"untrained:seed{SEED}:torchvision{torchvision.__version__}"
    raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")


# --------------------------------------------------------------------------- build


def _no_inplace(net: nn.Module) -> nn.Module:
    for module in net.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return net


def _finish(net: VGG, device: torch.device) -> VGG:
    _no_inplace(net)
    # the same average pooling, with a backward pass that is deterministic on CUDA too
    net.avgpool = AdaptiveAvgPool2d(net.avgpool.output_size)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net.to(device)


def build_untrained(seed: int = SEED, device: torch.device | str = "cpu") -> VGG:
    """VGG16 with torchvision's default initialisation under ``torch.manual_seed(seed)``.

    torchvision draws conv weights from Kaiming-normal (fan_out, ReLU gain),
    dense weights from N(0, 0.01) and sets all biases to zero.
    """
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        net = vgg16(weights=None)
    finally:
        torch.random.set_rng_state(gen_state)
    return _finish(net, torch.device(device))


def build_trained(weights: WeightsSource | Path | None = None, device: torch.device | str = "cpu") -> VGG:
    """VGG16 with ImageNet weights from ``weights`` (a file) or torchvision's cache/download."""
    if not isinstance(weights, WeightsSource):
        weights = WeightsSource(Path(weights) if weights else None, explicit=weights is not None)
    state = load_state_dict(weights.resolve(), explicit=weights.explicit)
    with torch.device("meta"):
        net = vgg16(weights=None, init_weights=False)
    net.load_state_dict(state, assign=True)
    return _finish(net, torch.device(device))
