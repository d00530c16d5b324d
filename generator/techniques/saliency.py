"""Saliency maps: which pixels would change the class score most?

Three gradient explanations of one class score S_c (the pre-softmax logit):

* **vanilla gradient** (Simonyan et al., 2013): ``max_colour |dS_c/dx|``;
* **SmoothGrad** (Smilkov et al., 2017): the same, averaged over ``n`` copies
  of the input with Gaussian noise of standard deviation ``sigma * (max(x) - min(x))``
  (we average ``|dS_c/dx|`` per colour channel, then take the maximum over
  channels, which is what Captum's ``NoiseTunnel(Saliency)`` computes);
* **guided backpropagation** (Springenberg et al., 2014): the gradient with
  every ReLU's backward pass also dropping negative incoming gradients.

One forward pass per image serves the vanilla gradient, guided
backpropagation and Grad-CAM at every requested layer: the forward graph is
kept, the normal backward pass yields the input gradient *and* the gradients
at the Grad-CAM layers, then a switch flips every ReLU's backward rule to the
guided one and a second backward pass runs over the same graph.  SmoothGrad's
noisy copies go through the network in batches.

Plain Python, on any torchvision CNN and a preprocessed tensor::

    from torchvision.models import resnet18
    from generator.techniques.saliency import saliency, smoothgrad, guided_backprop
    from generator.techniques.grad_cam import grad_cam

    net = resnet18(weights="IMAGENET1K_V1")
    sal = saliency(net, x, target=281)                  # H x W
    cam = grad_cam(net, x, target=281, layer="layer4")  # H x W in [0, 1]

The ``saliency`` technique (the pipeline's unit of work) stores all of these
for one (image, model); ``grad_cam`` and ``cascading_randomisation`` read them.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from generator.techniques import Context, ImageInput, ModelInput, Result, Technique

# The Grad-CAM layers the site shows: the last conv (after its ReLU) of every block.
CAM_LAYERS = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"]
PRIMARY_CAM_LAYER = "block5_conv3"


# --------------------------------------------------------------------------- layers


def _is_vgg16(model: nn.Module) -> bool:
    from torchvision.models import VGG

    return isinstance(model, VGG) and len(model.features) == 31


def _has_vgg16_layout(model: nn.Module) -> bool:
    feats = getattr(model, "features", None)
    return isinstance(feats, nn.Sequential) and len(feats) == 31 and isinstance(getattr(model, "classifier", None), nn.Sequential)


def layer_choices(model: nn.Module) -> list[str]:
    """Every name ``layer=`` accepts for this model: module paths, plus VGG16's literature names."""
    from generator.models import LAYERS

    paths = [name for name, _ in model.named_modules() if name]
    if _has_vgg16_layout(model):
        return [n for n in LAYERS] + paths
    return paths


def resolve_layer(model: nn.Module, layer: str) -> tuple[str, nn.Module]:
    """``(module path, module)`` for a module path ("features.29", "layer4") or a VGG16 name ("block5_conv3").

    Raises a one-line ``ValueError`` naming the valid choices.
    """
    from generator.models import LAYERS

    modules = dict(model.named_modules())
    if isinstance(layer, str) and layer and layer in modules:
        return layer, modules[layer]
    if isinstance(layer, str) and layer in LAYERS:
        if _has_vgg16_layout(model):
            path = LAYERS[layer]
            return path, modules[path]
        raise ValueError(f"layer {layer!r} is a VGG16 layer name, but this {type(model).__name__} is not a VGG16; "
                         f"valid layers: {', '.join(layer_choices(model))}")
    raise ValueError(f"unknown layer {layer!r} for this {type(model).__name__}; "
                     f"valid layers: {', '.join(layer_choices(model))}")


# --------------------------------------------------------------------------- guided ReLU


class _Switch:
    """Shared by every switchable ReLU of one pass: which backward rule they use."""

    def __init__(self) -> None:
        self.guided = False


class _SwitchableReLU(torch.autograd.Function):
    """ReLU whose backward rule is chosen when the backward pass runs.

    Normal: pass the incoming gradient where the output is positive (exactly
    autograd's ReLU rule).  Guided: additionally drop negative incoming
    gradients (Springenberg et al., 2014).
    """

    @staticmethod
    def forward(ctx, x, switch):
        out = torch.relu(x)
        ctx.save_for_backward(out)
        ctx.switch = switch
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        keep = out > 0
        if ctx.switch.guided:
            keep = keep & (grad > 0)
        return torch.where(keep, grad, torch.zeros((), dtype=grad.dtype, device=grad.device)), None


@contextlib.contextmanager
def _prepared(model: nn.Module, channels_last: bool = False) -> Iterator[None]:
    """Eval mode, frozen parameters and out-of-place ReLUs for the duration; all restored afterwards.

    Each module's own ``training`` flag is saved and put back one module at a
    time, never with ``model.train(flag)``: that would recurse into every
    submodule, so a wrapper built in training mode around shared modules (the
    cascade's ``CascadeVGG``) would switch the real models to training mode.

    With ``channels_last`` the 4-D weights are also stored channels-last while the call runs
    (oneDNN's convolutions are faster that way on a CPU), then put back as they were.
    """
    modes = [(m, m.training) for m in model.modules()]
    frozen = [(p, p.requires_grad) for p in model.parameters()]
    relus = [(m, m.inplace) for m in model.modules() if isinstance(m, nn.ReLU)]
    formats = []
    if channels_last:
        for p in model.parameters():
            if p.dim() == 4 and not p.is_contiguous(memory_format=torch.channels_last):
                formats.append((p, p.data))
    try:
        for m, _ in modes:
            m.training = False
        for p, _ in frozen:
            p.requires_grad_(False)
        for m, _ in relus:
            m.inplace = False
        for p, _ in formats:
            p.data = p.data.contiguous(memory_format=torch.channels_last)
        yield
    finally:
        for p, data in formats:
            p.data = data
        for m, flag in relus:
            m.inplace = flag
        for p, flag in frozen:
            p.requires_grad_(flag)
        for m, flag in modes:
            m.training = flag


def _as_batch(x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor of shape (3, H, W) or (1, 3, H, W), got "
                         f"{type(x).__name__}{'' if not isinstance(x, torch.Tensor) else ' ' + str(x.dtype)}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"x must have shape (3, H, W) or (1, 3, H, W), got {tuple(x.shape)}")
    return x


def _check_target(target, n_classes: int) -> int:
    if isinstance(target, torch.Tensor) and target.numel() == 1:
        target = target.item()
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer)):
        raise ValueError(f"target must be a class index (an int); valid classes: 0..{n_classes - 1}")
    if not 0 <= int(target) < n_classes:
        raise ValueError(f"target class {int(target)} is out of range; valid classes: 0..{n_classes - 1}")
    return int(target)


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


# --------------------------------------------------------------------------- engine


@dataclass
class Explanation:
    """Everything one call of :func:`explain` computed for one image and one class.

    Tensors are detached, on the CPU, shaped for a single image:
    ``gradient`` / ``guided`` 3 x H x W (signed), ``smooth`` 3 x H x W
    (mean of |gradient| over the noisy copies), ``cams`` layer -> h x w raw
    Grad-CAM (ReLU of the weighted channel sum, not yet scaled), ``cam_weights``
    layer -> the channel weights alpha_k.
    """

    target: int
    score: float
    gradient: torch.Tensor | None
    guided: torch.Tensor | None = None
    smooth: torch.Tensor | None = None
    cams: dict[str, torch.Tensor] = field(default_factory=dict)
    cam_weights: dict[str, torch.Tensor] = field(default_factory=dict)
    sigma_abs: float | None = None


def smoothgrad_noise(x: torch.Tensor, n: int, sigma: float, seed: int) -> tuple[torch.Tensor, float]:
    """The ``n`` noise images SmoothGrad adds to ``x`` (1 x 3 x H x W) and their standard deviation.

    sigma_abs = sigma * (max(x) - min(x)).  The draw is ``torch.normal(0, sigma_abs)``
    from a CPU generator seeded with ``seed``, in the default dtype: the same
    numbers Captum's NoiseTunnel draws after ``torch.manual_seed(seed)``.
    """
    if n < 1:
        raise ValueError(f"SmoothGrad needs n >= 1 samples, got {n}")
    if not sigma > 0:
        raise ValueError(f"SmoothGrad needs sigma > 0 (a fraction of the input's range, e.g. 0.15), got {sigma}")
    sigma_abs = sigma * float(x.max() - x.min())
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    std = torch.tensor(sigma_abs).repeat((n,) + tuple(x.shape[1:]))
    noise = torch.normal(0.0, std, generator=gen)
    return noise, sigma_abs


def explain(model: nn.Module, x: torch.Tensor, target: int, *, cam_layers: Iterable[str] = (),
            guided: bool = True, smooth_n: int = 0, sigma: float = 0.15, seed: int = 0,
            batch_size: int = 8, input_grad: bool = True, channels_last: bool = False) -> Explanation:
    """All gradient explanations of class ``target`` for one image, sharing the forward pass.

    ``model``: any classifier whose output is the pre-softmax scores.
    ``x``: one preprocessed image, (3, H, W) or (1, 3, H, W).
    ``cam_layers``: module paths or VGG16 names for Grad-CAM.
    ``guided``: also run the guided backward pass.
    ``smooth_n``: number of SmoothGrad samples (0: skip), noise ``sigma`` as a
    fraction of the input's range, drawn from ``seed``, ``batch_size`` at a time.
    ``input_grad``: False when only Grad-CAM is wanted (and not ``guided``): the
    graph then starts at the first Grad-CAM layer, so the backward pass stops
    there instead of running down to the pixels.
    ``channels_last``: run the convolutions channels-last.  About 10-20 % faster
    with oneDNN on a CPU, but float32 results then differ from the contiguous
    layout (and from Captum) in the last bits, which on ill-conditioned pixels
    reaches a few per cent of the map's maximum; so it is off by default.
    """
    x = _as_batch(x)
    layers = [resolve_layer(model, name) for name in cam_layers]
    names = list(cam_layers)
    device = _device_of(model)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    cut = not input_grad and not guided
    if cut and not names:
        raise ValueError("nothing to compute: input_grad=False needs at least one Grad-CAM layer")
    x = x.detach().to(device)
    switch = _Switch()
    with _prepared(model, channels_last):
        captured: dict[str, torch.Tensor] = {}
        handles = []
        try:
            if guided:
                for m in model.modules():
                    if isinstance(m, nn.ReLU):
                        handles.append(m.register_forward_hook(
                            lambda mod, inp, out: _SwitchableReLU.apply(inp[0], switch)))
            for name, (_, module) in zip(names, layers):
                def grab(mod, inp, out, name=name):
                    if not isinstance(out, torch.Tensor) or out.dim() != 4:
                        raise ValueError(f"Grad-CAM layer {name!r} must output an N x C x H x W tensor")
                    if cut and not captured:
                        # the first Grad-CAM layer reached becomes the graph's leaf
                        out = out.detach().requires_grad_(True)
                    captured[name] = out
                    return out
                handles.append(module.register_forward_hook(grab))
            x0 = x.clone().contiguous(memory_format=fmt).requires_grad_(not cut)
            with torch.enable_grad():
                out = model(x0)
                if out.dim() != 2:
                    raise ValueError(f"the model must return class scores of shape (1, classes), got {tuple(out.shape)}")
                target = _check_target(target, out.shape[1])
                score = out[0, target]
                wrt = ([] if cut else [x0]) + [captured[n] for n in names]
                grads = list(torch.autograd.grad(score, wrt, retain_graph=guided))
                if cut:
                    grads.insert(0, None)
                guided_grad = None
                if guided:
                    switch.guided = True
                    (guided_grad,) = torch.autograd.grad(score, x0)
        finally:
            for h in handles:
                h.remove()
        result = Explanation(target=target, score=float(score.detach()),
                             gradient=None if cut else grads[0][0].detach().contiguous().cpu(),
                             guided=None if guided_grad is None else guided_grad[0].detach().contiguous().cpu())
        with torch.no_grad():
            for name, g in zip(names, grads[1:]):
                act = captured[name][0].detach()
                weights = g[0].mean(dim=(1, 2))  # alpha_k = (1/Z) sum_ij dS/dA^k_ij
                cam = torch.relu(torch.einsum("k,khw->hw", weights, act))
                result.cams[name] = cam.contiguous().cpu()
                result.cam_weights[name] = weights.cpu()
        del captured, grads, out, score
        if smooth_n:
            noise, result.sigma_abs = smoothgrad_noise(x, smooth_n, sigma, seed)
            noise = noise.to(device=device, dtype=x.dtype)
            total = torch.zeros_like(x[0])
            with torch.enable_grad():
                for i in range(0, smooth_n, batch_size):
                    xb = (x + noise[i:i + batch_size]).contiguous(memory_format=fmt).requires_grad_(True)
                    (g,) = torch.autograd.grad(model(xb)[:, target].sum(), xb)
                    total += g.abs().sum(0)
            result.smooth = (total / smooth_n).detach().contiguous().cpu()
    return result


# --------------------------------------------------------------------------- public API


def saliency(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    """Vanilla gradient saliency: ``max over colour channels of |dS_target/dx|``, an H x W tensor."""
    return explain(model, x, target, guided=False).gradient.abs().amax(0)


def smoothgrad(model: nn.Module, x: torch.Tensor, target: int, n: int = 25, sigma: float = 0.15,
               seed: int = 0, batch_size: int = 8) -> torch.Tensor:
    """SmoothGrad: max over colour channels of the mean |gradient| over ``n`` noisy copies (H x W).

    The noise's standard deviation is ``sigma * (max(x) - min(x))``; ``seed``
    fixes the draw, so equal arguments give equal maps.
    """
    e = explain(model, x, target, guided=False, smooth_n=n, sigma=sigma, seed=seed, batch_size=batch_size)
    return e.smooth.amax(0)


def guided_backprop(model: nn.Module, x: torch.Tensor, target: int, *, reduce: bool = True) -> torch.Tensor:
    """Guided backpropagation: H x W (max |.| over colour channels), or the signed 3 x H x W gradient with ``reduce=False``."""
    g = explain(model, x, target, guided=True).guided
    return g.abs().amax(0) if reduce else g


def saliency_map(per_channel: torch.Tensor | np.ndarray) -> np.ndarray:
    """3 x H x W gradients to the H x W map the figures show: max |.| over colour channels."""
    return np.abs(np.asarray(per_channel)).max(axis=0)


def source_version(*files: str | Path) -> str:
    """A short hash of source files a technique depends on (goes into its cache key)."""
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- technique


def noise_seed(image: ImageInput, base: int) -> int:
    """SmoothGrad's noise seed: from the photo only, so both models (and every cascade step) see the same noise."""
    digest = hashlib.sha256(f"{base}|{image.sha256}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def compute(ctx: Context, model: ModelInput, image: ImageInput) -> Result:
    from generator.techniques.predictions import target_class

    s = ctx.settings
    target = target_class(ctx, image)
    seed = noise_seed(image, s["noise_seed"])
    e = explain(model.net, image.tensor.to(ctx.device), target, cam_layers=CAM_LAYERS, guided=True,
                smooth_n=s["smoothgrad_n"], sigma=s["sigma"], seed=seed, batch_size=s["batch_size"],
                channels_last=s["channels_last"])
    arrays = {
        "gradient": e.gradient.float().numpy(),
        "guided": e.guided.float().numpy(),
        "smoothgrad": e.smooth.float().numpy(),
    }
    for layer in CAM_LAYERS:
        arrays[f"cam.{layer}"] = e.cams[layer].float().numpy()
        arrays[f"cam_weights.{layer}"] = e.cam_weights[layer].float().numpy()
    from generator.models import CATEGORIES

    return Result(arrays=arrays, records={
        "target": target, "target_label": CATEGORIES[target], "score": e.score,
        "sigma": s["sigma"], "sigma_abs": e.sigma_abs, "n": s["smoothgrad_n"], "seed": seed,
        "batch_size": s["batch_size"], "channels_last": s["channels_last"],
        "input_range": float(image.tensor.max() - image.tensor.min()),
    })


TECHNIQUE = Technique(
    name="saliency",
    title="Saliency maps",
    chapter="saliency.md",
    order=40,
    compute=compute,
    settings={
        "quick": {"smoothgrad_n": 4, "sigma": 0.15, "noise_seed": 0, "batch_size": 4, "clip_percentile": 99.0,
                  "channels_last": False},
        "default": {"smoothgrad_n": 25, "sigma": 0.15, "noise_seed": 0, "batch_size": 5, "clip_percentile": 99.0,
                    "channels_last": True},
        "full": {"smoothgrad_n": 50, "sigma": 0.15, "noise_seed": 0, "batch_size": 10, "clip_percentile": 99.0,
                 "channels_last": True},
    },
    summary="vanilla gradient, SmoothGrad and guided backprop of the trained model's top-1 class (and the Grad-CAM pass)",
)
