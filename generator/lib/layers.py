"""Layers: one resolver, one truncating capture, one "prepared model" context.

A layer is given everywhere as a module of the model, a module path
(``"features.29"``, ``"layer4"`` on a ResNet) or, on a torchvision VGG16, a
name from the literature (and Keras): ``block1_conv1`` ... ``block5_conv3``
are the *rectified* conv outputs, ``block1_pool`` ... ``block5_pool`` the
block outputs, ``fc1``/``fc2`` the rectified dense layers and
``predictions`` the pre-softmax class scores.  :func:`resolve_layer` turns
any of them into one :class:`Layer`.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import nn

# --------------------------------------------------------------------------- VGG16's names

_BLOCKS = [2, 2, 3, 3, 3]


def _layer_table() -> OrderedDict[str, str]:
    table: OrderedDict[str, str] = OrderedDict()
    idx = 0
    for b, n_convs in enumerate(_BLOCKS, start=1):
        for c in range(1, n_convs + 1):
            table[f"block{b}_conv{c}"] = f"features.{idx + 1}"  # conv at idx, ReLU at idx+1
            idx += 2
        table[f"block{b}_pool"] = f"features.{idx}"
        idx += 1
    table["fc1"] = "classifier.1"
    table["fc2"] = "classifier.4"
    table["predictions"] = "classifier.6"
    return table


LAYERS: OrderedDict[str, str] = _layer_table()
"""VGG16 name -> torchvision module path of its output (after the ReLU)."""
CONV_LAYERS = [n for n in LAYERS if "_conv" in n]
POOL_LAYERS = [n for n in LAYERS if n.endswith("_pool")]
FEATURE_LAYERS = [n for n in LAYERS if n.startswith("block")]  # convs and pools, network order
DENSE_LAYERS = ["fc1", "fc2", "predictions"]
BLOCKS = [f"block{b}" for b in range(1, 6)]


def block_of(layer: str) -> str:
    return layer.split("_", 1)[0]


def last_conv(block: str) -> str:
    return [n for n in CONV_LAYERS if n.startswith(block + "_")][-1]


def feature_index(layer: str) -> int:
    """Index into ``net.features`` of a feature layer's output module."""
    path = LAYERS[layer]
    if not path.startswith("features."):
        raise KeyError(f"{layer} is not a feature layer")
    return int(path.split(".")[1])


def is_vgg16(model: nn.Module) -> bool:
    """True for a model with torchvision VGG16's layout (31 feature modules and a classifier)."""
    feats = getattr(model, "features", None)
    return (
        isinstance(feats, nn.Sequential)
        and len(feats) == 31
        and isinstance(getattr(model, "classifier", None), nn.Sequential)
    )


def device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# --------------------------------------------------------------------------- resolving


@dataclass(frozen=True)
class Layer:
    """A resolved layer.

    ``module`` produces the layer's output and ``path`` is its module path
    (``""`` for a module given directly).  ``conv`` is set for VGG16 conv
    names only: the Conv2d whose output ``module`` (a ReLU) rectifies, for
    methods that want to apply the ReLU themselves (``rectify``).
    """

    path: str
    module: nn.Module
    label: str
    conv: nn.Module | None = None

    @property
    def rectify(self) -> bool:
        return self.conv is not None


def layer_choices(model: nn.Module) -> list[str]:
    """Every name a layer argument accepts for this model: VGG16's names (on a VGG16), then module paths."""
    paths = [name for name, _ in model.named_modules() if name]
    return (list(LAYERS) + paths) if is_vgg16(model) else paths


def _choices_text(choices: list[str], limit: int = 60) -> str:
    return ", ".join(choices[:limit]) + (f", … ({len(choices)} in all)" if len(choices) > limit else "")


def resolve_layer(model: nn.Module, layer: str | nn.Module) -> Layer:
    """One :class:`Layer` for a module, a module path or a VGG16 name.

    Raises a one-line ``ValueError`` naming the valid choices (``TypeError``
    for something that is neither a name nor a module).
    """
    if isinstance(layer, nn.Module):
        for path, module in model.named_modules():
            if module is layer:
                return Layer(path, module, type(layer).__name__)
        raise ValueError(f"the module {type(layer).__name__} given as layer is not part of the model")
    if not isinstance(layer, str):
        raise TypeError(f"layer must be a module or a name, got {type(layer).__name__}")
    modules = dict(model.named_modules())
    if layer and layer in modules:
        return Layer(layer, modules[layer], layer)
    if layer in LAYERS:
        if is_vgg16(model):
            path = LAYERS[layer]
            conv = model.features[feature_index(layer) - 1] if "_conv" in layer else None
            return Layer(path, modules[path], layer, conv)
        raise ValueError(
            f"layer {layer!r} is a VGG16 layer name, but this {type(model).__name__} is not a VGG16; "
            f"valid layers: {_choices_text(layer_choices(model))}"
        )
    raise ValueError(
        f"unknown layer {layer!r} for this {type(model).__name__}; valid layers: {_choices_text(layer_choices(model))}"
    )


def conv_layer(model: nn.Module, layer: str | nn.Module) -> nn.Conv2d:
    """The ``nn.Conv2d`` called ``layer`` (``block3_conv2`` on a VGG16, or a module path such as ``features.12``)."""
    try:
        found = resolve_layer(model, layer)
        module = found.conv if found.conv is not None else found.module
    except (ValueError, TypeError):
        module = None
    if isinstance(module, nn.Conv2d):
        return module
    valid = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if is_vgg16(model):
        valid = CONV_LAYERS + valid
    raise ValueError(f"no conv layer {layer!r} in this model; valid layers: {', '.join(valid)}")


# --------------------------------------------------------------------------- capture


class _Stop(Exception):
    """Raised by a forward hook once every wanted layer has run."""


def capture(
    model: nn.Module, modules: Sequence[nn.Module], x: torch.Tensor, *, truncate: bool = True, copy: bool = False
) -> list[torch.Tensor]:
    """Outputs of ``modules`` for input ``x``; with ``truncate`` the pass stops once all of them have run.

    The outputs are the tensors the modules returned (part of the autograd
    graph when grad is enabled), or with ``copy`` detached copies taken as
    each module returns (safe when an in-place op follows).  Hooks are always removed.
    """
    outs: dict[int, torch.Tensor] = {}
    wanted = {id(m) for m in modules}

    def hook(module, args, output):
        outs[id(module)] = output.detach().clone() if copy else output
        if truncate and wanted <= outs.keys():
            raise _Stop

    handles = [m.register_forward_hook(hook) for m in {id(m): m for m in modules}.values()]
    try:
        with contextlib.suppress(_Stop):
            model(x)
    finally:
        for h in handles:
            h.remove()
    missing = [m for m in modules if id(m) not in outs]
    if missing:
        raise ValueError(f"layer {type(missing[0]).__name__} never ran in the model's forward pass")
    return [outs[id(m)] for m in modules]


def activations(model: nn.Module, x: torch.Tensor, layers: Sequence[str | nn.Module]) -> dict:
    """Detached outputs of ``layers`` (names, paths or modules) for the batch ``x``: ``{layer: tensor}``.

    The forward pass stops after the deepest wanted layer.  Outputs are copies,
    so an in-place ReLU after a hooked module cannot overwrite them.
    """
    resolved = [resolve_layer(model, layer) for layer in layers]
    with torch.no_grad():
        outs = capture(model, [r.module for r in resolved], x, copy=True)
    return dict(zip(layers, outs))


# --------------------------------------------------------------------------- prepared model


@contextlib.contextmanager
def prepared(model: nn.Module, channels_last: bool = False) -> Iterator[None]:
    """Eval mode, frozen parameters and out-of-place ReLUs for the duration; all restored afterwards.

    Each module's own ``training`` flag is saved and put back one module at a
    time, never with ``model.train(flag)``: that would recurse into every
    submodule, so a wrapper built in training mode around shared modules
    would switch the real models to training mode.

    With ``channels_last`` the 4-D weights are also stored channels-last while
    the call runs (oneDNN's convolutions are faster that way on a CPU), then
    put back as they were.
    """
    changes: list[tuple[object, str, object]] = [(m, "training", False) for m in model.modules()]
    changes += [(p, "requires_grad", False) for p in model.parameters()]
    changes += [(m, "inplace", False) for m in model.modules() if isinstance(m, nn.ReLU)]
    if channels_last:
        changes += [
            (p, "data", p.data.contiguous(memory_format=torch.channels_last))
            for p in model.parameters()
            if p.dim() == 4 and not p.is_contiguous(memory_format=torch.channels_last)
        ]
    saved = [(obj, attr, getattr(obj, attr)) for obj, attr, _ in changes]
    try:
        for obj, attr, value in changes:
            setattr(obj, attr, value)
        yield
    finally:
        for obj, attr, value in reversed(saved):
            setattr(obj, attr, value)
