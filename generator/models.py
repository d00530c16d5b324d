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

import pickle
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn
from torchvision.models import VGG, VGG16_Weights, vgg16

from generator.checkpoint import CHECKPOINT_NAME, default_checkpoint_path, file_sha256, weights_identity  # noqa: F401
from generator.config import SEED
from generator.lib.determinism import AdaptiveAvgPool2d

WEIGHTS = VGG16_Weights.IMAGENET1K_V1
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

    @classmethod
    def of(cls, identity: str) -> WeightsIdentity:
        """From ``WeightsSource.identity()``: a sha256, or ``torchvision:URL`` when the official file
        will be downloaded (torch.hub checks its hash)."""
        if identity.startswith("torchvision:"):
            return cls(None, True)
        return cls(identity, identity.startswith(OFFICIAL_PREFIX))

    def as_dict(self) -> dict:
        return {"sha256": self.sha256, "official": self.official, "expected_prefix": OFFICIAL_PREFIX}


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


class WeightsError(Exception):
    """A weights file that cannot be used; ``str()`` is one line naming the file and the fix."""


def _expected_shapes() -> dict[str, torch.Size]:
    with torch.device("meta"):
        net = vgg16(weights=None, init_weights=False)
    return {k: v.shape for k, v in net.state_dict().items()}


def load_state_dict(path: Path, explicit: bool = True) -> dict[str, torch.Tensor]:
    """Load and check a VGG16 state dict without ever running pickled code.

    ``explicit``: the user passed the file (``--weights``); otherwise it is the
    torch hub cache's download, and the fix is to download it again.
    """
    path = Path(path)
    if explicit:
        fix = (
            f"pass a torchvision VGG16 state dict with --weights (the ImageNet file is {CHECKPOINT_NAME}; "
            f"a model's own is torch.save(model.state_dict(), PATH)), or leave --weights out to use the "
            f"torch hub cache"
        )
    else:
        fix = (
            f"download it again: delete {path} and rerun with internet access, or pass a torchvision "
            f"VGG16 state dict with --weights"
        )
    if path.is_dir():
        raise WeightsError(
            f"{path}: is a folder, not a checkpoint file. Pass the file itself "
            f"(e.g. {path / CHECKPOINT_NAME}) with --weights"
        )
    if not path.is_file():
        raise WeightsError(
            f"{path}: no such file. Pass the path of a torchvision VGG16 checkpoint ({CHECKPOINT_NAME}) with --weights"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(
            f"{path}: refused to load, the file holds Python objects other than "
            f"tensors ({first[:120]}). Use a plain state dict saved with "
            f"torch.save(model.state_dict(), ...)"
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise WeightsError(
            f"{path}: not a readable PyTorch checkpoint (truncated or corrupt: {type(exc).__name__}). Fix: {fix}"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(
            f"{path}: expected a dict of tensors (a VGG16 state dict), got {type(state).__name__}. Fix: {fix}"
        )
    expected = _expected_shapes()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        raise WeightsError(f"{path}: not a torchvision VGG16 state dict: {'; '.join(parts)}. Fix: {fix}")
    bad = [k for k, shape in expected.items() if state[k].shape != shape]
    if bad:
        k = bad[0]
        raise WeightsError(
            f"{path}: wrong shape for {k}: {tuple(state[k].shape)} instead of "
            f"{tuple(expected[k])} ({len(bad)} tensors differ). Fix: {fix}"
        )
    return state


def fetch_checkpoint(progress: bool = True) -> Path:
    """Return the cached ImageNet checkpoint, downloading it through torch.hub if needed."""
    target = default_checkpoint_path()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # torchvision's own URL and hash check; writes to a temp file, then renames.
        torch.hub.download_url_to_file(
            WEIGHTS.url, str(target), hash_prefix=CHECKPOINT_NAME.split("-")[1][:8], progress=progress
        )
    except Exception as exc:  # URLError, HTTPError, hash mismatch, timeouts...
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise WeightsError(
            f"{target}: ImageNet weights are not cached and could not be downloaded ({reason}). "
            f"Fix: put torchvision's {CHECKPOINT_NAME} (about 528 MB) at exactly that path "
            f"(TORCH_HOME moves it), or pass --weights PATH"
        ) from None
    return target


@dataclass
class WeightsSource:
    """Where the trained weights come from, and a content identity for caching."""

    path: Path | None  # None: resolve (and maybe download) on first use
    explicit: bool

    def resolve(self) -> Path:
        if self.path is None:
            self.path = fetch_checkpoint()
        return self.path

    def identity(self) -> str:
        """sha256 of the checkpoint bytes, memoised by (path, size, mtime)."""
        try:
            return weights_identity(self.path, file_sha256)
        except FileNotFoundError as exc:
            raise WeightsError(
                f"{exc.filename}: no such file. Pass the path of a torchvision VGG16 "
                f"checkpoint ({CHECKPOINT_NAME}) with --weights"
            ) from None


def build_trained(weights: WeightsSource | Path | None = None, device: torch.device | str = "cpu") -> VGG:
    """VGG16 with ImageNet weights from ``weights`` (a file) or torchvision's cache/download."""
    if not isinstance(weights, WeightsSource):
        weights = WeightsSource(Path(weights) if weights else None, explicit=weights is not None)
    state = load_state_dict(weights.resolve(), explicit=weights.explicit)
    with torch.device("meta"):
        net = vgg16(weights=None, init_weights=False)
    net.load_state_dict(state, assign=True)
    return _finish(net, torch.device(device))
